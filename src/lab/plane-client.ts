/**
 * The client side of a running lab: find it from its state file, and call
 * its control plane (fetch, bearer token from the state file). Used by the
 * `gvos-sim lab` verbs other than `up`.
 */
import { join, resolve } from 'node:path';
import type { LabStateFile } from './lab.js';
import type { LabEvent } from './lab-events.js';
import { labNames, pidAlive, readStateFile } from './lab-state.js';
import { LabUsageError } from './lab-args.js';
import { registeredLabs } from './lab-registry.js';

/** Where the lab a command means lives: its labs directory and its name. */
export interface LabLocation {
  dir: string;
  name: string;
}

/**
 * Find the lab a command means. With `--labs-dir` (or $GVOS_SIM_LABS_DIR):
 * the lab named (or the only one) in that directory, as before. Without:
 * the labs of the working directory's default labs directory and the
 * running labs of the per-user registry (lab-registry.ts), so a lab is
 * found from any directory; `--name` picks one (the working directory's
 * first when two labs share the name), else there must be exactly one.
 */
export async function locateLab(
  o: { labsDir: string; labsDirGiven: boolean; name?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
  hint = '',
): Promise<LabLocation> {
  const here = resolve(o.labsDir);
  if (o.labsDirGiven) return { dir: here, name: await chooseLab(here, o.name, hint) };
  const found: LabLocation[] = (await labNames(here)).map((name) => ({ dir: here, name }));
  for (const r of await registeredLabs(env))
    if (!found.some((f) => f.name === r.name && f.dir === r.labsDir))
      found.push({ dir: r.labsDir, name: r.name });
  const matching = o.name ? found.filter((f) => f.name === o.name) : found;
  if (matching.length === 1 || (o.name && matching.length > 1)) return matching[0]!;
  if (o.name) return { dir: here, name: o.name };
  if (matching.length === 0)
    throw new Error(`no lab is running (none in ${here}, none registered for this user)${hint}`);
  throw new LabUsageError(
    `several labs run (${matching.map((m) => `${m.name} in ${m.dir}`).join(', ')}); choose one with --name`,
  );
}

/** The name of the lab to use: `name` when given, else the only one with state in `dir`. */
async function chooseLab(dir: string, name: string | undefined, hint = ''): Promise<string> {
  if (name) return name;
  const names = await labNames(dir);
  if (names.length === 0) throw new Error(`no lab is running here (${dir})${hint}`);
  if (names.length > 1)
    throw new LabUsageError(`several labs run here (${names.join(', ')}); choose one with --name`);
  return names[0]!;
}

/**
 * The state of a running lab whose control plane answers requests; rejects
 * with one line when there is none, it is still starting, or its process is
 * gone.
 */
export async function runningLab(where: LabLocation): Promise<LabStateFile> {
  const { dir, name: chosen } = where;
  const state = await readStateFile(dir, chosen);
  if (!state) throw new Error(`lab ${chosen} is not running (no state in ${join(dir, chosen)})`);
  if (!pidAlive(state.pid))
    throw new Error(
      `lab ${chosen} is not running (its process ${state.pid} is gone); "gvos-sim lab down --name ${chosen}" cleans up after it`,
    );
  if (!state.controlPlane.url) throw new Error(`lab ${chosen} is still starting; try again in a moment`);
  return state;
}

/** The one-line message of an error answer: problem+json `detail`/`title`, or the older `{error}`. */
function errorText(status: number, parsed: unknown): string {
  if (parsed && typeof parsed === 'object') {
    const p = parsed as { detail?: unknown; title?: unknown; error?: unknown };
    for (const v of [p.detail, p.error, p.title]) if (typeof v === 'string' && v) return v;
  }
  return typeof parsed === 'string' && parsed.trim() ? parsed.trim().split('\n')[0]! : `HTTP ${status}`;
}

/**
 * One control-plane call. Resolves the parsed JSON body (text for other
 * types); for an NDJSON answer calls `onLine` with each parsed line and
 * resolves the last one. Rejects with the plane's one-line error, or with
 * one line naming the URL when the plane does not answer.
 */
export async function callPlane(
  state: Pick<LabStateFile, 'controlPlane'>,
  method: string,
  path: string,
  body?: unknown,
  onLine?: (line: unknown) => void,
): Promise<unknown> {
  const url = `${state.controlPlane.url}${path}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${state.controlPlane.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
    throw new Error(`the lab's control plane at ${state.controlPlane.url} did not answer: ${cause}`);
  }
  const type = res.headers.get('content-type') ?? '';
  if (type.includes('ndjson') && onLine && res.ok && res.body) {
    let last: unknown;
    let buffered = '';
    const decoder = new TextDecoder();
    const take = (text: string) => {
      buffered += text;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (!line) continue;
        last = JSON.parse(line) as unknown;
        onLine(last);
      }
    };
    for await (const chunk of res.body) take(decoder.decode(chunk as Uint8Array, { stream: true }));
    take(decoder.decode() + '\n');
    return last;
  }
  const text = await res.text();
  const parsed: unknown = type.includes('json') && text ? JSON.parse(text) : text;
  if (!res.ok) throw new Error(errorText(res.status, parsed));
  return parsed;
}

/**
 * Follow the lab's event stream (GET /v1/events as server-sent events) from
 * after `since`, calling `onEvent` with each parsed event; resolves when the
 * lab closes the stream (it went down) or `signal` aborts.
 */
export async function followEvents(
  state: Pick<LabStateFile, 'controlPlane'>,
  since: number,
  onEvent: (e: LabEvent) => void,
  signal?: AbortSignal,
): Promise<void> {
  let res: Response;
  try {
    res = await fetch(`${state.controlPlane.url}/v1/events?since=${since}`, {
      headers: { authorization: `Bearer ${state.controlPlane.token}`, accept: 'text/event-stream' },
      ...(signal ? { signal } : {}),
    });
  } catch (err) {
    if (signal?.aborted) return;
    const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
    throw new Error(`the lab's control plane at ${state.controlPlane.url} did not answer: ${cause}`);
  }
  if (!res.ok || !res.body) throw new Error(errorText(res.status, await res.text()));
  const decoder = new TextDecoder();
  let buffered = '';
  try {
    for await (const chunk of res.body) {
      buffered += decoder.decode(chunk as Uint8Array, { stream: true });
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const frame = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const data = frame
          .split('\n')
          .filter((l) => l.startsWith('data: '))
          .map((l) => l.slice(6))
          .join('\n');
        if (data) onEvent(JSON.parse(data) as LabEvent);
      }
    }
  } catch (err) {
    // The lab went down mid-stream (the socket closed) or the user stopped following.
    if (signal?.aborted) return;
    if ((err as { cause?: { code?: string } }).cause?.code === 'UND_ERR_SOCKET') return;
    throw err;
  }
}
