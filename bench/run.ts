/**
 * `npm run bench [-- --full] [-- --only <name>] [-- --runs K]`: runs every
 * benchmark (small sizes by default, a few minutes; full sizes with --full),
 * prints a table per benchmark and writes bench/results/<name>.json. Each
 * benchmark runs in a process of its own when several are run. `--runs K`
 * (or GVOS_BENCH_RUNS=K): a benchmark that supports repeated runs
 * (lab-regression) runs whole K times, appends every run to
 * bench/results/<name>-runs.json and writes the median run; the others run once.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { abortWaitsBench } from './abort-waits.js';
import { dashboardBench } from './dashboard.js';
import { fleetIssuanceBench } from './fleet-issuance.js';
import { hotSwapBench } from './hot-swap.js';
import { labRegressionBench } from './lab-regression.js';
import { listenerHandoffBench } from './listener-handoff.js';
import { notificationsBench } from './notifications.js';
import { scaleBench } from './scale.js';
import { scaleLabBench } from './scale-lab.js';
import { scaleLabUpBench } from './scale-lab-up.js';
import { scaleLabVerbsBench } from './scale-lab-verbs.js';
import { snmpAgentBench } from './snmp-agent.js';
import { soakBench } from './soak.js';

/** What a benchmark is given besides --full: how many whole runs (only lab-regression repeats). */
interface BenchOptions {
  runs: number;
}

const BENCHES: Record<string, (full: boolean, o: BenchOptions) => Promise<void>> = {
  // What an AbortSignal costs a wait at the CA's gate and the two-kind lock (a same-process reference without one).
  'abort-waits': abortWaitsBench,
  dashboard: dashboardBench,
  'fleet-issuance': fleetIssuanceBench,
  'hot-swap': hotSwapBench,
  'lab-regression': labRegressionBench,
  // A busy lab taking connections from 1, 3 and 8 listener processes (why a big lab spreads its listeners).
  'listener-handoff': listenerHandoffBench,
  notifications: notificationsBench,
  scale: scaleBench,
  // 10,000 boxes in one lab with --full (1000 without), the reference size in the same run.
  'scale-lab': scaleLabBench,
  // `lab up` to its table: 10,000 boxes with --full (100 without), 1000 (100) as the reference in the same run.
  'scale-lab-up': scaleLabUpBench,
  // `lab up` of 10,000 boxes with --full (100 without), then lab status / inventory / one fleet op, each timed.
  'scale-lab-verbs': scaleLabVerbsBench,
  'snmp-agent': snmpAgentBench,
  // --full only for the real soak (100 boxes, 200 SSH sessions, 5 min); without it a 100 s rehearsal.
  soak: soakBench,
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      full: { type: 'boolean', default: false },
      only: { type: 'string', multiple: true },
      runs: { type: 'string' },
    },
  });
  const runsText = values.runs ?? process.env.GVOS_BENCH_RUNS ?? '1';
  const runs = Number(runsText);
  if (!/^\d+$/.test(runsText) || runs < 1 || runs > 50)
    throw new Error(`--runs wants a whole number from 1 to 50 (got "${runsText}")`);
  const names = values.only?.length ? values.only : Object.keys(BENCHES);
  for (const n of names) {
    if (!BENCHES[n]) throw new Error(`unknown benchmark "${n}" (have ${Object.keys(BENCHES).join(', ')})`);
  }
  if (names.length === 1) {
    console.log(`running ${names[0]}${values.full ? ' (full)' : ''}...`);
    await BENCHES[names[0]!]!(values.full ?? false, { runs });
    return;
  }
  // Several: each in a process of its own, so that none inherits another's heap, JIT or
  // resident memory (scale's memory per box is a difference of RSS readings).
  let failed = 0;
  for (const n of names) {
    const args = ['--only', n, '--runs', String(runs), ...(values.full ? ['--full'] : [])];
    const code = await new Promise<number>((resolve) =>
      fork(fileURLToPath(import.meta.url), args, { stdio: 'inherit' }).once('exit', (c) => resolve(c ?? 1)),
    );
    if (code !== 0) {
      failed++;
      console.error(`bench: ${n} failed (exit code ${code})`);
    }
  }
  if (failed) throw new Error(`${failed} of ${names.length} benchmarks failed`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`bench: ${(err as Error).message}`);
    process.exit(1);
  },
);
