/**
 * Shared by the fleet benchmarks (fleet-issuance, scale): many boxes in this
 * process through the lab's ClusterRunner, each on its own loopback address
 * (base + box-id, e.g. 127.77.0.1 ... 127.77.3.232) with the same four port
 * numbers, a served-certificate probe in a child process, and /proc readers.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AcmeAgentSettings } from '../src/acme/agent.js';
import type { Box } from '../src/device/box.js';
import type { Pebble } from '../test/harness/pebble.js';
import type { CryptoMode } from '../src/device/model.js';
import { FileFirmwareCatalog } from '../src/firmware/catalog.js';
import type { BoxPorts } from '../src/host/box-host.js';
import { ClusterRunner, DEFAULT_ADDRESSING, ipv4Add } from '../src/lab/cluster-runner.js';
import { SystemClock } from '../src/lib/clock.js';
import { silentLogger } from '../src/lib/logger.js';

/** The actor of every bench command (what the lab uses for its own configuration). */
export const BENCH_ACTOR = { user: 'bench', role: 'admin' as const, source: 'bench' };
export const BENCH_PASSWORD = 'Bench-pw-1';

export interface FleetOptions {
  n: number;
  cryptoMode: CryptoMode;
  /** Box N listens on addressBase + N. */
  addressBase: string;
  ports: BoxPorts;
  /** Reuse this lab directory (a later boot); a new temporary one by default. */
  labDir?: string;
  acmeSettings?: AcmeAgentSettings;
  /** The boxes' TCP listeners in listener processes (what a lab above the open-files limit does). */
  listenerProcesses?: { perProcess: number };
}

export interface Fleet {
  runner: ClusterRunner;
  ids: number[];
  labDir: string;
  address(boxId: number): string;
  box(boxId: number): Box;
  /** Stop every box (the lab directory stays). */
  stop(): Promise<void>;
  /** Stop and delete the lab directory. */
  destroy(): Promise<void>;
}

/** Boot `n` boxes concurrently; resolves when every listener of every box is up. */
export async function bootFleet(o: FleetOptions): Promise<Fleet> {
  const labDir = o.labDir ?? mkdtempSync(join(tmpdir(), 'gvos-bench-fleet-'));
  const catalog = new FileFirmwareCatalog();
  const runner = new ClusterRunner({
    clusterName: 'bench',
    labDir,
    seed: 'bench',
    adminPassword: BENCH_PASSWORD,
    clock: new SystemClock(),
    logger: silentLogger,
    catalog,
    addressing: {
      ...DEFAULT_ADDRESSING,
      mode: 'addresses',
      addressBase: o.addressBase,
      addressOffset: 0,
      standardPorts: o.ports,
    },
    // Defaults but a shorter request timeout: when Pebble wedges (letsencrypt/pebble#554, see
    // fleet-issuance.ts) the run fails in 15 s instead of 30 s and is repeated.
    acmeSettings: o.acmeSettings ?? { requestTimeoutMs: 15_000 },
    ...(o.listenerProcesses ? { listenerProcesses: o.listenerProcesses } : {}),
  });
  const ids = Array.from({ length: o.n }, (_, i) => i + 1);
  const firmware = catalog.latest().version;
  const fleet: Fleet = {
    runner,
    ids,
    labDir,
    address: (id) => ipv4Add(o.addressBase, id),
    box: (id) => {
      const b = runner.box(id);
      if (!b) throw new Error(`box ${id} is not running`);
      return b;
    },
    stop: () => runner.stopAll(),
    destroy: async () => {
      await runner.stopAll();
      await rm(labDir, { recursive: true, force: true });
    },
  };
  // allSettled: a failed box must not start the clean-up while the others still write their state.
  const results = await Promise.allSettled(
    ids.map((boxId) =>
      runner.add({
        boxId,
        hostname: `fleet-${boxId}`,
        model: 'GigaVUE-HC2',
        firmware,
        cryptoMode: o.cryptoMode,
      }),
    ),
  );
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed.length) {
    await fleet.destroy();
    throw new Error(
      `${failed.length} of ${o.n} boxes did not boot; the first: ${(failed[0]!.reason as Error).message}`,
    );
  }
  return fleet;
}

/**
 * A child process that makes fresh TLS connections to a box's https port
 * until it presents the wanted serial ("served"), so the probe's own
 * handshake CPU is not counted as the simulator's.
 */
export class ServedProbe {
  private readonly child: ChildProcess;
  private seq = 0;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();

  constructor() {
    this.child = fork(fileURLToPath(new URL('./served-probe.js', import.meta.url)), { stdio: 'inherit' });
    this.child.on('message', (m: { id: number; ok: boolean; error?: string }) => {
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.ok) w.resolve();
      else w.reject(new Error(m.error ?? 'probe failed'));
    });
  }

  /** Resolves once a new connection to address:port is served `serial` (upper-case hex). */
  served(address: string, port: number, serial: string): Promise<void> {
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.child.send({ id, address, port, serial });
    });
  }

  close(): void {
    this.child.kill();
  }
}

/** PIDs of this process's children whose command name is `comm` (e.g. pebble). */
export function childPids(comm: string): number[] {
  const out: number[] = [];
  for (const tid of readdirSync('/proc/self/task')) {
    let children = '';
    try {
      children = readFileSync(`/proc/self/task/${tid}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const p of children.trim().split(/\s+/).filter(Boolean)) {
      try {
        if (readFileSync(`/proc/${p}/comm`, 'utf8').trim() === comm) out.push(Number(p));
      } catch {
        // Exited meanwhile.
      }
    }
  }
  return out;
}

/** Open file descriptors of this process. */
export function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** What watchPebble returns. */
export interface PebbleWatch {
  /** True once the Pebble was found wedged (and stopped). */
  readonly wedged: boolean;
  stop(): void;
}

/**
 * Watch a Pebble for the wedge of letsencrypt/pebble#554 (every handler
 * blocked on its store's RWMutex for good, seen under hundreds of concurrent
 * clients with Pebble 2.4.0): every second a GET of /cert-status-by-serial
 * on the management port (curl), a handler that read-locks the store; three
 * in a row without an answer within 2 s means wedged (a live Pebble answers
 * in milliseconds even under load), and the Pebble is stopped so that its
 * clients fail at once instead of waiting for their timeouts.
 *
 * The probes run in one shell loop started once per watch, which prints
 * each curl's exit code: not a curl spawned from this process every second.
 * A spawn from a process holding a few hundred boxes costs it 10-15 ms of
 * CPU (fork of a large process; measured 7-12 ms of user+system CPU and
 * 13-18 ms of main-thread block per spawn here), which the agent-alone
 * reference of the lab regression paid in its window and the lab did not.
 */
export function watchPebble(pebble: Pebble): PebbleWatch {
  const url = pebble.rootUrl.replace(/\/roots\/0$/, '/cert-status-by-serial/01');
  const caFile = join(mkdtempSync(join(tmpdir(), 'gvos-bench-watch-')), 'ca.pem');
  writeFileSync(caFile, pebble.listenerCaPem);
  let misses = 0;
  let wedged = false;
  // curl, not a request from this process: with a thousand boxes this event loop can lag, and the
  // probe must time out on Pebble's account only. Exit code 28 = no answer within --max-time.
  const loop = spawn(
    'sh',
    [
      '-c',
      'while :; do curl -s -o /dev/null --max-time 2 --cacert "$1" "$2"; echo $?; sleep 1; done',
      'watch',
      caFile,
      url,
    ],
    // Its own process group, so that stop() ends the loop and a curl in flight by the group's id.
    { stdio: ['ignore', 'pipe', 'ignore'], detached: true },
  );
  loop.on('error', () => undefined);
  let buf = '';
  loop.stdout!.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const code = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (wedged) continue;
      misses = code === '28' ? misses + 1 : 0;
      if (misses >= 3) {
        wedged = true;
        void pebble.stopCa();
      }
    }
  });
  return {
    get wedged() {
      return wedged;
    },
    stop: () => {
      try {
        if (loop.pid) process.kill(-loop.pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
      rmSync(dirname(caFile), { recursive: true, force: true });
    },
  };
}

/** CPU ms of this process's threads from /proc/self/task: the main thread and all the others (libuv pool, V8 helpers). */
export function threadCpuMs(): { main: { user: number; sys: number }; other: { user: number; sys: number } } {
  const out = { main: { user: 0, sys: 0 }, other: { user: 0, sys: 0 } };
  for (const tid of readdirSync('/proc/self/task')) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const k = Number(tid) === process.pid ? out.main : out.other;
    k.user += Number(f[11]) * 10; // USER_HZ 100
    k.sys += Number(f[12]) * 10;
  }
  return out;
}

/** CPU ms per certificate of the main thread and of the other threads between two threadCpuMs readings. */
export function threadSplitPerCertMs(
  a: ReturnType<typeof threadCpuMs>,
  b: ReturnType<typeof threadCpuMs>,
  certs: number,
): { mainThread: number; otherThreads: number } {
  const per = (x: number) => Math.round((x / Math.max(certs, 1)) * 10) / 10;
  return {
    mainThread: per(b.main.user + b.main.sys - a.main.user - a.main.sys),
    // Threads that exited within the window drop out of the sum: never below zero.
    otherThreads: Math.max(0, per(b.other.user + b.other.sys - a.other.user - a.other.sys)),
  };
}
