/**
 * CPU breakdown of a piece of work in this process, from V8's sampling
 * profiler (node:inspector, the same data as node --cpu-prof): each sample
 * is charged to the innermost frame on its stack that matches a category
 * (so the state file's code counts as such even when the host calls it),
 * and what matches none to the nearest caller that does.
 * Async functions count with every synchronous slice they run (V8 shows a
 * resumed async function under its own name).
 */
import { Session } from 'node:inspector/promises';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';

/** A category: a name and what frames belong to it (function name or script URL). */
export interface Category {
  name: string;
  match: RegExp;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** ms of main-thread CPU per category, plus 'garbage collection', 'other', the profiler's own work and the idle time. */
export type Breakdown = Record<string, number>;

/** Run `fn` under the profiler; resolves with its result and the breakdown. */
export async function profiled<T>(
  categories: Category[],
  fn: () => Promise<T>,
): Promise<{ result: T; breakdown: Breakdown }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  let profile: Profile;
  try {
    const result = await fn();
    ({ profile } = (await session.post('Profiler.stop')) as unknown as { profile: Profile });
    return { result, breakdown: breakdown(profile, categories) };
  } finally {
    session.disconnect();
  }
}

function breakdown(p: Profile, categories: Category[]): Breakdown {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // The category of a node: its own match, else the nearest caller's (innermost wins).
  const cat = new Map<number, string>();
  const categoryOf = (id: number): string => {
    const known = cat.get(id);
    if (known !== undefined) return known;
    const f = byId.get(id)!.callFrame;
    const own = categories.find((c) => c.match.test(f.functionName) || c.match.test(f.url))?.name;
    const special =
      f.functionName === '(garbage collector)'
        ? 'garbage collection'
        : f.functionName === '(idle)'
          ? 'idle'
          : f.functionName === 'dispatch' && f.url === ''
            ? 'profiler (inspector)'
            : undefined;
    const up = parent.get(id);
    const v = own ?? special ?? (up === undefined ? '' : categoryOf(up));
    cat.set(id, v);
    return v;
  };
  const out: Breakdown = {};
  for (let i = 0; i < p.samples.length; i++) {
    const k = categoryOf(p.samples[i]!) || 'other';
    out[k] = (out[k] ?? 0) + (p.timeDeltas[i] ?? 0) / 1000;
  }
  for (const k of Object.keys(out)) out[k] = Math.round(out[k]!);
  return out;
}

/** A full garbage collection, so that resident-memory readings are comparable (V8 flag set at runtime). */
export function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
}
