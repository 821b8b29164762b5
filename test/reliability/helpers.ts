/**
 * Shared pieces of the reliability suite (test/reliability/*.test.ts): the
 * quick/full switch, a seeded random source, RSS sampling of a process, a
 * real Pebble and a real box process configured for it through the box's own
 * CLI, and readers of what the box serves and shows.
 *
 * Quick by default (CI); `GVOS_FULL=1` runs the full sizes. `GVOS_SEED=<text>`
 * replays a run: every trial and every fuzzed line comes from it, and each
 * test prints the seed it used.
 */
import { execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'node:https';
import { freePort } from '../../src/lib/net.js';
import { PROMPT, TcpClient } from '../e2e/cli-helpers.js';
import {
  anyPortBoxArgs,
  runBoxCommand,
  startBoxProcess,
  type BoxProcess,
  type BoxProcessOptions,
} from '../harness/box-process.js';
import { servedCertificate, startPebble, type Pebble } from '../harness/pebble.js';

/** Full sizes (hundreds of trials, 100k fuzzed lines) instead of the quick ones. */
export const FULL = process.env.GVOS_FULL === '1';
/** The seed of every random choice of the suite. */
export const SEED = process.env.GVOS_SEED ?? 'gvos-reliability-1';
/** Quick or full: `n` in CI, `full` with GVOS_FULL=1; GVOS_<name>=<n> overrides either. */
export function size(name: string, quick: number, full: number): number {
  const v = process.env[`GVOS_${name}`];
  return v && /^\d+$/.test(v) ? Number(v) : FULL ? full : quick;
}

/**
 * One saved box (hostname saved-box, secure-crypto; saved twice, so it has a
 * .bak), made once per test file (a boot costs a second) and removed at the
 * file's teardown. savedBox() gives a fresh copy of its data directory; boot()
 * runs a box process on a copy to completion (for a box that must refuse to
 * start) with any ports.
 */
export async function savedBoxTemplate(t: Test): Promise<{
  savedBox: () => string;
  boot: (dataDir: string, password?: string) => ReturnType<typeof runBoxCommand>;
}> {
  const b = await startBox({ args: ['--hostname', 'saved-box', '--crypto-mode', 'secure-crypto'] });
  await cli(b.ready.ports.cli, ['enable', 'write memory']);
  await b.stop();
  const template = b.dataDir;
  t.teardown(() => rmSync(template, { recursive: true, force: true }));
  return {
    savedBox: () => {
      const dir = mkdtempSync(join(tmpdir(), 'gvos-saved-'));
      cpSync(template, dir, { recursive: true });
      return dir;
    },
    boot: (dataDir, password = 'An0ther-pw') =>
      runBoxCommand(anyPortBoxArgs(dataDir), { GVOS_ADMIN_PASSWORD: password }),
  };
}

/** The password the box processes of the suite are started with (test/harness/box-process.ts). */
export const PASSWORD = 'Adm1n-test-pw';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * A small seeded random source (sfc32 over a SHA-256 of the seed): the same
 * seed gives the same sequence on every machine, so a failing trial replays.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: string) {
    const h = createHash('sha256').update(seed).digest();
    [this.a, this.b, this.c, this.d] = [0, 4, 8, 12].map((i) => h.readUInt32LE(i)) as [
      number,
      number,
      number,
      number,
    ];
    for (let i = 0; i < 16; i++) this.next();
  }

  /** A float in [0, 1). */
  next(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }

  /** An integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** The resident set size of process `pid` in KiB (Linux /proc), or NaN once it is gone. */
function rssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

/** Sample a process's RSS every `everyMs` until stop(); the samples are in KiB. */
export function sampleRss(pid: number, everyMs = 200): { samples: number[]; stop(): number[] } {
  const samples: number[] = [];
  const take = () => {
    const v = rssKiB(pid);
    if (!Number.isNaN(v)) samples.push(v);
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    samples,
    stop: () => {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}

// ---------------------------------------------------------------- a box process and its CLI

/** Start a box process with dates in UTC (the status output is parsed). */
export function startBox(o: BoxProcessOptions = {}): Promise<BoxProcess> {
  return startBoxProcess({ ...o, env: { TZ: 'UTC', ...(o.env ?? {}) } });
}

/**
 * Log in over the TCP CLI, run `lines` one by one (each answered up to its
 * prompt), log out. Resolves with the whole output; rejects if a line gets no
 * prompt within `timeoutMs`.
 */
export async function cli(port: number, lines: readonly string[], timeoutMs = 20_000): Promise<string> {
  const c = await TcpClient.login(port, 'admin', PASSWORD);
  try {
    let out = '';
    for (const l of lines) {
      c.send(l + '\n');
      out += await c.out.until(PROMPT, timeoutMs);
    }
    return out;
  } finally {
    c.destroy();
  }
}

/** `crypto certificate name <name> public-cert pem "<pem>"` and its CA-list entry. */
function trustLines(name: string, pem: string): string[] {
  return [
    `crypto certificate name ${name} public-cert pem "${pem.trim()}"`,
    `crypto certificate ca-list default-ca-list name ${name}`,
  ];
}

// ---------------------------------------------------------------- Pebble

/** The domain every ACME test box issues for: its own address (an IP identifier, no DNS record needed). */
export const DOMAIN = '127.0.0.1';

/** A real Pebble whose VA validates http-01 on `httpPort` (give it to the box as --http-port). */
export interface AcmePeers {
  pebble: Pebble;
  httpPort: number;
  /** Pebble's issuing root (regenerated on each Pebble start), for the box's CA list. */
  rootPem: string;
}

export async function startAcmePeers(): Promise<AcmePeers> {
  const httpPort = await freePort('127.0.0.1');
  const pebble = await startPebble({ httpPort });
  return { pebble, httpPort, rootPem: await pebble.root() };
}

/**
 * Make a running box ready for ACME through its CLI: the mock DNS as name
 * server (saved with write memory, so it survives a restart), Pebble's
 * listener CA (its TLS) and issuing root (the chain check) in the CA list.
 */
export async function configureForAcme(cliPort: number, peers: AcmePeers): Promise<string> {
  return cli(cliPort, [
    'enable',
    'configure terminal',
    `ip name-server ${peers.pebble.dnsServer}`,
    ...trustLines('pebble-listener', peers.pebble.listenerCaPem),
    ...trustLines('pebble-root', peers.rootPem),
    'write memory',
  ]);
}

/** The issue command for the suite's domain against `peers`. */
export function issueLine(peers: AcmePeers, extra = ''): string {
  return `crypto certificate acme issue domain ${DOMAIN} acme-server ${peers.pebble.directoryUrl}${extra}`;
}

// ---------------------------------------------------------------- what the box serves and shows

/** The leaf a fresh TLS connection gets: PEM, serial, validity. */
export async function served(port: number): Promise<{ pem: string; serial: string; cert: X509Certificate }> {
  const s = await servedCertificate('127.0.0.1', port);
  const cert = new X509Certificate(s.chainPem[0]!);
  return { pem: s.chainPem[0]!, serial: s.serial, cert };
}

/** `show crypto acme client info`, parsed: the issued block (absent: no certificate) and the last request. */
export interface AcmeInfo {
  issued?: Record<string, string>;
  request: Record<string, string>;
}

function parseAcmeInfo(text: string): AcmeInfo {
  const [issuedPart = '', requestPart = ''] = text.split('Last Request Status Since Bootup');
  const fields = (s: string) =>
    Object.fromEntries([...s.matchAll(/^ {2}([A-Za-z -]+?) +: (.*)$/gm)].map((m) => [m[1]!, m[2]!.trim()]));
  return {
    ...(issuedPart.includes('No ACME issued certificate.') ? {} : { issued: fields(issuedPart) }),
    request: fields(requestPart),
  };
}

/** `show crypto acme client info` of the box whose TCP CLI is on `cliPort`, parsed. */
export async function acmeInfo(cliPort: number): Promise<AcmeInfo> {
  return parseAcmeInfo(await cli(cliPort, ['show crypto acme client info']));
}

/** Wait until no ACME request is In Progress; resolves the status (rejects after `timeoutMs`). */
export async function acmeSettled(cliPort: number, timeoutMs = 30_000): Promise<AcmeInfo> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = await acmeInfo(cliPort);
    if (info.request['Request-Status'] !== 'In Progress') return info;
    if (Date.now() > deadline) throw new Error('an ACME request stayed In Progress');
    await sleep(50);
  }
}

/** A `YYYY/MM/DD HH:MM:SS` time of a box running with TZ=UTC, in epoch ms. */
export function parseBoxTime(s: string): number {
  const m = /^(\d{4})\/(\d\d)\/(\d\d) (\d\d):(\d\d):(\d\d)$/.exec(s);
  if (!m) throw new Error(`not a box time: "${s}"`);
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  return Date.UTC(y, mo - 1, d, h, mi, se);
}

// ---------------------------------------------------------------- REST

/** An HTTPS answer. */
export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

export interface RestOptions {
  /** HTTP Basic credentials (default admin and the suite's password; null: none). */
  auth?: { user: string; password: string } | null;
  /** JSON-encoded; or `raw` sent as it is. */
  body?: unknown;
  raw?: string | Buffer;
  contentType?: string;
  headers?: Record<string, string>;
  /** The client's own address (a second loopback address is a second source). */
  localAddress?: string;
  timeoutMs?: number;
}

/**
 * One HTTPS request to a box on 127.0.0.1. The box's certificate is not
 * verified here: these tests look at HTTP behaviour; trust is tested with
 * openssl in tls.test.ts and by the ACME suites.
 */
export function rest(port: number, method: string, path: string, o: RestOptions = {}): Promise<Reply> {
  const auth = o.auth === undefined ? { user: 'admin', password: PASSWORD } : o.auth;
  const payload = o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
  const headers: Record<string, string> = {
    ...(auth
      ? { Authorization: 'Basic ' + Buffer.from(`${auth.user}:${auth.password}`).toString('base64') }
      : {}),
    // Content-Length always: Node sends a DELETE's body without framing otherwise.
    ...(payload !== undefined
      ? {
          'Content-Type': o.contentType ?? 'application/json',
          'Content-Length': String(Buffer.byteLength(payload)),
        }
      : {}),
    ...(o.headers ?? {}),
  };
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers,
        agent: false,
        rejectUnauthorized: false,
        timeout: o.timeoutMs ?? 10_000,
        ...(o.localAddress ? { localAddress: o.localAddress } : {}),
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        // A server-sent-event stream never ends: its answer is what came up to the first event.
        const stream = String(res.headers['content-type'] ?? '').startsWith('text/event-stream');
        res.on('data', (d: string) => {
          text += d;
          if (stream && /^data:.*\n\n/m.test(text)) {
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text });
            req.destroy();
          }
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () =>
      req.destroy(new Error(`${method} ${path}: no answer within ${o.timeoutMs ?? 10_000} ms`)),
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Run `cmd` with `args`, its output ignored: true when it exited 0 (a probe of what this machine permits). */
export function tryRun(cmd: string, args: string[]): boolean {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * What the storage tests may do to a data directory here, probed once on a
 * scratch directory: mount a small tmpfs (as root where mount is permitted),
 * else make it immutable with chattr +i.
 */
export function directoryControls(): { canMount: boolean; canChattr: boolean } {
  const probe = mkdtempSync(join(tmpdir(), 'gvos-mount-probe-'));
  const canMount =
    tryRun('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe]) && tryRun('umount', [probe]);
  const canChattr = !canMount && tryRun('chattr', ['+i', probe]) && tryRun('chattr', ['-i', probe]);
  rmSync(probe, { recursive: true, force: true });
  return { canMount, canChattr };
}

/**
 * A start refused for the corrupt state file `file`, whose bytes were `bad`:
 * exit 1, no ready line, one line (log lines aside) naming the file and the
 * copy kept, that copy the bad bytes, and the bad file left in place.
 * Returns the line, for what the caller checks besides.
 */
export function checkCorruptRefusal(
  t: Test,
  r: { code: number | null; stdout: string; stderr: string },
  file: string,
  bad: Buffer,
): string {
  t.equal(r.code, 1, 'exit code 1');
  t.equal(r.stdout, '', 'no ready line');
  const lines = r.stderr
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('{'));
  t.equal(lines.length, 1, 'one line');
  const line = lines[0] ?? '';
  t.match(line, `state file ${file} is corrupt`, 'naming the file');
  t.match(line, `a copy was kept as ${file}.corrupt`);
  t.same(readFileSync(file + '.corrupt'), bad, 'the copy is the bad file');
  t.same(readFileSync(file), bad, 'the bad file stays in place');
  return line;
}
