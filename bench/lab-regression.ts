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
import { JsonLogger } from '../src/lib/logger.js';
import { FLEET_PARALLEL, Lab, type LabProgress } from '../src/lab/lab.js';
import { defaultTopology } from '../src/lab/topology.js';
import { agentAloneRun } from './fleet-issuance.js';
import { procCpuSplit, table, writeResult, type Target } from './lib.js';

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

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

/**
 * With GVOS_BENCH_MARKS=1, prints `mark <name> <µs>` on stderr at each phase
 * boundary, on the clock of V8's CPU profiles (process.hrtime), so that a
 * `node --cpu-prof` profile can be cut to one phase.
 */
function mark(name: string): void {
  if (process.env.GVOS_BENCH_MARKS === '1')
    process.stderr.write(`mark ${name} ${process.hrtime.bigint() / 1000n}\n`);
}

/**
 * Why the CPU ratio target is missed, from the 300-box profile of the issue
 * phase (lab process, main thread; README "Performance").
 */
const CPU_RATIO_NOTE =
  'Fewer requests per certificate (Replay-Nonces pooled: no newNonce; a stored account URL: no newAccount on renew/revoke) ' +
  "lower Pebble's CPU as much as ours, since Pebble pays TLS, HTTP and a JWS check per request too, so the ratio stays " +
  'about 1.9x. Left on our side (300-box issue phase, main thread): the HTTP client, TLS and loopback writes about 50% ' +
  '(about 10 requests per certificate), ES256 signing 7.6%, durable state writes 9% (two per certificate, each ten file ' +
  'operations and two fsyncs; Pebble keeps its state in memory), GC 6%, the certificate key 4.4%, the chain check 3.4%, ' +
  'traps 3%, the http-01 answers 2.4%, the CSR 1.3%: key, CSR, chain check and durable state are work a real box does ' +
  'and Pebble has no counterpart for.';

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

/** How many times each failure reason occurred (digits folded, so one reason counts once). */
function reasons(failures: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of failures) {
    const k = f.replace(/\d+/g, 'N').slice(0, 200);
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/** One lab regression run of `n` boxes; resolves with its figures. */
async function labRun(n: number, labsDir: string) {
  const catalog = new FileFirmwareCatalog();
  const topology = defaultTopology(n, {
    firmware: catalog.list().map((i) => ({ version: i.version, models: i.models, acme: i.features.acme })),
    defaultFirmware: catalog.latest().version,
  });
  // Own addresses, apart from the tests' 127.0.0.10x (a run may overlap a test elsewhere).
  topology.lab = 'bench-regression';
  topology.network = { ...topology.network, addressBase: '127.79.0.0', addressOffset: 0 };
  const marks: Record<string, number> = {};
  let configuring = 0;
  let lastConfiguring = 0;
  let issueCpu0 = { user: 0, sys: 0 };
  let pebblePid = 0;
  let pebbleCpu0 = { user: 0, sys: 0 };
  const progress: LabProgress = {
    phase: (m) => {
      if (m.startsWith('issuing')) {
        marks.issue = performance.now();
        mark(`issue-${n}`);
        issueCpu0 = procCpuSplit('self');
        pebbleCpu0 = procCpuSplit(pebblePid);
      }
    },
    box: (_id, _h, state) => {
      if (state === 'configuring' && ++configuring === n) lastConfiguring = performance.now();
    },
  };
  const t0 = performance.now();
  mark(`start-${n}`);
  const lab = await Lab.up({
    topology,
    labsDir,
    catalog,
    logger: new JsonLogger('warn', { lab: topology.lab }, () => undefined),
    progress,
    onProcesses: (ps) => (pebblePid = ps.find((p) => p.name === 'pebble')?.pid ?? pebblePid),
  });
  try {
    const tUp = performance.now();
    mark(`issued-${n}`);
    const issueCpu1 = procCpuSplit('self');
    const ids = lab.runner.ids();
    const issued = ids.filter((id) => lab.boxStatus(id).certificate.status === 'valid').length;
    const pebbleCpu1 = procCpuSplit(pebblePid);
    const trapsBefore = await drainTraps(lab.trapLog, Number.MAX_SAFE_INTEGER, 1500);
    const tRevoke0 = performance.now();
    mark(`revoke-${n}`);
    const revokeCpu0 = procCpuSplit('self');
    const revokePebble0 = procCpuSplit(pebblePid);
    const revokeRows = await lab.fleet('revoke', ids);
    const revoked = revokeRows.filter((r) => r.ok).length;
    const tRevoke1 = performance.now();
    mark(`revoked-${n}`);
    const revokeCpu = cpuPerCert(revokeCpu0, procCpuSplit('self'), revoked);
    const revokePebble = cpuPerCert(revokePebble0, procCpuSplit(pebblePid), revoked);
    const issueCpu = cpuPerCert(issueCpu0, issueCpu1, issued);
    const issuePebble = cpuPerCert(pebbleCpu0, pebbleCpu1, issued);
    const want = trapsBefore + 2 * n;
    const trapsAfter = await drainTraps(lab.trapLog, want);
    const tEnd = performance.now();
    const s = (a: number, b: number) => round((b - a) / 1000, 2);
    const issueS = s(marks.issue!, tUp);
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
      labCpuPerCertMs: issueCpu.totalMs,
      pebbleCpuPerCertMs: issuePebble.totalMs,
      /** CPU per certificate, user and system apart: the issue phase, and the revoke phase (per re-issued and revoked box). */
      cpuPerCertMs: {
        issue: { simulator: issueCpu, pebble: issuePebble },
        revoke: { simulator: revokeCpu, pebble: revokePebble },
      },
      traps: { beforeRevoke: trapsBefore, afterRevoke: trapsAfter, expectedFromRevoke: 2 * n },
      /** Why boxes failed, if any did: the issue's last request status, the revoke's fleet result. */
      failures: {
        issue: reasons(
          ids
            .filter((id) => lab.boxStatus(id).certificate.status !== 'valid')
            .map((id) => lab.runner.box(id)?.acmeState().lastRequest?.reason ?? 'no request status'),
        ),
        revoke: reasons(revokeRows.filter((r) => !r.ok).map((r) => r.result)),
      },
    };
  } finally {
    await lab.down();
  }
}

export async function labRegressionBench(full: boolean): Promise<void> {
  // GVOS_BENCH_BOXES overrides the size (profiling at 100-300 boxes: node --cpu-prof dist/bench/run.js ...).
  const n = Number(process.env.GVOS_BENCH_BOXES) || (full ? 1000 : 100);
  const load1 = loadavg();
  const labsDir = mkdtempSync(join(tmpdir(), 'gvos-bench-lab-'));
  try {
    // Warm-up (not measured): module loading and JIT of the lab path.
    await labRun(10, labsDir);
    const lab = await labRun(n, labsDir);
    const alone = await agentAloneRun(n, '127.78.0.0', FLEET_PARALLEL);
    const rateRatio = lab.certsPerSec / alone.certsPerSec;
    const cpuRatio = lab.labCpuPerCertMs / lab.pebbleCpuPerCertMs;
    const p = lab.phases;
    const rows: (string | number)[][] = [
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
      [`agent alone, ${FLEET_PARALLEL} at a time: issuance rate (certs/s)`, alone.certsPerSec],
      ['lab: simulator CPU per cert (ms)', lab.labCpuPerCertMs],
      ['lab: Pebble CPU per cert (ms)', lab.pebbleCpuPerCertMs],
      [
        'agent alone: simulator / Pebble CPU per cert (ms)',
        `${alone.clientCpuPerCertMs} / ${alone.pebbleCpuPerCertMs}`,
      ],
    ];
    const targets: Target[] = [
      {
        name: `regression of ${n} boxes, start to last trap`,
        target: full ? '< 30 s' : '< 30 s (full size: 1000 boxes)',
        measured: `${p.total} s`,
        met:
          p.total < 30 &&
          lab.issued === n &&
          lab.revoked === n &&
          lab.traps.afterRevoke - lab.traps.beforeRevoke >= 2 * n,
      },
      {
        name: 'lab issuance rate / agent-alone rate (same run)',
        target: '>= 0.9',
        measured: `${round(rateRatio, 2)} (${lab.certsPerSec} vs ${alone.certsPerSec}/s)`,
        met: rateRatio >= 0.9,
      },
      {
        name: 'lab simulator CPU per cert / Pebble CPU per cert (same run)',
        target: '<= 1.5x',
        measured: `${round(cpuRatio, 2)}x (${lab.labCpuPerCertMs} vs ${lab.pebbleCpuPerCertMs} ms)`,
        met: cpuRatio <= 1.5,
        ...(cpuRatio <= 1.5 ? {} : { note: CPU_RATIO_NOTE }),
      },
    ];
    writeResult({
      name: 'lab-regression',
      full,
      figures: {
        commit: commit(),
        loadAverageAtStart: load1.map((x) => round(x, 2)),
        loadAverageAtEnd: loadavg().map((x) => round(x, 2)),
        lab,
        agentAlone: alone,
      },
      targets,
      table: table(['figure', 'value'], rows),
    });
  } finally {
    await rm(labsDir, { recursive: true, force: true });
  }
}
