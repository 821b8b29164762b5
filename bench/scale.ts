/**
 * Scale: N boxes in one process (the lab's ClusterRunner), each on its own
 * loopback address with all four listeners (SSH CLI, TCP CLI, HTTPS, HTTP).
 *
 * 1. First boot of N boxes in secure-crypto (the lab's default), timed to
 *    "every listener of every box is up", with a CPU breakdown from the
 *    sampling profiler; resident memory per box (RSS after boot minus RSS
 *    before, after a full GC, over N) and open file descriptors.
 * 2. A later boot of the same boxes from the same data directories.
 * 3. First boot of N classic-mode boxes (RSA-2048 default certificates: the
 *    lab shares one RSA key among them, see src/lab/cluster-runner.ts), and
 *    what N keys of their own would have cost (measured RSA key rate).
 * 4. Every box of the later boot issues a P-256 certificate from one Pebble
 *    (as in fleet-issuance); memory after.
 * 5. `show crypto acme client info` over SSH (ssh2's Client, one shell
 *    session without pty to each of several boxes spread over the fleet,
 *    sessions one after another, commands sequential in each): p50/p95 from
 *    sending the line to the next prompt.
 */
import { generateKeyPair } from 'node:crypto';
import { loadavg } from 'node:os';
import ssh2 from 'ssh2';
import type { ClientChannel } from 'ssh2';
import { freePort } from '../src/lib/net.js';
import { issueEveryBox } from './fleet-issuance.js';
import { BENCH_PASSWORD, bootFleet, openFds, ServedProbe, type Fleet } from './fleet.js';
import { percentile, procRssBytes, table, writeResult, type Target } from './lib.js';
import { collectGarbage, profiled, type Breakdown, type Category } from './profile.js';

const MiB = 1024 * 1024;
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/** Where a box's boot spends its CPU (innermost matching frame wins; see profile.ts). */
const BOOT_CATEGORIES: Category[] = [
  {
    name: 'first-boot document (keys, default certificate, host key)',
    match: /device\/first-boot\.js|dist\/src\/pki\//,
  },
  { name: 'state file (read, write, fsync)', match: /store\/lowdb-store\.js|lowdb/ },
  { name: 'SSH listener (ssh2 server, host key)', match: /cli\/transports\/ssh\.js|node_modules\/ssh2\// },
  { name: 'TCP CLI listener', match: /cli\/transports\/tcp\.js/ },
  {
    name: 'HTTPS/HTTP listeners (koa apps, TLS context)',
    match: /dist\/src\/web\/|node_modules\/koa|node_modules\/@koa/,
  },
  {
    name: 'Box, ACME agent, SNMP notifier',
    match: /device\/box\.js|acme\/agent\.js|snmp\/notifier\.js|^prepareBoot$/,
  },
  { name: 'listening sockets (net)', match: /^listenInCluster$|^setupListenHandle$/ },
  { name: 'cluster runner and host', match: /lab\/cluster-runner\.js|host\/box-host\.js/ },
];

interface BootFigures {
  boxes: number;
  seconds: number;
  rssPerBoxMiB: number;
  /** V8 heap in use after a full GC, minus before, per box. */
  heapPerBoxMiB: number;
  fds: number;
  /** Main-thread CPU ms by category over the whole boot. */
  cpuMs: Breakdown;
}

function sumCpu(b: Breakdown): number {
  return Object.entries(b)
    .filter(([k]) => k !== 'idle' && k !== 'profiler (inspector)')
    .reduce((s, [, v]) => s + v, 0);
}

/** Boot under the profiler; RSS measured after a full GC against `rssBefore`. */
async function timedBoot(
  boot: () => Promise<Fleet>,
  rssBefore: number,
  heapBefore: number,
): Promise<{ fleet: Fleet; figures: BootFigures }> {
  const t0 = performance.now();
  const { result: fleet, breakdown } = await profiled(BOOT_CATEGORIES, boot);
  const seconds = (performance.now() - t0) / 1000;
  collectGarbage();
  return {
    fleet,
    figures: {
      boxes: fleet.ids.length,
      seconds: round(seconds, 2),
      rssPerBoxMiB: round((procRssBytes('self') - rssBefore) / fleet.ids.length / MiB, 2),
      heapPerBoxMiB: round((process.memoryUsage().heapUsed - heapBefore) / fleet.ids.length / MiB, 3),
      fds: openFds(),
      cpuMs: breakdown,
    },
  };
}

/** One SSH shell session to a box (also scale-lab.ts); `run` sends a line and resolves with the output once the prompt is back. */
export async function sshShell(address: string, port: number, hostKeyPem: string, prompt: string) {
  const parsed = ssh2.utils.parseKey(hostKeyPem);
  if (parsed instanceof Error) throw parsed;
  const blob = (Array.isArray(parsed) ? parsed[0] : parsed).getPublicSSH();
  const conn = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    conn.once('ready', () => resolve()).once('error', reject);
    conn.connect({
      host: address,
      port,
      username: 'admin',
      password: BENCH_PASSWORD,
      hostVerifier: (key: Buffer) => key.equals(blob),
      readyTimeout: 20_000,
    });
  });
  // No pty: plain "\n" lines, never paged.
  const stream = await new Promise<ClientChannel>((resolve, reject) =>
    conn.shell(false, (err, s) => (err ? reject(err) : resolve(s))),
  );
  let buf = '';
  let waiter: (() => void) | undefined;
  stream.on('data', (d: Buffer) => {
    buf += d.toString();
    if (buf.endsWith(prompt)) waiter?.();
  });
  const untilPrompt = () =>
    new Promise<string>((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`no prompt from ${address} within 10 s: ${buf.slice(-200)}`)),
        10_000,
      );
      const done = () => {
        clearTimeout(t);
        waiter = undefined;
        const out = buf;
        buf = '';
        resolve(out);
      };
      if (buf.endsWith(prompt)) done();
      else waiter = done;
    });
  await untilPrompt();
  return {
    run: (line: string) => {
      stream.write(line + '\n');
      return untilPrompt();
    },
    close: () => conn.end(),
  };
}

/** RSA-2048 keys per second on this machine, all cores busy (what N keys of their own would cost). */
async function rsaKeysPerSecond(): Promise<number> {
  const n = 16;
  const t0 = performance.now();
  await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise((r, j) => generateKeyPair('rsa', { modulusLength: 2048 }, (e) => (e ? j(e) : r(null)))),
    ),
  );
  return n / ((performance.now() - t0) / 1000);
}

export async function scaleBench(full: boolean): Promise<void> {
  const n = full ? 1000 : 100;
  const sessions = full ? 10 : 5;
  const commandsPerSession = full ? 100 : 40;
  const load1 = loadavg()[0]!;
  const httpPort = await freePort('127.0.0.1');
  const ports = { ssh: 2222, cli: 2323, https: 8443, http: httpPort, snmp: 1161 };
  const base = '127.76.0.0';

  collectGarbage();
  const rss0 = procRssBytes('self');
  const heap0 = process.memoryUsage().heapUsed;
  const fds0 = openFds();

  // 1. First boot (secure-crypto, the lab's default).
  const first = await timedBoot(
    () => bootFleet({ n, cryptoMode: 'secure-crypto', addressBase: base, ports }),
    rss0,
    heap0,
  );
  const labDir = first.fleet.labDir;
  await first.fleet.stop();

  // 2. Later boot from the same data directories. Memory against the first baseline: what the
  // stopped boxes left in the heap counts too (conservative).
  const later = await timedBoot(
    () => bootFleet({ n, cryptoMode: 'secure-crypto', addressBase: base, ports, labDir }),
    rss0,
    heap0,
  );
  const fleet = later.fleet;
  const rssLater = procRssBytes('self');

  let classic: BootFigures | undefined;
  let issued:
    | (Awaited<ReturnType<typeof issueEveryBox>>['first'] & {
        attempts: number;
        boxesWithoutCertificate: number;
      })
    | undefined;
  let rssAfterIssuePerBox = NaN;
  let heapAfterIssuePerBox = NaN;
  const latencies: number[] = [];
  let sampleOutput = '';
  const rsaRate = await rsaKeysPerSecond();
  try {
    // 4. Every box issues a certificate; memory after.
    const probe = new ServedProbe();
    try {
      const every = await issueEveryBox(fleet, httpPort, probe, ports.https);
      issued = {
        ...every.first,
        attempts: every.attempts,
        boxesWithoutCertificate: every.withoutCertificate,
      };
    } finally {
      probe.close();
    }
    collectGarbage();
    rssAfterIssuePerBox = round((procRssBytes('self') - rss0) / n / MiB, 2);
    heapAfterIssuePerBox = round((process.memoryUsage().heapUsed - heap0) / n / MiB, 3);

    // 5. show crypto acme client info over SSH, boxes spread over the fleet.
    const targets = Array.from(
      { length: sessions },
      (_, i) => fleet.ids[Math.floor(((i + 0.5) * n) / sessions)]!,
    );
    for (const id of targets) {
      const box = fleet.box(id);
      const sh = await sshShell(fleet.address(id), ports.ssh, box.sshHostKey, `${box.hostname} > `);
      try {
        await sh.run('show crypto acme client info'); // first command of a session: not timed
        for (let i = 0; i < commandsPerSession; i++) {
          const t = performance.now();
          const out = await sh.run('show crypto acme client info');
          latencies.push(performance.now() - t);
          sampleOutput = out;
        }
      } finally {
        sh.close();
      }
    }
  } finally {
    await fleet.destroy();
  }

  // 3. Classic-mode first boot (RSA-2048 default certificates), on its own addresses.
  {
    // Memory not measured here: the heap still holds what the earlier fleets left.
    const c = await timedBoot(
      () => bootFleet({ n, cryptoMode: 'classic', addressBase: '127.75.0.0', ports }),
      NaN,
      NaN,
    );
    classic = c.figures;
    await c.fleet.destroy();
  }

  const p50 = percentile(latencies, 50);
  const p95 = percentile(latencies, 95);
  const perBox = (b: BootFigures) => round(sumCpu(b.cpuMs) / b.boxes, 2);
  const ownRsaKeysSeconds = round(n / rsaRate, 1);
  const targetsList: Target[] = [
    {
      name: `later boot of ${n} boxes, every listener up`,
      target: full ? '<= 10 s' : '<= 10 s (full size: 1000 boxes)',
      measured: `${later.figures.seconds} s`,
      met: later.figures.seconds <= 10,
    },
    {
      name: `first boot of ${n} boxes (breakdown in figures.firstBoot.cpuMs)`,
      target: 'reported with its breakdown',
      measured: `${first.figures.seconds} s (secure-crypto), ${classic.seconds} s (classic, RSA-2048 default certificates); ${perBox(first.figures)} ms CPU per box`,
      met: true,
    },
    {
      name: 'resident memory per box',
      target: '<= 2 MiB',
      measured: `${first.figures.rssPerBoxMiB} MiB after first boot, ${later.figures.rssPerBoxMiB} after a later boot, ${rssAfterIssuePerBox} after every box issued${issued?.boxesWithoutCertificate ? ` (${issued.boxesWithoutCertificate} boxes got none)` : ''}`,
      met:
        Math.max(first.figures.rssPerBoxMiB, later.figures.rssPerBoxMiB, rssAfterIssuePerBox) <= 2 &&
        issued?.boxesWithoutCertificate === 0,
    },
    {
      name: `show crypto acme client info over SSH, p95 at ${n} boxes`,
      target: full ? '<= 20 ms' : '<= 20 ms (full size: 1000 boxes)',
      measured: `p95 ${round(p95)} ms (p50 ${round(p50)} ms, ${latencies.length} commands)`,
      met: p95 <= 20 && latencies.length === sessions * commandsPerSession,
    },
  ];
  writeResult({
    name: 'scale',
    full,
    figures: {
      loadAvg1mAtStart: round(load1, 2),
      loadAvg1mAtEnd: round(loadavg()[0]!, 2),
      boxes: n,
      ports: { ...ports, note: 'every box on its own address 127.76.x.y with these port numbers' },
      baseline: { rssMiB: round(rss0 / MiB), fds: fds0 },
      firstBoot: { ...first.figures, cryptoMode: 'secure-crypto', cpuMsPerBox: perBox(first.figures) },
      laterBoot: { ...later.figures, cpuMsPerBox: perBox(later.figures), rssMiB: round(rssLater / MiB) },
      classicFirstBoot: {
        ...classic,
        cpuMsPerBox: perBox(classic),
        design:
          'the classic-mode boxes of one lab share one RSA-2048 key for their default certificates (each box signs its own certificate); the P-256 SSH host key and everything else stay per box',
        rsaKeysPerSecondAllCores: round(rsaRate),
        ownKeysWouldCostSeconds: ownRsaKeysSeconds,
      },
      issuance: issued,
      rssPerBoxAfterIssueMiB: rssAfterIssuePerBox,
      heapPerBoxAfterIssueMiB: heapAfterIssuePerBox,
      show: {
        command: 'show crypto acme client info',
        client: `ssh2 Client, ${sessions} shell sessions (no pty) to boxes spread over the fleet, one after another, ${commandsPerSession} sequential commands each (plus one untimed first command)`,
        p50Ms: round(p50, 2),
        p95Ms: round(p95, 2),
        maxMs: round(Math.max(...latencies), 2),
        sampleOutput: sampleOutput.split('\n').slice(0, 12),
      },
      note: 'boot times are measured under the V8 sampling profiler (for the CPU breakdown); memory after a full GC, against the baseline before the first box (the later boot and after-issue readings include what the stopped first fleet left in the heap)',
    },
    targets: targetsList,
    table: table(
      ['phase', 'boxes', 'seconds', 'CPU ms/box (main thread)', 'RSS MiB/box', 'V8 heap MiB/box', 'fds'],
      [
        [
          'first boot (secure-crypto)',
          n,
          first.figures.seconds,
          perBox(first.figures),
          first.figures.rssPerBoxMiB,
          first.figures.heapPerBoxMiB,
          first.figures.fds,
        ],
        [
          'later boot (same data dirs)',
          n,
          later.figures.seconds,
          perBox(later.figures),
          later.figures.rssPerBoxMiB,
          later.figures.heapPerBoxMiB,
          later.figures.fds,
        ],
        ['first boot (classic, RSA-2048)', n, classic.seconds, perBox(classic), '-', '-', classic.fds],
        [
          'after every box issued',
          n,
          issued ? `${issued.seconds} (issue)` : '-',
          '-',
          rssAfterIssuePerBox,
          heapAfterIssuePerBox,
          '-',
        ],
        [`show ... info over SSH p50/p95 ms`, n, `${round(p50)} / ${round(p95)}`, '-', '-', '-', '-'],
      ],
    ),
  });
}
