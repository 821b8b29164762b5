/**
 * Where a booted lab's resident memory goes (issue 16, target 4), for A/B
 * runs of two commits: boots N boxes as bench/scale-lab.ts does (a first
 * boot, stopped, then a later boot from the same data directories, in this
 * process) and prints RSS beside V8's own view of it (heap used and
 * committed, external, array buffers) and RSS by kind of mapping
 * (memoryFigures in lib.ts): before the GC, right after it, and 1, 5 and 15 s
 * later while idle.
 *
 * `node --expose-gc dist/bench/scale-lab-mem.js 2000`, boxes on
 * 127.<GVOS_BENCH_OCTET, default 83>.0.x. Options (environment):
 * - GVOS_MEM_PER_PROCESS=k: TCP listeners in listener processes of k each
 *   whatever the open-files limit (a 10,000-box lab's layout at a smaller size);
 * - GVOS_MEM_GC_BETWEEN=1: a full GC after the first fleet stops (scale-lab.ts
 *   does so since session 9);
 * - GVOS_MEM_SNAPSHOT=<file>: a heap snapshot of the booted lab.
 * One JSON line on stdout.
 */
import { loadavg } from 'node:os';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import { openFilesLimit, planListeners } from '../src/lab/open-files.js';
import { freePort } from '../src/lib/net.js';
import { bootFleet } from './fleet.js';
import { memoryFigures } from './lib.js';
import { collectGarbage } from './profile.js';

const MiB = 1024 * 1024;
const r1 = (x: number) => Math.round(x * 10) / 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function figures() {
  const spaces: Record<string, number> = {};
  for (const s of getHeapSpaceStatistics()) spaces[s.space_name] = r1(s.physical_space_size / MiB);
  return { ...memoryFigures(), committedBySpaceMiB: spaces };
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 2000);
  const base = `127.${Number(process.env.GVOS_BENCH_OCTET ?? 83)}.0.0`;
  const httpPort = await freePort('127.0.0.1');
  const ports = { ssh: 2222, cli: 2323, https: 8443, http: httpPort, snmp: 1161 };
  const planned = planListeners(n, openFilesLimit() ?? null);
  if ('problem' in planned) throw new Error(planned.problem);
  const forced = Number(process.env.GVOS_MEM_PER_PROCESS) || 0;
  const listenerProcesses = forced
    ? { perProcess: forced }
    : planned.plan.where === 'listener-processes'
      ? { perProcess: planned.plan.perProcess }
      : undefined;
  const gcBetween = process.env.GVOS_MEM_GC_BETWEEN === '1';
  collectGarbage();
  const before = figures();
  const load0 = loadavg()[0]!;
  const boot = (labDir?: string) =>
    bootFleet({
      n,
      cryptoMode: 'secure-crypto',
      addressBase: base,
      ports,
      ...(labDir ? { labDir } : {}),
      ...(listenerProcesses ? { listenerProcesses } : {}),
    });
  const first = await boot();
  await first.stop();
  if (gcBetween) collectGarbage();
  const t0 = performance.now();
  const fleet = await boot(first.labDir);
  const laterBootSeconds = (performance.now() - t0) / 1000;
  const noGc = figures();
  collectGarbage();
  const after = figures();
  const settled: Record<string, ReturnType<typeof figures>> = {};
  let slept = 0;
  for (const s of [1, 5, 15]) {
    await sleep((s - slept) * 1000);
    slept = s;
    settled[`${s}s`] = figures();
  }
  const snapshot = process.env.GVOS_MEM_SNAPSHOT;
  if (snapshot) writeHeapSnapshot(snapshot);
  const last = settled['15s']!;
  const perBoxKiB = (a: number, b: number) => r1(((a - b) * 1024) / n);
  console.log(
    JSON.stringify({
      n,
      listeners: listenerProcesses ? `listener processes of ${listenerProcesses.perProcess}` : 'in-process',
      gcBetween,
      laterBootSeconds: r1(laterBootSeconds),
      load: [r1(load0), r1(loadavg()[0]!)],
      before,
      noGc,
      after,
      settled,
      perBoxKiB: {
        rssAfterGc: perBoxKiB(after.rssMiB, before.rssMiB),
        rssSettled: perBoxKiB(last.rssMiB, before.rssMiB),
        heapUsed: perBoxKiB(last.heapUsedMiB, before.heapUsedMiB),
        outsideHeapSettled: perBoxKiB(last.rssMiB - last.heapTotalMiB, before.rssMiB - before.heapTotalMiB),
      },
    }),
  );
  await fleet.destroy();
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    console.error(err);
    process.exit(1);
  },
);
