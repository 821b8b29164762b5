/**
 * Scale of one lab (issue 16, target 4): 10,000 boxes in one process, with
 * the reference size (1000 boxes) in the same run. Each size runs in a child
 * process of its own (clean resident memory), through the lab's
 * ClusterRunner; where the boxes' sockets do not fit the open-files limit,
 * their TCP listeners go to listener processes exactly as `lab up` decides
 * (src/lab/open-files.ts, src/host/listener-pool.ts).
 *
 * Per size:
 * 1. first boot (untimed figure), stop; a later boot from the same data
 *    directories, timed to "every listener of every box is up";
 * 2. resident memory per box after the later boot: this process's RSS after
 *    a full GC minus its RSS before the first box, plus the listener
 *    processes' RSS, over N; open files of each process;
 * 3. `show crypto acme client info` over SSH while idle (ssh2 Client, no pty,
 *    sessions to boxes spread over the fleet): p50/p95 from the line sent to
 *    the prompt back; every connection crossed a listener process when the
 *    size has them;
 * 4. every box issues a P-256 certificate from one Pebble (http-01 through the
 *    boxes' HTTP listeners), paced as the lab's fleet operations are
 *    (FLEET_PARALLEL boxes ordering at a time; all 10,000 at once wedged
 *    Pebble, letsencrypt/pebble#554); resident memory per box after.
 *
 * Memory is sampled twice each time: as it stands (what `ps` shows a user)
 * and after a full GC (what the boxes hold), once RSS has settled
 * (settledRssBytes in lib.ts: V8 returns the freed pages from a background
 * task, late on a busy machine), with V8's heap used beside it. The first
 * boot's fleet is collected before the later boot, which then starts as a
 * later `lab up` does, in a process that holds no earlier fleet: without
 * that GC, and read right after the GC, the same commit's lab measured 497
 * to 820 MiB at 10,000 boxes depending on when V8 had collected the first
 * fleet and released its pages (session 9, bench/scale-lab-mem.ts).
 *
 * Boxes on 127.<GVOS_BENCH_OCTET, default 74>.0.x; progress in
 * bench/results/<GVOS_BENCH_RESULT, default scale-lab>-<n>.progress.json.
 *
 * `node --expose-gc dist/bench/run.js --only scale-lab [--full]`: full is
 * 1000 and 10,000 boxes; small is 100 and 1000.
 */
import { execFileSync, fork } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { FLEET_PARALLEL } from '../src/lab/lab.js';
import { openFilesLimit, planListeners, type ListenerPlan } from '../src/lab/open-files.js';
import { freePort } from '../src/lib/net.js';
import { issueEveryBox, type AttemptFailures } from './fleet-issuance.js';
import { bootFleet, openFds, ServedProbe } from './fleet.js';
import {
  memoryFigures,
  percentile,
  procRssBytes,
  settledRssBytes,
  table,
  writeResult,
  type Target,
} from './lib.js';
import { collectGarbage } from './profile.js';
import { sshShell } from './scale.js';

const MiB = 1024 * 1024;
const RESULTS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'results');
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const COMMIT = (() => {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
      cwd: dirname(fileURLToPath(import.meta.url)),
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return 'unknown';
  }
})();

/** What one size measured (the child's answer). */
interface SizeFigures {
  boxes: number;
  listeners: Pick<ListenerPlan, 'where' | 'processes' | 'line'>;
  firstBootSeconds: number;
  laterBootSeconds: number;
  baselineRssMiB: number;
  afterBoot: {
    labRssMiB: number;
    listenerRssMiB: number;
    rssPerBoxMiB: number;
    /** The same before the GC (as `ps` would show it). */
    rssPerBoxNoGcMiB: number;
    /** V8's heap used per box (KiB): what the boxes hold, whatever the allocator keeps. */
    heapUsedPerBoxKiB: number;
    labFds: number;
    listenerFds: number[];
  };
  show: { p50Ms: number; p95Ms: number; maxMs: number; commands: number; sample: string[] };
  issuance: {
    ok: number;
    seconds: number;
    certsPerSec: number;
    attempts: number;
    withoutCertificate: number;
    /** Per attempt: boxes not confirmed and why (reasons counted, digits folded; a few examples; when). */
    failures: AttemptFailures[];
    /** Most open files of the lab's process while the boxes issued (sampled every 250 ms). */
    peakLabFds: number;
  };
  afterIssue: { labRssMiB: number; listenerRssMiB: number; rssPerBoxMiB: number; rssPerBoxNoGcMiB: number };
  loadAvg1m: [number, number];
}

/**
 * What one size has measured so far, written after each phase to
 * bench/results/scale-lab-<n>.progress.json and printed: a run cut short (a
 * busy machine, a deadline) still leaves the phases it finished, marked so.
 */
function progress(n: number, phase: string, so: Record<string, unknown>): void {
  const doc = {
    boxes: n,
    lastPhase: phase,
    complete: phase === 'done',
    at: new Date().toISOString(),
    commit: COMMIT,
    loadAvg1m: round(loadavg()[0]!, 2),
    ...so,
  };
  const name = process.env.GVOS_BENCH_RESULT || 'scale-lab';
  writeFileSync(join(RESULTS, `${name}-${n}.progress.json`), JSON.stringify(doc, null, 2) + '\n');
  console.log(`scale-lab ${n}: ${phase}`);
}

function fdsOf(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** One size, in this (child) process. */
async function measureSize(n: number): Promise<SizeFigures> {
  const load0 = loadavg()[0]!;
  const httpPort = await freePort('127.0.0.1');
  const ports = { ssh: 2222, cli: 2323, https: 8443, http: httpPort, snmp: 1161 };
  const base = `127.${Number(process.env.GVOS_BENCH_OCTET ?? 74)}.0.0`;
  const planned = planListeners(n, openFilesLimit() ?? null);
  if ('problem' in planned) throw new Error(planned.problem);
  const plan = planned.plan;
  const listenerProcesses = plan.where === 'listener-processes' ? { perProcess: plan.perProcess } : undefined;

  collectGarbage();
  const rss0 = await settledRssBytes();
  const heap0 = process.memoryUsage().heapUsed;

  let t0 = performance.now();
  const first = await bootFleet({
    n,
    cryptoMode: 'secure-crypto',
    addressBase: base,
    ports,
    ...(listenerProcesses ? { listenerProcesses } : {}),
  });
  const firstBootSeconds = (performance.now() - t0) / 1000;
  mkdirSync(RESULTS, { recursive: true });
  const so: Record<string, unknown> = {
    listeners: { where: plan.where, processes: plan.processes, line: plan.line },
    firstBootSeconds: round(firstBootSeconds, 2),
    firstBootListenerProcesses: first.runner.listenerPool?.processes ?? [],
    baselineRssMiB: round(rss0 / MiB),
    loadAvg1mAtStart: round(load0, 2),
  };
  progress(n, 'first boot', so);
  const labDir = first.labDir;
  await first.stop();
  // A later `lab up` is a new process: the first fleet's garbage goes before the later boot.
  collectGarbage();
  await settledRssBytes();

  t0 = performance.now();
  const fleet = await bootFleet({
    n,
    cryptoMode: 'secure-crypto',
    addressBase: base,
    ports,
    labDir,
    ...(listenerProcesses ? { listenerProcesses } : {}),
  });
  const laterBootSeconds = (performance.now() - t0) / 1000;
  so.laterBootSeconds = round(laterBootSeconds, 2);
  so.loadAvg1mAfterLaterBoot = round(loadavg()[0]!, 2);
  progress(n, 'later boot', so);

  const memory = async () => {
    const pids = fleet.runner.listenerPool?.processes.map((p) => p.pid) ?? [];
    const listenerRss = () => pids.reduce((s, pid) => s + procRssBytes(pid), 0);
    const noGc = procRssBytes('self') + listenerRss();
    collectGarbage();
    const lab = await settledRssBytes();
    const listener = listenerRss();
    const figures = memoryFigures();
    return {
      labRssNoGcMiB: round((noGc - listener) / MiB),
      rssPerBoxNoGcMiB: round((noGc - rss0) / n / MiB, 3),
      labRssMiB: round(lab / MiB),
      // What the lab's RSS is made of (V8's heap, the malloc arenas, code), and its heap per box.
      labMemory: figures,
      heapUsedPerBoxKiB: round((process.memoryUsage().heapUsed - heap0) / n / 1024),
      listenerRssMiB: round(listener / MiB),
      rssPerBoxMiB: round((lab - rss0 + listener) / n / MiB, 3),
      pids,
    };
  };
  try {
    const m1 = await memory();
    const afterBoot = {
      labRssMiB: m1.labRssMiB,
      listenerRssMiB: m1.listenerRssMiB,
      rssPerBoxMiB: m1.rssPerBoxMiB,
      rssPerBoxNoGcMiB: m1.rssPerBoxNoGcMiB,
      heapUsedPerBoxKiB: m1.heapUsedPerBoxKiB,
      labMemory: m1.labMemory,
      labFds: openFds(),
      listenerFds: m1.pids.map(fdsOf),
    };
    so.afterBoot = afterBoot;
    progress(n, 'memory after boot', so);

    // Idle: nothing else runs in the lab while the commands are timed.
    const sessions = 10;
    const perSession = 50;
    const latencies: number[] = [];
    let sample = '';
    for (let i = 0; i < sessions; i++) {
      const id = fleet.ids[Math.floor(((i + 0.5) * n) / sessions)]!;
      const box = fleet.box(id);
      const sh = await sshShell(fleet.address(id), ports.ssh, box.sshHostKey, `${box.hostname} > `);
      try {
        await sh.run('show crypto acme client info'); // the session's first command: not timed
        for (let k = 0; k < perSession; k++) {
          const t = performance.now();
          sample = await sh.run('show crypto acme client info');
          latencies.push(performance.now() - t);
        }
      } finally {
        sh.close();
      }
    }

    so.show = {
      p50Ms: round(percentile(latencies, 50), 2),
      p95Ms: round(percentile(latencies, 95), 2),
      commands: latencies.length,
    };
    progress(n, 'show over SSH', so);
    const probe = new ServedProbe();
    let every: Awaited<ReturnType<typeof issueEveryBox>>;
    let peakLabFds = openFds();
    const sampler = setInterval(() => (peakLabFds = Math.max(peakLabFds, openFds())), 250);
    try {
      every = await issueEveryBox(fleet, httpPort, probe, ports.https, FLEET_PARALLEL);
    } finally {
      clearInterval(sampler);
      probe.close();
    }
    const m2 = await memory();
    so.afterIssue = {
      parallel: FLEET_PARALLEL,
      ok: every.first.ok,
      seconds: every.first.seconds,
      attempts: every.attempts,
      labRssMiB: m2.labRssMiB,
      labRssNoGcMiB: m2.labRssNoGcMiB,
      listenerRssMiB: m2.listenerRssMiB,
      rssPerBoxMiB: m2.rssPerBoxMiB,
      rssPerBoxNoGcMiB: m2.rssPerBoxNoGcMiB,
      heapUsedPerBoxKiB: m2.heapUsedPerBoxKiB,
      labMemory: m2.labMemory,
      withoutCertificate: every.withoutCertificate,
      // Boxes not confirmed (no result within the deadline, or not served the new certificate), per attempt, with why.
      failures: every.failures,
      peakLabFds,
    };
    progress(n, 'done', so);
    return {
      boxes: n,
      listeners: { where: plan.where, processes: plan.processes, line: plan.line },
      firstBootSeconds: round(firstBootSeconds, 2),
      laterBootSeconds: round(laterBootSeconds, 2),
      baselineRssMiB: round(rss0 / MiB),
      afterBoot,
      show: {
        p50Ms: round(percentile(latencies, 50), 2),
        p95Ms: round(percentile(latencies, 95), 2),
        maxMs: round(Math.max(...latencies), 2),
        commands: latencies.length,
        sample: sample.split('\n').slice(0, 6),
      },
      issuance: {
        ok: every.first.ok,
        seconds: every.first.seconds,
        certsPerSec: every.first.certsPerSec,
        attempts: every.attempts,
        withoutCertificate: every.withoutCertificate,
        failures: every.failures,
        peakLabFds,
      },
      afterIssue: {
        labRssMiB: m2.labRssMiB,
        listenerRssMiB: m2.listenerRssMiB,
        rssPerBoxMiB: m2.rssPerBoxMiB,
        rssPerBoxNoGcMiB: m2.rssPerBoxNoGcMiB,
      },
      loadAvg1m: [round(load0, 2), round(loadavg()[0]!, 2)],
    };
  } finally {
    await fleet.destroy();
  }
}

/** Run one size in a child process of its own (this file, with the size as its argument). */
function inChild(n: number): Promise<SizeFigures> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [String(n)], {
      stdio: 'inherit',
      execArgv: ['--expose-gc'],
    });
    let got: SizeFigures | undefined;
    child.on('message', (m: { figures?: SizeFigures; error?: string }) => {
      if (m.figures) got = m.figures;
      else reject(new Error(m.error));
    });
    child.once('exit', (code) =>
      got ? resolve(got) : reject(new Error(`the ${n}-box run exited with code ${code}`)),
    );
  });
}

export async function scaleLabBench(full: boolean): Promise<void> {
  const [ref, big] = full ? [1000, 10_000] : [100, 1000];
  const r = await inChild(ref);
  console.log(`scale-lab: ${ref} boxes done (later boot ${r.laterBootSeconds} s)`);
  const b = await inChild(big);
  const targets: Target[] = [
    {
      name: `later boot of ${big} boxes, every listener up`,
      target: '< 30 s',
      measured: `${b.laterBootSeconds} s (${ref} boxes: ${r.laterBootSeconds} s)`,
      met: b.laterBootSeconds < 30,
    },
    {
      name: 'resident memory per box after boot (lab + listener processes)',
      target: '< 0.5 MiB',
      measured: `${b.afterBoot.rssPerBoxMiB} MiB (${ref} boxes: ${r.afterBoot.rssPerBoxMiB})`,
      met: b.afterBoot.rssPerBoxMiB < 0.5,
    },
    {
      name: 'resident memory per box with certificates issued',
      target: '< 1 MiB, every box with its certificate',
      measured: `${b.afterIssue.rssPerBoxMiB} MiB, ${b.issuance.withoutCertificate} boxes without one (${ref} boxes: ${r.afterIssue.rssPerBoxMiB})`,
      met: b.afterIssue.rssPerBoxMiB < 1 && b.issuance.withoutCertificate === 0,
    },
    {
      name: `show crypto acme client info over SSH while idle, p95 at ${big} boxes`,
      target: '< 20 ms',
      measured: `p95 ${b.show.p95Ms} ms, p50 ${b.show.p50Ms} ms, ${b.show.commands} commands (${ref} boxes: p95 ${r.show.p95Ms} ms)`,
      met: b.show.p95Ms < 20,
    },
    {
      name: '`lab status`, `lab inventory`, a fleet operation on one box',
      target: '< 1 s each',
      measured: 'not measured here: see figures.labVerbs',
      met: false,
    },
  ];
  const row = (f: SizeFigures) => [
    f.boxes,
    f.listeners.where === 'in-process' ? 'in-process' : `${f.listeners.processes} processes`,
    f.firstBootSeconds,
    f.laterBootSeconds,
    f.afterBoot.rssPerBoxMiB,
    `${f.afterBoot.labFds}${f.afterBoot.listenerFds.length ? ` + ${f.afterBoot.listenerFds.join('/')}` : ''}`,
    `${f.show.p50Ms} / ${f.show.p95Ms}`,
    `${f.issuance.ok} in ${f.issuance.seconds} s`,
    f.afterIssue.rssPerBoxMiB,
  ];
  writeResult({
    name: 'scale-lab',
    full,
    figures: {
      reference: r,
      size: b,
      openFilesLimit: openFilesLimit() ?? null,
      labVerbs:
        'not measured: `lab up` configures a trap target on every box, one more UDP socket per box in the lab process, so 10,000 boxes need about 21,200 open files there and the lab refuses them at start (src/lab/open-files.ts); the verbs run over the same boxes as this bench',
      note: "each size in a child process of its own; memory after a full GC, against the child's RSS before its first box, plus the listener processes' RSS",
    },
    targets,
    table: table(
      [
        'boxes',
        'TCP listeners',
        'first boot s',
        'later boot s',
        'RSS MiB/box after boot',
        'open files (lab + listener processes)',
        'show over SSH p50/p95 ms',
        'certificates',
        'RSS MiB/box with certificates',
      ],
      [row(r), row(b)],
    ),
  });
}

// A child run: `node scale-lab.js <n>` (forked by inChild).
if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2]) {
  measureSize(Number(process.argv[2])).then(
    (figures) => {
      process.send?.({ figures });
      process.disconnect?.();
      process.exit(0);
    },
    (err: Error) => {
      console.error(err);
      process.send?.({ error: err.message });
      process.exit(1);
    },
  );
}
