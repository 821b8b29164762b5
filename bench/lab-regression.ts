/**
 * The regression a manager's test suite runs, on the user's path: Lab.up as
 * `gvos-sim lab up --boxes N` uses it (fresh Pebble and snmptrapd started by
 * the lab, every box configured through its command layer, certificates
 * issued), then a fleet `lab acme revoke` of every box (re-issue, install,
 * revoke the old one, two traps each), every notification decoded by the
 * lab's snmptrapd and counted in its log.
 *
 * Phases (s): start (until the last box began configuring), configure
 * (until the lab began issuing), issue, revoke, traps drained (after the
 * revoke, until the trap log holds every expected line), and the total.
 *
 * Side by side in the same run: the agent-alone rate (bench/fleet-issuance:
 * the same number of boxes issuing without the lab, at the lab's fleet
 * parallelism, fresh Pebble),
 * and the CPU of this process per certificate against Pebble's during the
 * lab's issuance.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileFirmwareCatalog } from '../src/firmware/catalog.js';
import { openLabLog } from '../src/lab/lab-log.js';
import { FLEET_PARALLEL, Lab, type LabProgress } from '../src/lab/lab.js';
import { defaultTopology } from '../src/lab/topology.js';
import { agentAloneRun } from './fleet-issuance.js';
import {
  CERT_CPU_CATEGORIES,
  perUnitCpuMs,
  startProfiler,
  type Breakdown,
  type RunningProfile,
} from './profile.js';
import { threadCpuMs, threadSplitPerCertMs } from './fleet.js';
import {
  countReasons,
  gcIfExposed,
  gcWatch,
  heapState,
  machineCpuMs,
  othersCores,
  procCpuSplit,
  resultPath,
  stamped,
  mark,
  table,
  writeResult,
  type Target,
} from './lib.js';
import {
  appendRuns,
  medianRunIndex,
  spreadOf,
  spreadText,
  referenceRatios,
  timelineOf,
  type Spread,
  type Timeline,
  type WindowRate,
} from './runs.js';

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/** Whether `node --expose-gc` gave this process gc() (then a full GC runs before every measured window). */
const gcIfExposedAvailable = () => typeof (globalThis as { gc?: unknown }).gc === 'function';

/** Lines in the trap log (one per decoded notification). */
function trapLines(file: string | null): number {
  if (!file) return 0;
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim()).length;
  } catch {
    return 0;
  }
}

/** Resolves with the trap count once it reaches `want`, or once it has not grown for `quietMs`. */
async function drainTraps(file: string | null, want: number, quietMs = 5000): Promise<number> {
  let last = -1;
  let since = performance.now();
  for (;;) {
    const n = trapLines(file);
    if (n >= want) return n;
    if (n !== last) {
      last = n;
      since = performance.now();
    } else if (performance.now() - since > quietMs) return n;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Where a certificate's CPU went in one window of the profiled run (ms per certificate). */
interface CpuProfileWindow {
  certificates: number;
  /** The main thread by category: the profile's shares of its busy samples, scaled to its measured CPU. */
  mainThreadMsPerCert: Record<string, number>;
  mainThreadTotalMsPerCert: number;
  /** The other threads (libuv pool: state-file writes and fsync, key generation, DNS; V8's GC helpers). */
  otherThreadsMsPerCert: number;
  pebbleMsPerCert: number;
}

/** The target-3 note of a run that missed it: the ratio's two sides, and where ours goes from the profiled run. */
function cpuRatioNote(
  r: { lab: { labCpuPerCertMs: number; pebbleCpuPerCertMs: number } },
  p?: CpuProfileWindow,
): string {
  const head = `Simulator ${r.lab.labCpuPerCertMs} ms vs Pebble ${r.lab.pebbleCpuPerCertMs} ms per certificate in the issue phase.`;
  if (!p)
    return `${head} Where it goes: cpuProfile in this benchmark's median-run JSON (a profiled run after the measured ones; GVOS_BENCH_PROFILE=0 skips it).`;
  const top = Object.entries(p.mainThreadMsPerCert)
    .slice(0, 8)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return (
    `${head} Where ours goes (the profiled run after the measured ones, ms per certificate): main thread ` +
    `${p.mainThreadTotalMsPerCert}: ${top}; other threads ${p.otherThreadsMsPerCert} (state-file writes and ` +
    "fsync, key generation, V8's GC helpers). Pebble pays TLS, HTTP and a JWS check per request as we do; " +
    'the certificate key, the CSR, the chain check, durable state writes and the trap are work a real box does ' +
    'that Pebble has no counterpart for.'
  );
}

/** CPU ms per certificate between two readings, user and system apart. */
function cpuPerCert(
  a: { user: number; sys: number },
  b: { user: number; sys: number },
  certs: number,
): { totalMs: number; userMs: number; sysMs: number } {
  const per = (x: number) => round((x / Math.max(certs, 1)) * 1000);
  return {
    totalMs: per(b.user - a.user + b.sys - a.sys),
    userMs: per(b.user - a.user),
    sysMs: per(b.sys - a.sys),
  };
}

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/**
 * The second octet of the lab's addresses, 127.N.0.0 (the agent-alone runs
 * take 127.N-1.0.0): 79 unless GVOS_BENCH_OCTET says otherwise, so that two
 * runs on one machine (helpers profiling at once) do not take each other's
 * addresses and ports.
 */
function benchOctet(): number {
  const n = Number(process.env.GVOS_BENCH_OCTET);
  return Number.isInteger(n) && n >= 3 && n <= 254 ? n : 79;
}

/**
 * One lab regression run of `n` boxes; resolves with its figures. `profile`:
 * the issue and revoke windows under V8's sampling profiler too (slower: for
 * where the CPU goes, not for the figures).
 */
async function labRun(n: number, labsDir: string, o: { profile?: boolean } = {}) {
  const catalog = new FileFirmwareCatalog();
  const topology = defaultTopology(n, {
    firmware: catalog.list().map((i) => ({ version: i.version, models: i.models, acme: i.features.acme })),
    defaultFirmware: catalog.latest().version,
  });
  // Own addresses, apart from the tests' 127.0.0.10x (a run may overlap a test elsewhere).
  topology.lab = 'bench-regression';
  topology.network = { ...topology.network, addressBase: `127.${benchOctet()}.0.0`, addressOffset: 0 };
  const marks: Record<string, number> = {};
  let configuring = 0;
  let lastConfiguring = 0;
  let issueCpu0 = { user: 0, sys: 0 };
  let pebblePid = 0;
  let pebbleCpu0 = { user: 0, sys: 0 };
  let issueGc: ReturnType<typeof gcWatch> | undefined;
  let issueHeap0 = heapState();
  let issueProfiler: Promise<RunningProfile> | undefined;
  let issueMachine0 = machineCpuMs();
  let issueThreads0 = threadCpuMs();
  const issueDoneMs: number[] = [];
  const progress: LabProgress = {
    phase: (m) => {
      if (m.startsWith('issuing')) {
        // Before the window, as for the agent alone: the boot's garbage is not the issue's.
        gcIfExposed();
        issueHeap0 = heapState();
        issueGc = gcWatch();
        marks.issue = performance.now();
        mark(`issue-${n}`);
        issueThreads0 = threadCpuMs();
        issueCpu0 = procCpuSplit('self');
        pebbleCpu0 = procCpuSplit(pebblePid);
        issueMachine0 = machineCpuMs();
        if (o.profile) issueProfiler = startProfiler();
      }
    },
    box: (_id, _h, state) => {
      if (state === 'configuring' && ++configuring === n) lastConfiguring = performance.now();
      else if (state === 'issue: ok' && marks.issue !== undefined)
        issueDoneMs.push(performance.now() - marks.issue);
    },
  };
  const t0 = performance.now();
  mark(`start-${n}`);
  const lab = await Lab.up({
    topology,
    labsDir,
    catalog,
    logger: openLabLog(join(labsDir, 'lab.log'), 'info', { lab: topology.lab }).logger,
    progress,
    onProcesses: (ps) => (pebblePid = ps.find((p) => p.name === 'pebble')?.pid ?? pebblePid),
  });
  try {
    const tUp = performance.now();
    mark(`issued-${n}`);
    const issueCpu1 = procCpuSplit('self');
    const issueThreads1 = threadCpuMs();
    const issueGcFigures = issueGc?.stop();
    const issueHeap1 = heapState();
    const issueBreakdown = await (await issueProfiler)?.stop(CERT_CPU_CATEGORIES);
    const ids = lab.runner.ids();
    const issued = ids.filter((id) => lab.boxStatus(id).certificate.status === 'valid').length;
    const pebbleCpu1 = procCpuSplit(pebblePid);
    const issueMachine1 = machineCpuMs();
    const revokeProfiler = o.profile ? await startProfiler() : undefined;
    const trapsBefore = await drainTraps(lab.trapLog, Number.MAX_SAFE_INTEGER, 1500);
    gcIfExposed();
    const revokeHeap0 = heapState();
    const revokeGc = gcWatch();
    const tRevoke0 = performance.now();
    mark(`revoke-${n}`);
    const revokeCpu0 = procCpuSplit('self');
    const revokeThreads0 = threadCpuMs();
    const revokePebble0 = procCpuSplit(pebblePid);
    const revokeRows = await lab.fleet('revoke', ids);
    const revoked = revokeRows.filter((r) => r.ok).length;
    const tRevoke1 = performance.now();
    mark(`revoked-${n}`);
    const revokeGcFigures = revokeGc.stop();
    const revokeHeap1 = heapState();
    const revokeCpu = {
      ...cpuPerCert(revokeCpu0, procCpuSplit('self'), revoked),
      ...threadSplitPerCertMs(revokeThreads0, threadCpuMs(), revoked),
    };
    const revokePebble = cpuPerCert(revokePebble0, procCpuSplit(pebblePid), revoked);
    const revokeBreakdown = await revokeProfiler?.stop(CERT_CPU_CATEGORIES);
    const issueCpu = {
      ...cpuPerCert(issueCpu0, issueCpu1, issued),
      ...threadSplitPerCertMs(issueThreads0, issueThreads1, issued),
    };
    const issuePebble = cpuPerCert(pebbleCpu0, pebbleCpu1, issued);
    const profileWindow = (
      b: Breakdown | undefined,
      cpu: { mainThread: number; otherThreads: number },
      pebble: { totalMs: number },
      certificates: number,
    ): CpuProfileWindow | undefined =>
      b && {
        certificates,
        mainThreadMsPerCert: perUnitCpuMs(b, cpu.mainThread * certificates, certificates),
        mainThreadTotalMsPerCert: cpu.mainThread,
        otherThreadsMsPerCert: cpu.otherThreads,
        pebbleMsPerCert: pebble.totalMs,
      };
    const cpuProfile = o.profile
      ? {
          issue: profileWindow(issueBreakdown, issueCpu, issuePebble, issued),
          revoke: profileWindow(revokeBreakdown, revokeCpu, revokePebble, revoked),
        }
      : undefined;
    const want = trapsBefore + 2 * n;
    const trapsAfter = await drainTraps(lab.trapLog, want);
    const tEnd = performance.now();
    const s = (a: number, b: number) => round((b - a) / 1000, 2);
    const issueS = s(marks.issue!, tUp);
    const cpuMs = (a: { user: number; sys: number }, b: { user: number; sys: number }) =>
      (b.user - a.user + b.sys - a.sys) * 1000;
    const issueMachine = othersCores(
      issueMachine0,
      issueMachine1,
      cpuMs(issueCpu0, issueCpu1) + cpuMs(pebbleCpu0, pebbleCpu1),
      tUp - marks.issue!,
    );
    return {
      n,
      phases: {
        start: s(t0, lastConfiguring || marks.issue!),
        configure: s(lastConfiguring || marks.issue!, marks.issue!),
        issue: issueS,
        revoke: s(tRevoke0, tRevoke1),
        trapsDrained: s(tRevoke1, tEnd),
        // Less the wait for the boot/issue traps to settle before the revoke (a measuring pause, not the user's).
        total: round(s(t0, tEnd) - s(tUp, tRevoke0), 2),
      },
      issued,
      revoked,
      certsPerSec: round(issued / issueS),
      /** When the boxes' issues completed in the issue window: the start, the steady rate, the tail. */
      issueTimeline: timelineOf(issueDoneMs, n),
      labCpuPerCertMs: issueCpu.totalMs,
      /** Cores' worth of CPU the rest of the machine used in the issue window (not this process, not the lab's Pebble; the lab's snmptrapd is among the rest). */
      issueMachine,
      pebbleCpuPerCertMs: issuePebble.totalMs,
      /** CPU per certificate, user and system apart: the issue phase, and the revoke phase (per re-issued and revoked box). */
      cpuPerCertMs: {
        issue: { simulator: issueCpu, pebble: issuePebble },
        revoke: { simulator: revokeCpu, pebble: revokePebble },
      },
      /** Main-thread GC pauses in the issue and revoke windows (a full GC ran before each with --expose-gc). */
      gc: { issue: issueGcFigures, revoke: revokeGcFigures, fullGcBeforeWindows: gcIfExposedAvailable() },
      /** This process's heap at the start and end of each window (the new space a window starts with sets its scavenges). */
      heap: {
        issue: { start: issueHeap0, end: issueHeap1 },
        revoke: { start: revokeHeap0, end: revokeHeap1 },
      },
      /** Only in the profiled run: where a certificate's CPU went, by category. */
      ...(cpuProfile ? { cpuProfile } : {}),
      traps: { beforeRevoke: trapsBefore, afterRevoke: trapsAfter, expectedFromRevoke: 2 * n },
      /** Why boxes failed, if any did: the issue's last request status, the revoke's fleet result. */
      failures: {
        issue: countReasons(
          ids
            .filter((id) => lab.boxStatus(id).certificate.status !== 'valid')
            .map((id) => lab.runner.box(id)?.acmeState().lastRequest?.reason ?? 'no request status'),
        ),
        revoke: countReasons(revokeRows.filter((r) => !r.ok).map((r) => r.result)),
      },
    };
  } finally {
    await lab.down();
  }
}

/** Boxes of the discarded agent-alone warm-up before the first run. */
const WARM_UP_ALONE = 100;

/** How the agent-alone reference of a run is formed (said in every JSON). */
const REFERENCE_METHOD =
  'The agent alone (bench/fleet-issuance agentAloneRun: the same n boxes in this process, FLEET_PARALLEL at a time ' +
  "behind the same gate, counted when the box's request succeeded, a fresh Pebble) is run twice in each run: just " +
  'before the lab and just after it. The reference rate is the mean of the two, so a drift of the machine (load from ' +
  "other processes) or of this process (heap, JIT) during the run weighs on both sides alike, and neither side's order " +
  "is chosen after the fact; the ratios to each of the two are given too. Every window (each agent alone, the lab's " +
  'issue and revoke) starts after a full GC (with --expose-gc) and with the same young generation (`heap`: V8 grows ' +
  'it to its maximum in the first busy window and a full GC does not shrink it). Two figures explain the ratio and ' +
  'are not the target: `equalShareRatio` (main-thread CPU per certificate, alone over lab: both paths are bound by ' +
  "that thread) and `pebbleNormalizedRatio` (each rate times Pebble's CPU per certificate in its window: Pebble does " +
  'the same work per certificate on both paths, so this takes out how fast the machine ran in each window); ' +
  '`machine` and `issueMachine` give the CPU the rest of the machine used in each window.';

/** One whole regression: agent alone, the lab, agent alone again. */
async function regressionRun(n: number, labsDir: string, index: number) {
  const startedAt = new Date().toISOString();
  const loadAtStart = loadavg().map((x) => round(x, 2));
  const before = await agentAloneRun(n, `127.${benchOctet() - 1}.0.0`, FLEET_PARALLEL);
  const lab = await labRun(n, labsDir);
  const after = await agentAloneRun(n, `127.${benchOctet() - 1}.0.0`, FLEET_PARALLEL);
  const window = (w: Awaited<ReturnType<typeof agentAloneRun>>): WindowRate => ({
    certsPerSec: w.certsPerSec,
    pebbleCpuPerCertMs: w.pebbleCpuPerCertMs,
    mainThreadCpuPerCertMs: w.clientCpuSplitPerCertMs?.mainThread ?? NaN,
  });
  const ratios = referenceRatios(
    {
      certsPerSec: lab.certsPerSec,
      pebbleCpuPerCertMs: lab.pebbleCpuPerCertMs,
      mainThreadCpuPerCertMs: lab.cpuPerCertMs.issue.simulator.mainThread,
    },
    window(before),
    window(after),
  );
  return {
    run: index + 1,
    startedAt,
    commit: commit(),
    loadAverageAtStart: loadAtStart,
    loadAverageAtEnd: loadavg().map((x) => round(x, 2)),
    /** Every box issued and revoked (a run that did not is no figure: a Pebble stall, see README). */
    finished: lab.issued === n && lab.revoked === n,
    lab,
    agentAlone: { before, after },
    /** Target 2 (labRatio) and what explains it: runs.ts referenceRatios. */
    reference: { method: REFERENCE_METHOD, ...ratios },
    cpuRatio: round(lab.labCpuPerCertMs / Math.max(lab.pebbleCpuPerCertMs, 0.1), 2),
    cpuRatioRevoke: round(
      lab.cpuPerCertMs.revoke.simulator.totalMs / Math.max(lab.cpuPerCertMs.revoke.pebble.totalMs, 0.1),
      2,
    ),
  };
}

type RegressionRun = Awaited<ReturnType<typeof regressionRun>>;

/** The targets of one run (`spreads`: the same figures across every run, shown beside the run's own). */
function targetsOf(
  r: RegressionRun,
  full: boolean,
  spreads?: Record<'total' | 'rate' | 'rateNormalized' | 'cpu', Spread>,
  profile?: CpuProfileWindow,
): Target[] {
  const { lab, n } = { lab: r.lab, n: r.lab.n };
  const p = lab.phases;
  const ref = r.reference;
  const sp = (k: 'total' | 'rate' | 'rateNormalized' | 'cpu', digits: number, unit = '') =>
    spreads && spreads[k].values.length > 1 ? `; ${spreadText(spreads[k], digits, unit)}` : '';
  const met = (k: 'rate' | 'cpu', ok: (x: number) => boolean) =>
    spreads && spreads[k].values.length > 1
      ? `; met in ${spreads[k].values.filter(ok).length} of ${spreads[k].values.length}`
      : '';
  return [
    {
      name: `regression of ${n} boxes, start to last trap`,
      target: full ? '< 30 s' : '< 30 s (full size: 1000 boxes)',
      measured: `${p.total} s${sp('total', 1, ' s')}`,
      met: p.total < 30 && r.finished && lab.traps.afterRevoke - lab.traps.beforeRevoke >= 2 * n,
    },
    {
      name: 'lab issuance rate / agent-alone rate (same run; reference: mean of agent alone before and after the lab)',
      target: '>= 0.9',
      measured:
        `${ref.labRatio} (${lab.certsPerSec} vs ${ref.certsPerSec}/s; to before ${ref.labRatioToBefore}, to after ` +
        `${ref.labRatioToAfter})${sp('rate', 2)}${met('rate', (x) => x >= 0.9)}; in units of Pebble's work ` +
        `(the machine's speed in each window taken out) ${ref.pebbleNormalizedRatio}${sp('rateNormalized', 2)}`,
      met: ref.labRatio >= 0.9,
    },
    {
      name: 'lab simulator CPU per cert / Pebble CPU per cert (same run)',
      target: '<= 1.5x',
      measured: `${r.cpuRatio}x (${lab.labCpuPerCertMs} vs ${lab.pebbleCpuPerCertMs} ms)${sp('cpu', 2, 'x')}${met('cpu', (x) => x <= 1.5)}`,
      met: r.cpuRatio <= 1.5,
      ...(r.cpuRatio <= 1.5 ? {} : { note: cpuRatioNote(r, profile) }),
    },
  ];
}

/** The profiled run as a table: ms per certificate by category, issue and revoke side by side. */
function profileTable(cp?: { n: number; issue?: CpuProfileWindow; revoke?: CpuProfileWindow }): string {
  if (!cp?.issue) return '';
  const { issue, revoke } = cp;
  const rows: (string | number)[][] = Object.entries(issue.mainThreadMsPerCert).map(([k, v]) => [
    `main thread: ${k === 'other' ? "other (V8's own, promise jobs, sockets accepted or read with no frame of ours)" : k}`,
    v,
    revoke?.mainThreadMsPerCert[k] ?? '-',
  ]);
  rows.push(
    ['main thread, all', issue.mainThreadTotalMsPerCert, revoke?.mainThreadTotalMsPerCert ?? '-'],
    [
      'other threads (libuv pool, V8 GC helpers)',
      issue.otherThreadsMsPerCert,
      revoke?.otherThreadsMsPerCert ?? '-',
    ],
    ['Pebble, whole process', issue.pebbleMsPerCert, revoke?.pebbleMsPerCert ?? '-'],
  );
  return (
    `\n\nWhere a certificate's CPU goes: profiled lab run of ${cp.n} boxes (ms per certificate; slower than the ` +
    'measured runs):\n\n' +
    table(['where', 'issue', 'revoke'], rows)
  );
}

/** One line per run on stdout while the runs go on. */
function runLine(r: RegressionRun, of: number): string {
  const a = r.agentAlone;
  const gcMs = (g?: { ms: number }) => g?.ms ?? '-';
  const tl = (x?: Timeline | null) => (x ? `${x.p10S}/${x.p90S}/${x.lastS} (${x.steadyPerSec}/s)` : '-');
  return (
    `run ${r.run}/${of}: total ${r.lab.phases.total} s, lab ${r.lab.certsPerSec}/s, agent alone ` +
    `${a.before.certsPerSec}/s before and ${a.after.certsPerSec}/s after: ${r.reference.labRatio} (equal shares ${r.reference.equalShareRatio}, Pebble-normalized ${r.reference.pebbleNormalizedRatio}); CPU ${r.cpuRatio}x; ` +
    `CPU/cert ms alone ${a.before.clientCpuPerCertMs}/${a.after.clientCpuPerCertMs}, lab ${r.lab.labCpuPerCertMs}` +
    ` (main thread ${a.before.clientCpuSplitPerCertMs?.mainThread}/${a.after.clientCpuSplitPerCertMs?.mainThread}, lab ${r.lab.cpuPerCertMs.issue.simulator.mainThread}); ` +
    `GC ms alone ${gcMs(a.before.gc)}/${gcMs(a.after.gc)}, lab ${gcMs(r.lab.gc.issue)}; ` +
    `others' cores alone ${a.before.machine?.otherProcesses}/${a.after.machine?.otherProcesses}, lab ${r.lab.issueMachine.otherProcesses}; ` +
    `10%/90%/last s alone ${tl(a.before.timeline)} and ${tl(a.after.timeline)}, lab ${tl(r.lab.issueTimeline)}` +
    `${r.finished ? '' : ` (NOT finished: ${r.lab.issued} issued, ${r.lab.revoked} revoked of ${r.lab.n})`}; load ${r.loadAverageAtStart[0]}`
  );
}

/**
 * The lab regression, run `runs` times (`--runs K`, GVOS_BENCH_RUNS), each a
 * whole regression with its own agent-alone references (fresh Pebbles). Every
 * run is appended to bench/results/<file>-runs.json as it ends (never
 * overwritten); the median run by total (among runs where every box was
 * issued and revoked) goes to bench/results/<file>.json, with each target's
 * spread across the runs. `file`: GVOS_BENCH_RESULT, default lab-regression.
 */
export async function labRegressionBench(full: boolean, o: { runs?: number } = {}): Promise<void> {
  // GVOS_BENCH_BOXES overrides the size (profiling at 100-300 boxes: node --cpu-prof dist/bench/run.js ...).
  const n = Number(process.env.GVOS_BENCH_BOXES) || (full ? 1000 : 100);
  const runs = Math.max(1, Math.floor(o.runs ?? 1));
  const file = process.env.GVOS_BENCH_RESULT || 'lab-regression';
  const history = resultPath(`${file}-runs`);
  const labsDir = mkdtempSync(join(tmpdir(), 'gvos-bench-lab-'));
  const done: RegressionRun[] = [];
  let profiledRun: Awaited<ReturnType<typeof labRun>> | undefined;
  try {
    // Warm-up (not measured): module loading and JIT of the lab path, then of the agent-alone path, so
    // that run 1's first reference is as warm as every later one (which follows an agent-alone run).
    await labRun(10, labsDir);
    await agentAloneRun(Math.min(n, WARM_UP_ALONE), `127.${benchOctet() - 1}.0.0`, FLEET_PARALLEL);
    for (let i = 0; i < runs; i++) {
      const r = await regressionRun(n, labsDir, i);
      done.push(r);
      // Each run as it ends: a later run that hangs or crashes loses none before it.
      appendRuns(
        history,
        [stamped({ name: 'lab-regression', full, ...r, targets: targetsOf(r, full) }, r.startedAt)],
        {
          name: 'lab-regression',
          note: 'Every run of bench/lab-regression, appended as it ends (never overwritten).',
        },
      );
      console.log(runLine(r, runs));
    }
    // Where the CPU goes, from a run of its own after the measured ones (the profiler slows what it watches).
    if (process.env.GVOS_BENCH_PROFILE !== '0') profiledRun = await labRun(n, labsDir, { profile: true });
  } finally {
    await rm(labsDir, { recursive: true, force: true });
  }
  const m = medianRunIndex(done.map((r) => (r.finished ? r.lab.phases.total : null)));
  // No run finished: the slowest is shown, marked not finished by its targets.
  const med = done[m] ?? done.reduce((w, r) => (r.lab.phases.total > w.lab.phases.total ? r : w));
  const spreads = {
    total: spreadOf(done.map((r) => r.lab.phases.total)),
    rate: spreadOf(done.map((r) => r.reference.labRatio)),
    rateNormalized: spreadOf(done.map((r) => r.reference.pebbleNormalizedRatio)),
    cpu: spreadOf(done.map((r) => r.cpuRatio)),
  };
  const lab = med.lab;
  const p = lab.phases;
  const a = med.agentAlone;
  const cpuProfile = profiledRun?.cpuProfile && {
    n,
    method:
      "One more lab run of the same size after the measured ones, its issue and revoke windows under V8's sampling " +
      'profiler (500 µs; not in the figures above: the profiler slows what it watches). Main thread: each ' +
      "category's share of the busy samples (a sample counts for the innermost frame of ours or of a dependency " +
      "on its stack, so a native call counts for the code that made it), scaled to the main thread's measured CPU " +
      '(/proc) in the window; samples are wall time, so under load a call the kernel descheduled weighs more than ' +
      'its CPU. Other threads and Pebble: /proc, the same window.',
    ...profiledRun.cpuProfile,
  };
  const rows: (string | number)[][] = [
    [
      'runs (the median run by total is shown)',
      `${done.length}, median run ${med.run}${m < 0 ? ' (none finished)' : ''}`,
    ],
    ['lab: start (s)', p.start],
    ['lab: configure (s)', p.configure],
    ['lab: issue (s)', p.issue],
    ['lab: revoke all (s)', p.revoke],
    ['lab: traps drained after revoke (s)', p.trapsDrained],
    ['lab: total, start to last trap (s)', p.total],
    ['lab: certificates issued / revoked', `${lab.issued} / ${lab.revoked} of ${n}`],
    [
      'lab: traps from the revoke (counted / expected)',
      `${lab.traps.afterRevoke - lab.traps.beforeRevoke} / ${lab.traps.expectedFromRevoke}`,
    ],
    ['lab: issuance rate (certs/s)', lab.certsPerSec],
    [
      `agent alone, ${FLEET_PARALLEL} at a time, before / after the lab (certs/s)`,
      `${a.before.certsPerSec} / ${a.after.certsPerSec} (reference ${med.reference.certsPerSec})`,
    ],
    [
      "lab / agent alone, each rate in units of Pebble's work in its window (rate x Pebble CPU per cert)",
      med.reference.pebbleNormalizedRatio,
    ],
    [
      'lab / agent alone with equal shares of a core (main-thread CPU per cert, alone / lab)',
      med.reference.equalShareRatio,
    ],
    ['lab: simulator CPU per cert (ms)', lab.labCpuPerCertMs],
    ['lab: Pebble CPU per cert (ms)', lab.pebbleCpuPerCertMs],
    [
      'agent alone before: simulator / Pebble CPU per cert (ms)',
      `${a.before.clientCpuPerCertMs} / ${a.before.pebbleCpuPerCertMs}`,
    ],
  ];
  if (done.length > 1) {
    const list = (s: Spread) => s.values.join(', ');
    rows.push(
      ['every run: total (s)', list(spreads.total)],
      ['every run: lab / agent alone', list(spreads.rate)],
      ['every run: lab / agent alone before', done.map((r) => r.reference.labRatioToBefore).join(', ')],
      ['every run: lab / agent alone after', done.map((r) => r.reference.labRatioToAfter).join(', ')],
      ["every run: lab / agent alone in units of Pebble's work", list(spreads.rateNormalized)],
      [
        'every run: lab / agent alone with equal core shares',
        done.map((r) => r.reference.equalShareRatio).join(', '),
      ],
      ['every run: simulator / Pebble CPU per cert', list(spreads.cpu)],
      ['every run: finished', done.map((r) => (r.finished ? 'yes' : 'NO')).join(', ')],
    );
  }
  writeResult(
    {
      name: 'lab-regression',
      full,
      startedAt: med.startedAt,
      figures: {
        commit: med.commit,
        /** This process's Node/V8 flags (the GC settings measured: README "Performance"). */
        nodeFlags: process.execArgv,
        loadAverageAtStart: med.loadAverageAtStart,
        loadAverageAtEnd: med.loadAverageAtEnd,
        runs: done.length,
        medianRun: med.run,
        method:
          `${done.length} whole runs in one process after two discarded warm-ups (a 10-box lab, then ` +
          `${Math.min(n, WARM_UP_ALONE)} boxes of the agent alone); this file is the median run by total ` +
          `among the runs where every box was issued and revoked; every run is in ${file}-runs.json. ` +
          REFERENCE_METHOD,
        spreads,
        lab,
        agentAlone: a.before,
        agentAloneAfter: a.after,
        reference: med.reference,
        ...(cpuProfile ? { cpuProfile } : {}),
        everyRun: done.map((r) => ({
          run: r.run,
          startedAt: r.startedAt,
          finished: r.finished,
          total: r.lab.phases.total,
          labRate: r.lab.certsPerSec,
          agentAloneBefore: r.agentAlone.before.certsPerSec,
          agentAloneAfter: r.agentAlone.after.certsPerSec,
          ratio: r.reference.labRatio,
          equalShareRatio: r.reference.equalShareRatio,
          pebbleNormalizedRatio: r.reference.pebbleNormalizedRatio,
          cpuRatio: r.cpuRatio,
          cpuRatioRevoke: r.cpuRatioRevoke,
          load: r.loadAverageAtStart,
        })),
      },
      targets: targetsOf(med, full, spreads, cpuProfile?.issue),
      table: table(['figure', 'value'], rows) + profileTable(cpuProfile),
    },
    file,
  );
}
