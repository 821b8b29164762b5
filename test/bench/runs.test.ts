/**
 * The repeated-run helpers of the benchmarks (bench/runs.ts, bench/lib.ts):
 * which run is committed as the median, that the run history only grows, and
 * that failure reasons are counted once per cause.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { countReasons } from '../../bench/lib.js';
import {
  appendRuns,
  medianRunIndex,
  referenceRatios,
  spreadOf,
  spreadText,
  timelineOf,
} from '../../bench/runs.js';

t.test('the median run by total: odd and even counts, unfinished runs never chosen', async (t) => {
  t.equal(
    medianRunIndex([29.6, 25.3, 26.7]),
    2,
    'three runs: the middle total (26.7), by its index in run order',
  );
  t.equal(medianRunIndex([30, 20, 40, 10]), 1, 'four runs: the lower middle (20), not an average');
  t.equal(medianRunIndex([12]), 0, 'one run is its own median');
  t.equal(
    medianRunIndex([null, 9, null, 11, 10]),
    4,
    'stalled runs (null) are left out: median of 9, 10, 11',
  );
  t.equal(medianRunIndex([null, null]), -1, 'none finished: no median');
  t.equal(medianRunIndex([]), -1);
  t.equal(medianRunIndex([5, 5, 5]), 1, 'ties keep run order');
  t.equal(medianRunIndex([Number.NaN, 3]), 1, 'NaN counts as not finished');
});

t.test('the spread of a figure across runs', async (t) => {
  const s = spreadOf([1.03, 0.83, 1.23, 0.89]);
  t.same(s.values, [1.03, 0.83, 1.23, 0.89], 'values kept in run order');
  t.equal(s.min, 0.83);
  t.equal(s.max, 1.23);
  t.equal(s.median, 0.89, 'lower middle, as for the median run');
  t.equal(spreadText(s), '0.83-1.23 over 4 runs');
  t.equal(spreadText(spreadOf([26.65]), 1, ' s'), '1 run', 'one run has no spread to show');
  t.equal(spreadText(spreadOf([25.3, 29.6]), 1, ' s'), '25.3-29.6 s over 2 runs');
});

t.test('the run history is appended to, never overwritten', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gvos-bench-runs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'lab-regression-runs.json');
  t.equal(appendRuns(file, [{ run: 1 }], { name: 'lab-regression' }), 1, 'created with the first run');
  t.equal(appendRuns(file, [{ run: 2 }, { run: 3 }], { name: 'ignored' }), 3, 'two more appended');
  const h = JSON.parse(readFileSync(file, 'utf8')) as { name: string; runs: { run: number }[] };
  t.equal(h.name, 'lab-regression', "an existing file's header is kept");
  t.same(
    h.runs.map((r) => r.run),
    [1, 2, 3],
    'every run, in order',
  );

  // An earlier session's history (other keys, older run shapes) is kept whole.
  const old = join(dir, 'old-runs.json');
  writeFileSync(
    old,
    JSON.stringify({ name: 'x', note: 'eight runs', medianRun: 2, runs: [{ a: 1 }, { a: 2 }] }),
  );
  appendRuns(old, [{ a: 3 }]);
  const o = JSON.parse(readFileSync(old, 'utf8')) as Record<string, unknown>;
  t.same(o, { name: 'x', note: 'eight runs', medianRun: 2, runs: [{ a: 1 }, { a: 2 }, { a: 3 }] });

  // A file that is not a history is refused, not replaced.
  const result = join(dir, 'lab-regression.json');
  writeFileSync(result, JSON.stringify({ name: 'lab-regression', figures: {} }));
  t.throws(() => appendRuns(result, [{ run: 1 }]), /no "runs" list/);
  t.same(JSON.parse(readFileSync(result, 'utf8')), { name: 'lab-regression', figures: {} }, 'left as it was');
  const broken = join(dir, 'broken-runs.json');
  writeFileSync(broken, '{"runs": [');
  t.throws(() => appendRuns(broken, [{ run: 1 }]), /not JSON/);
  t.equal(readFileSync(broken, 'utf8'), '{"runs": [', 'a half-written file is left for a human');
});

t.test('failure reasons are counted once per cause, digits folded', async (t) => {
  t.same(
    countReasons([
      'box 17: no result within 600 s',
      'box 4203: no result within 600 s',
      'Failed: the CA at https://127.0.0.1:14000 has answered nothing for 15 s; 50 boxes not started',
      'Failed: the CA at https://127.0.0.1:14000 has answered nothing for 15 s; 176 boxes not started',
      'not served',
      'box 12: not served (still serving 4F1A0C9E22B3D871)',
      'box 9: not served (still serving 0A3C5D7E9F11B2C4D6)',
      'Failed: http-01 challenge for every1-17.fleet.test failed: Get "http://every1-17.fleet.test:5002/.well-known/acme-challenge/DHNkeAVJurwl6KdRqZtD0urqMWmDzrDdK9Om' +
        'Z2s3L4": context deadline exceeded',
      'Failed: http-01 challenge for every1-9035.fleet.test failed: Get "http://every1-9035.fleet.test:5002/.well-known/acme-challenge/btHi1LGubLLq-y4mtP9qwTEAcIiWiiDi-keZ' +
        '0d1hf2": context deadline exceeded',
    ]),
    {
      'box N: no result within N s': 2,
      'Failed: the CA at https://N.N.N.N:N has answered nothing for N s; N boxes not started': 2,
      'not served': 1,
      'box N: not served (still serving X)': 2,
      'Failed: http-N challenge for everyN-N.fleet.test failed: Get "http://everyN-N.fleet.test:N/.well-known/acme-challenge/T": context deadline exceeded': 2,
    },
  );
  t.same(countReasons([]), {}, 'no failures, no reasons');
  t.same(Object.keys(countReasons(['no answer '.repeat(30)], 200))[0]!.length, 200, 'a long reason is cut');
});

t.test('the timeline of a window: start, steady rate, tail', async (t) => {
  // 100 jobs: the first 10 take 1 s (a slow start), then one every 10 ms, the last 10 a slow tail.
  const done = [
    ...Array.from({ length: 10 }, (_, i) => 100 * (i + 1)),
    ...Array.from({ length: 80 }, (_, i) => 1000 + 10 * (i + 1)),
    ...Array.from({ length: 10 }, (_, i) => 1800 + 500 * (i + 1)),
  ].reverse();
  const tl = timelineOf(done, 100)!;
  t.equal(tl.p10S, 1, 'the 10th job at 1 s');
  t.equal(tl.p90S, 1.8, 'the 90th at 1.8 s');
  t.equal(tl.lastS, 6.8, 'the last at 6.8 s');
  t.equal(tl.p50S, 1.4);
  t.equal(tl.steadyPerSec, 100, '80 jobs in 0.8 s: the slow start and tail left out');
  t.equal(timelineOf(done.slice(0, 85), 100), null, 'fewer than 90% done: no steady rate');
  t.equal(timelineOf([1, 2, 3], 3), null, 'too few jobs');
});

t.test(
  "target 2's ratios: to the mean reference, and with the machine's speed in each window taken out",
  async (t) => {
    // Session 7's run 4 at 1000 boxes (lab-regression-1000-s7-runs.json).
    const lab = { certsPerSec: 94.9, pebbleCpuPerCertMs: 6.4, mainThreadCpuPerCertMs: 7.7 };
    const before = { certsPerSec: 131, pebbleCpuPerCertMs: 5.4, mainThreadCpuPerCertMs: 5.2 };
    const after = { certsPerSec: 130.3, pebbleCpuPerCertMs: 5.4, mainThreadCpuPerCertMs: 5.2 };
    const r = referenceRatios(lab, before, after);
    t.equal(r.certsPerSec, 130.7, 'the reference is the mean of before and after');
    t.equal(r.labRatio, 0.73, 'the target: the lab against that mean');
    t.equal(r.labRatioToBefore, 0.72);
    t.equal(r.labRatioToAfter, 0.73);
    t.equal(r.equalShareRatio, 0.68, 'main-thread CPU per certificate, alone over lab');
    t.equal(r.pebbleNormalizedRatio, 0.86, "each rate in units of Pebble's work in its window");

    // The same work on a machine 25% slower in the lab's window: Pebble's CPU per certificate and ours
    // grow, the rate falls. The target's ratio falls with it; the normalized one does not.
    const slow = {
      certsPerSec: 94.9 / 1.25,
      pebbleCpuPerCertMs: 6.4 * 1.25,
      mainThreadCpuPerCertMs: 7.7 * 1.25,
    };
    const s = referenceRatios(slow, before, after);
    t.ok(s.labRatio < r.labRatio, `the target's ratio falls (${s.labRatio})`);
    t.equal(s.pebbleNormalizedRatio, r.pebbleNormalizedRatio, 'the normalized ratio is the same');
    t.ok(s.equalShareRatio < r.equalShareRatio, 'CPU per certificate alone does not take the speed out');
  },
);
