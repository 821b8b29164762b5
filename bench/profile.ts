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

export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

/** The part of a V8 CPU profile (Profiler.stop, --cpu-prof) the breakdown reads. */
export interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** ms of main-thread CPU per category, plus 'garbage collection', 'other', the profiler's own work and the idle time. */
export type Breakdown = Record<string, number>;

/** The sampling profiler running on this process's main thread, from startProfiler() until stop(). */
export interface RunningProfile {
  /** Stop sampling; resolves with the main thread's ms per category (see Breakdown). */
  stop(categories: Category[]): Promise<Breakdown>;
}

/**
 * Start V8's sampling profiler (every 500 µs) on this process's main
 * thread; for a window that begins and ends in callbacks (the lab's issue
 * phase) rather than around one function (profiled()).
 */
export async function startProfiler(): Promise<RunningProfile> {
  const session = new Session();
  session.connect();
  try {
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 500 });
    await session.post('Profiler.start');
  } catch (e) {
    session.disconnect();
    throw e;
  }
  return {
    async stop(categories) {
      try {
        const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: Profile };
        return breakdown(profile, categories);
      } finally {
        session.disconnect();
      }
    },
  };
}

/** Run `fn` under the profiler; resolves with its result and the breakdown. */
export async function profiled<T>(
  categories: Category[],
  fn: () => Promise<T>,
): Promise<{ result: T; breakdown: Breakdown }> {
  const running = await startProfiler();
  let result: T;
  try {
    result = await fn();
  } catch (e) {
    await running.stop([]).catch(() => undefined);
    throw e;
  }
  return { result, breakdown: await running.stop(categories) };
}

/** Samples that are not the main thread's own work: waiting for events, and the profiler's own inspector dispatch. */
const NOT_WORK = new Set(['idle', 'profiler (inspector)']);

/**
 * A breakdown as CPU ms per unit of work: the busy samples' shares (wall
 * time: V8 charges a sample to the frame the thread was in, also while the
 * kernel had it descheduled) scaled to `mainThreadCpuMs`, the main thread's
 * measured CPU (/proc) over the same window, divided by `units`. So the
 * shares are the profiler's and the total is the kernel's.
 */
export function perUnitCpuMs(b: Breakdown, mainThreadCpuMs: number, units: number): Record<string, number> {
  const busy = Object.entries(b).filter(([k]) => !NOT_WORK.has(k));
  const sampled = busy.reduce((t, [, v]) => t + v, 0);
  const scale = sampled > 0 ? mainThreadCpuMs / sampled / Math.max(units, 1) : 0;
  return Object.fromEntries(
    busy.sort((x, y) => y[1] - x[1]).map(([k, v]) => [k, Math.round(v * scale * 100) / 100]),
  );
}

/**
 * Main-thread ms per category of a profile (exported for its test).
 */
export function breakdown(p: Profile, categories: Category[]): Breakdown {
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

/**
 * Where a certificate's main-thread CPU goes (the lab's, bench/lab-regression;
 * the agent alone's, bench/fleet-issuance), by the code that ran it
 * (profile.ts: a sample goes to the innermost frame that matches, so Node's
 * own frames and native calls count for the subsystem that called them:
 * the TLS write of a request for the ACME requests, the ECDSA signature for
 * the JWS). Disjoint: a frame matches at most one.
 */
export const CERT_CPU_CATEGORIES: Category[] = [
  {
    name: 'ACME requests: HTTP/1.1 client, TLS, gate',
    match: /dist\/src\/acme\/(transport|http1)\.js|dist\/src\/lib\/gate\.js/,
  },
  { name: 'DNS lookups', match: /node:internal\/dns\/|^node:dns$/ },
  {
    name: 'ACME protocol: RFC 8555 session, JWS (ES256)',
    match: /dist\/src\/acme\/(session|jws)\.js|node_modules\/acme-client\//,
  },
  { name: 'chain check (verify.ts, less X.509 parsing)', match: /dist\/src\/acme\/verify\.js/ },
  { name: 'ACME agent: order flow', match: /dist\/src\/acme\// },
  { name: 'key, CSR, X.509 parsing (pki)', match: /dist\/src\/pki\// },
  { name: 'state writes (store)', match: /dist\/src\/store\/|node_modules\/lowdb\// },
  { name: 'box: install, commit, events', match: /dist\/src\/device\/|dist\/src\/lib\/emitter\.js/ },
  // node:_http_*: the boxes' own HTTP servers (the ACME client has its own parser, src/acme/http1.ts).
  { name: 'http-01 answers, web server', match: /dist\/src\/web\/|^node:_http_|node_modules\/koa/ },
  {
    name: 'SNMP traps (notifier, encoding, UDP send)',
    match: /dist\/src\/snmp\/|node_modules\/net-snmp\/|node_modules\/asn1-ber\/|^node:dgram$/,
  },
  { name: 'lab: listeners, progress, lab.log', match: /dist\/src\/lab\/|dist\/src\/lib\/logger\.js/ },
  { name: 'benchmark harness', match: /dist\/bench\// },
];

/** A full garbage collection, so that resident-memory readings are comparable (V8 flag set at runtime). */
export function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
}
