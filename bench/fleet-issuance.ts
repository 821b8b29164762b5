/**
 * Fleet issuance: N boxes in this process issue certificates at once from
 * one Pebble (PEBBLE_VA_NOSLEEP=1, no nonce rejection, no authz reuse). Each
 * box listens on its own loopback address with its http port = Pebble's VA
 * port, so every http-01 validation really goes through the box's web
 * server; pebble-challtestsrv resolves <run>-<box-id>.fleet.test to the
 * box's address. The path is the operator's: box.acmeIssue() (what `crypto
 * certificate acme issue` calls) -> agent -> Pebble -> install -> hot swap;
 * latency is measured until a new TLS connection to the box's https port is
 * served the new serial (probed from a child process). Every box is looked
 * at once before the window (firstLook), as a manager would.
 *
 * Reference in the same run: lego (Debian package) issuing the same number
 * of certificates with the same parallelism, one process per certificate
 * with its own --path (so its own account, as every box has its own),
 * http-01 through --http.webroot and one Node static server on Pebble's VA
 * port (peers.md §3). Every measured run, boxes or lego, gets a Pebble of
 * its own, same binary and configuration (see pebbleRun for why).
 *
 * CPU per certificate: user+system seconds from /proc of this process, of
 * Pebble, and (for lego) of the lego processes, over the issuance window.
 * A last, profiled run of 100 boxes (not in the table) says where the
 * simulator's CPU goes.
 */
import { execFileSync, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyAlgorithm } from '../src/device/key-algorithms.js';
import { freePort, listenOn } from '../src/lib/net.js';
import { startPebble, type Pebble } from '../test/harness/pebble.js';
import {
  BENCH_ACTOR,
  bootFleet,
  childPids,
  ServedProbe,
  threadCpuMs,
  threadSplitPerCertMs,
  watchPebble,
  type Fleet,
} from './fleet.js';
import { CERT_CPU_CATEGORIES, profiled } from './profile.js';
import { timelineOf, type Timeline } from './runs.js';
import {
  addReason,
  gcIfExposed,
  gcWatch,
  type GcFigures,
  heapState,
  type HeapState,
  machineCpuMs,
  othersCores,
  percentile,
  procCpuSeconds,
  procCpuSplit,
  mark,
  table,
  writeResult,
  type Target,
} from './lib.js';

/** One issuance run's figures. */
export interface RunFigures {
  client: string;
  keyAlgorithm: KeyAlgorithm;
  n: number;
  parallelism: number;
  ok: number;
  failed: number;
  seconds: number;
  certsPerSec: number;
  p50Ms: number;
  p95Ms: number;
  /** CPU seconds per certificate of the client side (this process for boxes; the lego processes for lego). */
  clientCpuPerCertMs: number;
  pebbleCpuPerCertMs: number;
  errors: string[];
  /** Failures by reason (digits masked), and when the first one came (s after the start). */
  failureReasons?: Record<string, number>;
  firstFailureAfterS?: number;
  /** When the failures came (s after the start): first, median, last. */
  failuresAfterS?: { first: number; median: number; last: number };
  note?: string;
  /** Attempts lost to a wedged Pebble (see pebbleRun). */
  pebbleWedges?: number;
  /** The client's CPU per certificate, user and system apart (boxes only). */
  clientCpuSplitPerCertMs?: { user: number; sys: number; mainThread: number; otherThreads: number };
  /** Main-thread GC pauses in the window, and whether a full GC ran just before it (boxes only). */
  gc?: GcFigures & { fullGcFirst: boolean };
  /** When the boxes completed (boxes only): the start, the steady rate, the tail. */
  timeline?: Timeline | null;
  /** This process's heap at the window's start and end (boxes only): the new space's size is what a window inherits. */
  heap?: { start: HeapState; end: HeapState };
  /** Cores' worth of CPU the rest of the machine used in the window (not this process, not Pebble), and steal (boxes only). */
  machine?: { otherProcesses: number; steal: number };
}

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/** Pebble's CPU seconds, NaN once it is gone (stopped by watchPebble). */
function pebbleCpu(pid: number): number {
  try {
    return procCpuSeconds(pid);
  } catch {
    return NaN;
  }
}

/** First, median and last of failure times (ms after the start), in seconds. */
function failureTimes(ms: number[]): { first: number; median: number; last: number } {
  const s = [...ms].sort((a, b) => a - b);
  const sec = (x: number) => round(x / 1000, 2);
  return { first: sec(s[0]!), median: sec(s[Math.floor((s.length - 1) / 2)]!), last: sec(s[s.length - 1]!) };
}

/** Per box and step: a run never hangs; a box past it counts as failed with what it was doing. */
const DEADLINE_MS = 180_000;

function withDeadline<T>(p: Promise<T>, what: () => string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`${what()} after ${DEADLINE_MS / 1000} s`)), DEADLINE_MS);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}

/** /proc/self/stat cutime+cstime: CPU of children that have been waited for (the lego processes). */
function childrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / 100;
}

/**
 * Point boxes `ids` at `pebble`: its listener CA and issuing root in the CA
 * list (names tagged per run, so a new Pebble can be added later), its DNS as
 * the only name server, an A record for each box's name; then write memory.
 */
export async function configureFleet(
  fleet: Fleet,
  pebble: Pebble,
  rootPem: string,
  tag: string,
  ids = fleet.ids,
): Promise<void> {
  await Promise.all(
    ids.map(async (id) => {
      const box = fleet.box(id);
      for (const [name, pem] of [
        [`pebble-ca-${tag}`, pebble.listenerCaPem],
        [`pebble-root-${tag}`, rootPem],
      ] as const) {
        await box.addPublicCertificate(BENCH_ACTOR, name, pem);
        await box.addCaListEntry(BENCH_ACTOR, name);
      }
      for (const ns of box.config.nameServers) box.removeNameServer(BENCH_ACTOR, ns);
      box.addNameServer(BENCH_ACTOR, pebble.dnsServer);
      await box.writeMemory(BENCH_ACTOR);
      await pebble.addA(domainOf(tag, id), fleet.address(id));
    }),
  );
}

/** How a run issues: how many boxes at a time, and whether a box counts only once it serves its certificate. */
interface IssueMode {
  /** Boxes issuing at once (default: all of them). */
  parallel?: number;
  /** Wait until each box serves its new certificate (default true); false: until its request succeeded, as the lab counts. */
  probeServed?: boolean;
  /** With `node --expose-gc`: a full GC just before the window (the lab regression does so before each of its windows). */
  gcFirst?: boolean;
}

/** Every box issues (all at once unless `mode.parallel` says otherwise); resolves with the run's figures. */
async function issueAll(
  fleet: Fleet,
  pebble: Pebble,
  pebblePid: number,
  probe: ServedProbe,
  keyAlgorithm: KeyAlgorithm,
  httpsPort: number,
  tag: string,
  ids = fleet.ids,
  mode: IssueMode = {},
): Promise<RunFigures> {
  const latencies: number[] = [];
  const doneMs: number[] = [];
  const failedAtMs: number[] = [];
  const errors: string[] = [];
  const reasons: Record<string, number> = {};
  let firstFailureAt: number | undefined;
  // The agent-alone reference (mode.gcFirst): a full GC first, as before the lab's windows (its boot's garbage is not the issue's).
  const fullGcFirst = mode.gcFirst === true && gcIfExposed();
  const heap0 = heapState();
  const gc = gcWatch();
  const threads0 = threadCpuMs();
  const cpu0 = procCpuSplit('self');
  const peb0 = pebbleCpu(pebblePid);
  const machine0 = machineCpuMs();
  const t0 = performance.now();
  mark(`alone-${ids.length}`);
  const queue = [...ids];
  const parallel = Math.min(mode.parallel ?? ids.length, ids.length);
  const worker = async () => {
    for (let id = queue.shift(); id !== undefined; id = queue.shift()) await issueOne(id);
  };
  const issueOne = async (id: number) => {
    {
      const box = fleet.box(id);
      const finished = new Promise<{ status: string; reason?: string | null }>((resolve) => {
        const off = box.events.on('acme-request-finished', (e) => {
          off();
          resolve(e.request);
        });
      });
      const start = performance.now();
      try {
        await box.acmeIssue(BENCH_ACTOR, {
          domain: domainOf(tag, id),
          directoryUrl: pebble.directoryUrl,
          keyAlgorithm,
        });
        const r = await withDeadline(
          finished,
          () => `no result (status ${JSON.stringify(box.acmeState().lastRequest)})`,
        );
        if (r.status !== 'Success') throw new Error(`${r.status}: ${r.reason ?? ''}`);
        if (mode.probeServed !== false)
          await withDeadline(
            probe.served(fleet.address(id), httpsPort, box.acmeState().issued!.serial),
            () => 'not served',
          );
        latencies.push(performance.now() - start);
        doneMs.push(performance.now() - t0);
      } catch (e) {
        const msg = (e as Error).message;
        if (errors.length < 5) errors.push(`box ${id}: ${msg}`);
        firstFailureAt ??= performance.now();
        failedAtMs.push(performance.now() - t0);
        addReason(reasons, msg, 240);
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  const seconds = (performance.now() - t0) / 1000;
  mark(`alone-done-${ids.length}`);
  const ok = latencies.length;
  const cpu1 = procCpuSplit('self');
  const threads1 = threadCpuMs();
  const cpu = cpu1.user - cpu0.user + cpu1.sys - cpu0.sys;
  const peb = pebbleCpu(pebblePid) - peb0;
  const machine = othersCores(machine0, machineCpuMs(), (cpu + peb) * 1000, seconds * 1000);
  const perCert = (x: number) => round((x / Math.max(ok, 1)) * 1000);
  return {
    client: 'gvos-sim boxes',
    keyAlgorithm,
    n: ids.length,
    parallelism: parallel,
    ok,
    failed: ids.length - ok,
    seconds: round(seconds, 2),
    certsPerSec: round(ok / seconds),
    p50Ms: Math.round(percentile(latencies, 50)),
    p95Ms: Math.round(percentile(latencies, 95)),
    clientCpuPerCertMs: perCert(cpu),
    pebbleCpuPerCertMs: perCert(peb),
    clientCpuSplitPerCertMs: {
      user: perCert(cpu1.user - cpu0.user),
      sys: perCert(cpu1.sys - cpu0.sys),
      ...threadSplitPerCertMs(threads0, threads1, ok),
    },
    gc: { ...gc.stop(), fullGcFirst },
    heap: { start: heap0, end: heapState() },
    machine,
    timeline: timelineOf(doneMs, ids.length),
    errors,
    ...(firstFailureAt === undefined
      ? {}
      : {
          failureReasons: reasons,
          firstFailureAfterS: round((firstFailureAt - t0) / 1000, 2),
          failuresAfterS: failureTimes(failedAtMs),
        }),
  };
}

/** A static file server for lego's --http.webroot on Pebble's VA port (peers.md §3: python's http.server drops validations). */
function webrootServer(root: string, address: string, port: number): Promise<Server> {
  const s = createServer((req, res) => {
    const m = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]+)$/.exec(req.url ?? '');
    try {
      if (!m) throw new Error('not a token');
      const body = readFileSync(join(root, '.well-known', 'acme-challenge', m[1]!));
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return listenOn(s, address, port, 'the http-01 file server for lego').then(() => s);
}

/** lego issuing `n` certificates with `n` processes at once against `pebble`. */
async function legoRun(
  pebble: Pebble,
  pebblePid: number,
  n: number,
  keyType: 'ec256' | 'rsa2048',
): Promise<RunFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'gvos-bench-lego-'));
  const webroot = join(dir, 'webroot');
  mkdirSync(join(webroot, '.well-known', 'acme-challenge'), { recursive: true });
  const caFile = join(dir, 'pebble-listener-ca.pem');
  writeFileSync(caFile, pebble.listenerCaPem);
  // challtestsrv answers every other name with 127.0.0.1: lego's names reach this server.
  const server = await webrootServer(webroot, '127.0.0.1', pebble.ports.http);
  const latencies: number[] = [];
  const errors: string[] = [];
  const cpu0 = childrenCpuSeconds();
  const peb0 = pebbleCpu(pebblePid);
  const t0 = performance.now();
  try {
    await Promise.all(
      Array.from({ length: n }, (_, i) => {
        const start = performance.now();
        const args = [
          '--server',
          pebble.directoryUrl,
          '--email',
          'bench@example.org',
          '--accept-tos',
          '--key-type',
          keyType,
          '--http',
          '--http.webroot',
          webroot,
          '--path',
          join(dir, `p${i}`),
          '-d',
          `lego-${i}.fleet.test`,
          'run',
        ];
        return new Promise<void>((resolve) => {
          const p = spawn('lego', args, {
            env: { ...process.env, LEGO_CA_CERTIFICATES: caFile },
            stdio: ['ignore', 'ignore', 'pipe'],
          });
          let err = '';
          p.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-400)));
          p.once('error', (e) => {
            if (errors.length < 5) errors.push(e.message);
            resolve();
          });
          p.once('exit', (code) => {
            if (code === 0) latencies.push(performance.now() - start);
            else if (errors.length < 5)
              errors.push(`lego ${i} exit ${code}: ${err.trim().split('\n').pop()}`);
            resolve();
          });
        });
      }),
    );
  } finally {
    server.close();
    await rm(dir, { recursive: true, force: true });
  }
  const seconds = (performance.now() - t0) / 1000;
  const ok = latencies.length;
  return {
    client: 'lego',
    keyAlgorithm: keyType === 'ec256' ? 'prime256v1' : 'rsa-2048',
    n,
    parallelism: n,
    ok,
    failed: n - ok,
    seconds: round(seconds, 2),
    certsPerSec: round(ok / seconds),
    p50Ms: Math.round(percentile(latencies, 50)),
    p95Ms: Math.round(percentile(latencies, 95)),
    clientCpuPerCertMs: round(((childrenCpuSeconds() - cpu0) / Math.max(ok, 1)) * 1000),
    pebbleCpuPerCertMs: round(((pebbleCpu(pebblePid) - peb0) / Math.max(ok, 1)) * 1000),
    errors,
  };
}

/** The name box `id` of run `tag` issues for (unique per run: challtestsrv keeps earlier A records). */
export const domainOf = (tag: string, id: number) => `${tag}-${id}.fleet.test`;

/**
 * A manager's first look at every box before the measured window: one HTTPS
 * handshake each, served the default certificate. A box builds its HTTPS
 * server (TLS context and koa app, src/web/server.ts) at its first HTTPS
 * connection, once in its life; without this the probe after each issue
 * paid that too, and the box's CPU per certificate carried about 5 ms that
 * no second certificate costs. After it, the probe measures what a
 * certificate costs the web server: the context of the swap and a handshake.
 */
async function firstLook(fleet: Fleet, probe: ServedProbe, httpsPort: number): Promise<void> {
  await Promise.all(
    fleet.ids.map((id) =>
      probe.served(
        fleet.address(id),
        httpsPort,
        new X509Certificate(fleet.box(id).webCredentials().certPem).serialNumber,
      ),
    ),
  );
}

/** Boot a fleet of `n` boxes on base address `base`, configure it for `pebble`, issue, stop. */
async function fleetRun(
  pebble: Pebble,
  pebblePid: number,
  probe: ServedProbe,
  n: number,
  keyAlgorithm: KeyAlgorithm,
  base: string,
  mode: IssueMode = {},
): Promise<RunFigures> {
  const httpsPort = 8443;
  const fleet = await bootFleet({
    n,
    cryptoMode: keyAlgorithm.startsWith('rsa') ? 'classic' : 'secure-crypto',
    addressBase: base,
    ports: { ssh: 2222, cli: 2323, https: httpsPort, http: pebble.ports.http, snmp: 1161 },
  });
  try {
    const tag = base.replace(/\./g, '-');
    await configureFleet(fleet, pebble, await pebble.root(), tag);
    if (mode.probeServed !== false) await firstLook(fleet, probe, httpsPort);
    return await issueAll(fleet, pebble, pebblePid, probe, keyAlgorithm, httpsPort, tag, fleet.ids, mode);
  } finally {
    await fleet.destroy();
  }
}

/** Why the boxes of one attempt of issueEveryBox were not confirmed: reasons counted (digits folded), a few whole, and when. */
export interface AttemptFailures {
  attempt: number;
  boxes: number;
  failed: number;
  reasons: Record<string, number>;
  examples: string[];
  afterS?: { first: number; median: number; last: number };
  note?: string;
}

/**
 * Every box of `fleet` gets a certificate: issue from a new Pebble, and when
 * Pebble wedges (see pebbleRun) issue the boxes still without one from
 * another new Pebble, at most three times. For figures that need every box
 * issued (scale's memory); the first attempt's figures are returned.
 * `parallel`: at most this many boxes ordering at once (default: all, as
 * before); the lab's fleet operations order FLEET_PARALLEL at a time.
 */
export async function issueEveryBox(
  fleet: Fleet,
  httpPort: number,
  probe: ServedProbe,
  httpsPort: number,
  parallel?: number,
): Promise<{ first: RunFigures; attempts: number; withoutCertificate: number; failures: AttemptFailures[] }> {
  let first: RunFigures | undefined;
  const failures: AttemptFailures[] = [];
  let attempts = 0;
  let missing = fleet.ids;
  while (missing.length > 0 && attempts < 3) {
    attempts++;
    const pebble = await startPebble({ httpPort });
    const watch = watchPebble(pebble);
    try {
      const pid = childPids('pebble')[0]!;
      const tag = `every${attempts}`;
      await configureFleet(fleet, pebble, await pebble.root(), tag, missing);
      const r = await issueAll(
        fleet,
        pebble,
        pid,
        probe,
        'prime256v1',
        httpsPort,
        tag,
        missing,
        parallel === undefined ? {} : { parallel },
      );
      first ??= r;
      failures.push({
        attempt: attempts,
        boxes: r.n,
        failed: r.failed,
        reasons: r.failureReasons ?? {},
        examples: r.errors,
        ...(r.failuresAfterS ? { afterS: r.failuresAfterS } : {}),
        ...(r.note ? { note: r.note } : {}),
      });
    } finally {
      watch.stop();
      await pebble.stop();
    }
    missing = fleet.ids.filter((id) => !fleet.box(id).acmeState().issued);
  }
  return { first: first!, attempts, withoutCertificate: missing.length, failures };
}

/**
 * Run `fn` against a Pebble of its own (same binary, config and knobs for
 * every run). Why fresh per run: Pebble 2.4.0's memory store answers some
 * requests with scans over everything stored, so a run after another would
 * pay for it; and under a hundred or more concurrent clients it can wedge
 * for good (every handler blocked on the store's RWMutex: the recursive read
 * locking of letsencrypt/pebble#554; lego triggers it too). A wedged run
 * (watchPebble) is repeated on a new Pebble, at most MAX_ATTEMPTS in all,
 * and says so in its note.
 */
const MAX_ATTEMPTS = 5;

async function pebbleRun(
  httpPort: number,
  fn: (pebble: Pebble, pid: number) => Promise<RunFigures>,
): Promise<RunFigures> {
  const wedges: string[] = [];
  for (let attempt = 1; ; attempt++) {
    const pebble = await startPebble({ httpPort });
    const watch = watchPebble(pebble);
    try {
      // The previous Pebble has exited (stop() waits for it): this is the only one.
      const pid = childPids('pebble')[0];
      if (!pid) throw new Error('pebble PID not found among the children');
      const r = await fn(pebble, pid);
      if (!watch.wedged || attempt === MAX_ATTEMPTS) {
        if (wedges.length)
          r.note = `Pebble wedged (letsencrypt/pebble#554) ${wedges.length}x; ${watch.wedged ? 'this attempt too' : 'repeated on a new Pebble'}; wedged attempts: ${wedges.join('; ')}`;
        r.pebbleWedges = wedges.length + (watch.wedged ? 1 : 0);
        return r;
      }
      wedges.push(`${r.ok}/${r.n} done after ${r.seconds} s`);
    } finally {
      watch.stop();
      await pebble.stop();
    }
  }
}

/**
 * The evidence for the CPU target: one more run of `n` boxes (not in the
 * table), its issuance under the sampling profiler, with the split of the
 * process's CPU between the main thread and the others (libuv pool: state
 * file writes and fsync, key generation; V8's GC helpers).
 */
async function profiledRun(pebble: Pebble, pebblePid: number, probe: ServedProbe, n: number, base: string) {
  const httpsPort = 8443;
  const fleet = await bootFleet({
    n,
    cryptoMode: 'secure-crypto',
    addressBase: base,
    ports: { ssh: 2222, cli: 2323, https: httpsPort, http: pebble.ports.http, snmp: 1161 },
  });
  try {
    const tag = base.replace(/\./g, '-');
    await configureFleet(fleet, pebble, await pebble.root(), tag);
    await firstLook(fleet, probe, httpsPort);
    const t0 = threadCpuMs();
    const { result, breakdown } = await profiled(CERT_CPU_CATEGORIES, () =>
      issueAll(fleet, pebble, pebblePid, probe, 'prime256v1', httpsPort, tag),
    );
    const t1 = threadCpuMs();
    const per = (x: number) => round(x / Math.max(result.ok, 1), 2);
    return {
      ...result,
      note: 'under the sampling profiler (slower); main-thread CPU ms per certificate by category',
      mainThreadMsPerCert: Object.fromEntries(Object.entries(breakdown).map(([k, v]) => [k, per(v)])),
      threadsMsPerCert: {
        mainUser: per(t1.main.user - t0.main.user),
        mainSys: per(t1.main.sys - t0.main.sys),
        otherThreadsUser: per(t1.other.user - t0.other.user),
        otherThreadsSys: per(t1.other.sys - t0.other.sys),
      },
    };
  } finally {
    await fleet.destroy();
  }
}

/** The CPU evidence as a table: where a certificate's CPU goes (profiled run). */
function evidenceTable(e: Awaited<ReturnType<typeof profiledRun>> | undefined): string {
  if (!e) return '';
  const rows: (string | number)[][] = Object.entries(e.mainThreadMsPerCert)
    .filter(([k]) => k !== 'idle' && k !== 'profiler (inspector)')
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => [`main thread: ${k}`, v]);
  const t = e.threadsMsPerCert;
  rows.push(['main thread, kernel time (sockets, io)', t.mainSys]);
  rows.push(['other threads, user (libuv pool, V8 GC helpers)', t.otherThreadsUser]);
  rows.push(['other threads, kernel (state file writes, fsync)', t.otherThreadsSys]);
  rows.push(['Pebble, whole process', e.pebbleCpuPerCertMs]);
  return (
    `\n\nCPU per certificate, profiled run of ${e.n} P-256 boxes (ms):\n\n` +
    table(['where', 'ms/cert'], rows)
  );
}

/**
 * The agent-alone reference for another benchmark: `n` P-256 boxes booted
 * by the bench harness (no lab), configured directly, issuing at once from
 * a fresh Pebble of their own. Resolves with that run's figures.
 */
/**
 * The agent-alone reference of bench/lab-regression: `n` boxes of a cluster
 * (the same gate to the CA as a lab's) issuing from a fresh Pebble with no
 * lab around them, `parallel` at a time (the lab's fleet parallelism, so the
 * two rates compare), each counted when its request succeeded, as the lab
 * counts (no served-certificate probe).
 */
export async function agentAloneRun(n: number, addressBase: string, parallel: number): Promise<RunFigures> {
  const httpPort = await freePort('127.0.0.1');
  const probe = new ServedProbe();
  try {
    return await pebbleRun(httpPort, (pebble, pid) =>
      fleetRun(pebble, pid, probe, n, 'prime256v1', addressBase, {
        parallel,
        probeServed: false,
        gcFirst: true,
      }),
    );
  } finally {
    probe.close();
  }
}

export async function fleetIssuanceBench(full: boolean): Promise<void> {
  const sizes = full ? [100, 1000] : [20, 100];
  const rsaN = 100;
  // lego runs one process per certificate (~20 MB each); 100 at once take ~7 s, 1000 would need
  // ~20 GB and, at its 5 s poll floor, well over 5 minutes on two cores: it is capped at 100.
  const legoCap = 100;
  try {
    execFileSync('lego', ['--version'], { stdio: 'ignore' });
  } catch {
    // Without it every lego row would come out empty and the comparison meaningless.
    throw new Error(
      'fleet-issuance compares the box with lego, which is not installed: apt-get install lego (scripts/setup.sh does)',
    );
  }
  const load1 = loadavg()[0]!;
  const httpPort = await freePort('127.0.0.1');
  const probe = new ServedProbe();
  const runs: RunFigures[] = [];
  let cpuEvidence: unknown;
  try {
    let base = 0;
    const boxRun = (n: number, alg: KeyAlgorithm) => {
      const addressBase = `127.77.${(base += 16)}.0`;
      return pebbleRun(httpPort, (pebble, pid) => fleetRun(pebble, pid, probe, n, alg, addressBase));
    };
    const legoRunOn = (n: number, keyType: 'ec256' | 'rsa2048') =>
      pebbleRun(httpPort, (pebble, pid) => legoRun(pebble, pid, n, keyType));
    // Not measured: the first issuances of a process run cold code (module loading, JIT).
    await boxRun(20, 'prime256v1');
    for (const n of sizes) {
      runs.push(await boxRun(n, 'prime256v1'));
      const ln = Math.min(n, legoCap);
      if (ln < n) continue;
      runs.push(await legoRunOn(ln, 'ec256'));
    }
    runs.push(await boxRun(rsaN, 'rsa-2048'));
    runs.push(await legoRunOn(rsaN, 'rsa2048'));
    const addressBase = `127.77.${(base += 16)}.0`;
    let profiledFigures: Awaited<ReturnType<typeof profiledRun>> | undefined;
    await pebbleRun(
      httpPort,
      async (pebble, pid) => (profiledFigures = await profiledRun(pebble, pid, probe, 100, addressBase)),
    );
    cpuEvidence = profiledFigures;
  } finally {
    probe.close();
  }

  const boxes = (n: number, alg: KeyAlgorithm) =>
    runs.find((r) => r.client !== 'lego' && r.n === n && r.keyAlgorithm === alg);
  const lego = (n: number, alg: KeyAlgorithm) =>
    runs.find((r) => r.client === 'lego' && r.n === n && r.keyAlgorithm === alg);
  const eq = Math.max(...sizes.filter((n) => n <= legoCap));
  const b = boxes(eq, 'prime256v1')!;
  const l = lego(eq, 'prime256v1')!;
  const ratio = b.certsPerSec / l.certsPerSec;
  const big = boxes(Math.max(...sizes), 'prime256v1')!;
  const cpuRatio = (r: RunFigures) => r.clientCpuPerCertMs / r.pebbleCpuPerCertMs;
  const ecRuns = runs.filter((r) => r.client !== 'lego' && r.keyAlgorithm === 'prime256v1');
  const worstCpu = ecRuns.reduce((w, r) => (cpuRatio(r) > cpuRatio(w) ? r : w));
  const rsa = boxes(rsaN, 'rsa-2048')!;
  const legoRsa = lego(rsaN, 'rsa-2048')!;
  const targets: Target[] = [
    {
      name: `certificates/s vs lego at equal parallelism (${eq}, P-256)`,
      target: '>= 3x',
      measured: `${round(ratio, 2)}x (${b.certsPerSec} vs ${l.certsPerSec}/s)`,
      met: ratio >= 3 && b.failed === 0,
    },
    {
      name: `certificates/s at ${big.n} boxes (P-256)`,
      target: full ? '>= 40/s' : '>= 40/s (full size: 1000 boxes)',
      measured: `${big.certsPerSec}/s, ${big.failed} failed`,
      met: big.certsPerSec >= 40 && big.failed === 0,
    },
    {
      name: 'simulator CPU per certificate / Pebble CPU per certificate (P-256, worst run)',
      target: '<= 2x',
      measured: `${round(cpuRatio(worstCpu), 2)}x (${worstCpu.clientCpuPerCertMs} vs ${worstCpu.pebbleCpuPerCertMs} ms, N=${worstCpu.n})`,
      met: ecRuns.every((r) => cpuRatio(r) <= 2),
    },
  ];
  let pebbleVersion = 'unknown';
  try {
    pebbleVersion = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'pebble']).toString();
  } catch {
    // Not Debian.
  }
  let legoVersion = 'unknown';
  try {
    legoVersion = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'lego']).toString();
  } catch {
    // Not Debian.
  }
  writeResult({
    name: 'fleet-issuance',
    full,
    figures: {
      loadAvg1mAtStart: round(load1, 2),
      loadAvg1mAtEnd: round(loadavg()[0]!, 2),
      pebble: pebbleVersion,
      lego: legoVersion,
      pebbleKnobs: 'PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0',
      method:
        'one fresh Pebble per measured run (same binary and config), after an unmeasured warm-up issuance of 20 boxes; boxes: one HTTPS handshake to every box before the window (its HTTPS server is built at its first connection, once in its life), then box.acmeIssue() on every box at once, latency until a new TLS connection to the box is served the new serial; lego: one process per certificate at once, own --path, --http.webroot with a Node static server',
      legoNote:
        Math.max(...sizes) > legoCap
          ? `lego measured up to ${legoCap} at once (one process per certificate; ${Math.max(...sizes)} would take over 5 minutes and ~20 GB)`
          : undefined,
      cpuEvidence,
      rsaNote: `RSA-2048: each box generates its new key (${rsa.clientCpuPerCertMs} ms CPU per certificate here, lego ${legoRsa.clientCpuPerCertMs}); key generation is ~90-190 ms of CPU per key in OpenSSL, so the CPU target is judged on P-256`,
      runs,
    },
    targets,
    table:
      table(
        [
          'client',
          'key',
          'N (parallel)',
          'ok',
          'seconds',
          'certs/s',
          'p50 ms',
          'p95 ms',
          'client CPU ms/cert',
          'Pebble CPU ms/cert',
        ],
        runs.map((r) => [
          r.client,
          r.keyAlgorithm,
          r.n,
          r.ok,
          r.seconds,
          r.certsPerSec,
          r.p50Ms,
          r.p95Ms,
          r.clientCpuPerCertMs,
          r.pebbleCpuPerCertMs,
        ]),
      ) + evidenceTable(cpuEvidence as Awaited<ReturnType<typeof profiledRun>> | undefined),
  });
}
