/**
 * The client side of a running lab: find it from its state file, and call
 * its control plane (node:http, bearer token from the state file). Used by
 * the `gvos-sim lab` verbs other than `up`.
 *
 * node:http rather than fetch: fetch loads undici (its JavaScript and its
 * WebAssembly HTTP parser) at the first call, a cost every verb paid before
 * doing anything; node:http's parser is built into Node. One connection per
 * call (no agent): a verb makes one or two calls and exits.
 */
import { request, type IncomingMessage } from 'node:http';
import { once } from 'node:events';
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

/** The plane's URL and token, as the state file has them. */
type PlaneAddress = Pick<LabStateFile, 'controlPlane'>;

/**
 * Send one request; resolves the response once its headers arrived. Rejects
 * with one line naming the URL when the plane does not answer (or with the
 * abort error when `signal` aborted it).
 */
function send(
  state: PlaneAddress,
  method: string,
  path: string,
  o: { body?: unknown; accept?: string; signal?: AbortSignal } = {},
): Promise<IncomingMessage> {
  const base = state.controlPlane.url;
  const data = o.body === undefined ? undefined : JSON.stringify(o.body);
  return new Promise((resolveResponse, reject) => {
    const req = request(`${base}${path}`, {
      method,
      agent: false,
      headers: {
        authorization: `Bearer ${state.controlPlane.token}`,
        ...(o.accept ? { accept: o.accept } : {}),
        ...(data === undefined
          ? {}
          : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) }),
      },
      ...(o.signal ? { signal: o.signal } : {}),
    });
    req.once('response', resolveResponse);
    req.once('error', (err) =>
      reject(
        o.signal?.aborted
          ? err
          : new Error(`the lab's control plane at ${base} did not answer: ${err.message}`),
      ),
    );
    req.end(data);
  });
}

/** The whole body as text. */
async function readText(res: IncomingMessage): Promise<string> {
  res.setEncoding('utf8');
  let text = '';
  for await (const chunk of res) text += chunk as string;
  return text;
}

const isOk = (res: IncomingMessage) => (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300;

/** The error of a refused request: the plane's one-line reason. */
async function refusal(res: IncomingMessage): Promise<Error> {
  const text = await readText(res);
  const type = res.headers['content-type'] ?? '';
  let parsed: unknown = text;
  if (type.includes('json') && text)
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON after all: the text is the reason.
    }
  return new Error(errorText(res.statusCode ?? 0, parsed));
}

/**
 * One control-plane call. Resolves the parsed JSON body (text for other
 * types); for an NDJSON answer calls `onLine` with each parsed line and
 * resolves the last one. Rejects with the plane's one-line error, or with
 * one line naming the URL when the plane does not answer.
 */
export async function callPlane(
  state: PlaneAddress,
  method: string,
  path: string,
  body?: unknown,
  onLine?: (line: unknown) => void,
): Promise<unknown> {
  const res = await send(state, method, path, body === undefined ? {} : { body });
  if (!isOk(res)) throw await refusal(res);
  const type = res.headers['content-type'] ?? '';
  if (type.includes('ndjson') && onLine) {
    let last: unknown;
    let buffered = '';
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
    res.setEncoding('utf8');
    for await (const chunk of res) take(chunk as string);
    take('\n');
    return last;
  }
  const text = await readText(res);
  return type.includes('json') && text ? (JSON.parse(text) as unknown) : text;
}

/**
 * GET `path` and copy the answer's body to `out` as it arrives, unparsed
 * (`lab status` prints the table the plane rendered, `--json` the plane's
 * JSON as sent: a 10,000-box answer is neither parsed nor rebuilt here).
 * `out` may be a function that opens the stream: called only once the plane
 * accepted. Rejects with the plane's one-line error for a refusal.
 */
export async function copyFromPlane(
  state: PlaneAddress,
  path: string,
  out: NodeJS.WritableStream | (() => NodeJS.WritableStream),
): Promise<void> {
  const res = await send(state, 'GET', path);
  if (!isOk(res)) throw await refusal(res);
  const to = typeof out === 'function' ? out() : out;
  // A failed write (a full disk, a closed pipe) ends the copy and is the answer.
  let failed: Error | undefined;
  const onError = (err: Error) => {
    failed ??= err;
    res.destroy();
  };
  to.on('error', onError);
  try {
    for await (const chunk of res) if (!to.write(chunk as Buffer)) await once(to, 'drain');
  } catch (err) {
    failed ??= err as Error;
  } finally {
    to.off('error', onError);
  }
  if (failed) throw failed;
}

/**
 * Follow the lab's event stream (GET /v1/events as server-sent events) from
 * after `since`, calling `onEvent` with each parsed event; resolves when the
 * lab closes the stream (it went down) or `signal` aborts.
 */
export async function followEvents(
  state: PlaneAddress,
  since: number,
  onEvent: (e: LabEvent) => void,
  signal?: AbortSignal,
): Promise<void> {
  let res: IncomingMessage;
  try {
    res = await send(state, 'GET', `/v1/events?since=${since}`, {
      accept: 'text/event-stream',
      ...(signal ? { signal } : {}),
    });
  } catch (err) {
    if (signal?.aborted) return;
    throw err;
  }
  if (!isOk(res)) throw await refusal(res);
  res.setEncoding('utf8');
  let buffered = '';
  try {
    for await (const chunk of res) {
      buffered += chunk as string;
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
    // The lab went down mid-stream (its end closed the connection) or the user stopped following.
    if (signal?.aborted) return;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE') return;
    throw err;
  }
}
