/**
 * Repeated runs of one benchmark (issue 16: "run each full benchmark three
 * times and commit the median run"): which run is the median, the spread of
 * a figure across runs, and the history file every run is appended to.
 * Pure helpers (no timing): test/bench/runs.test.ts.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

/**
 * The index of the median run by `key` (e.g. the total time) among the runs
 * whose key is a number (a run that did not finish gives null and is never
 * the median: a stalled run is not a figure). With an even count, the lower
 * of the two middle runs (the faster one by total), so the pick never needs
 * an average of two runs that did not happen. -1 when no run finished.
 */
export function medianRunIndex(keys: (number | null)[]): number {
  const finished = keys
    .map((k, i) => ({ k, i }))
    .filter((x): x is { k: number; i: number } => typeof x.k === 'number' && Number.isFinite(x.k))
    .sort((a, b) => a.k - b.k || a.i - b.i);
  if (finished.length === 0) return -1;
  return finished[Math.floor((finished.length - 1) / 2)]!.i;
}

/** The spread of one figure across runs: every value in run order, its min, max and median (lower middle). */
export interface Spread {
  values: number[];
  min: number;
  median: number;
  max: number;
}

export function spreadOf(values: number[]): Spread {
  const s = [...values].sort((a, b) => a - b);
  return {
    values,
    min: s[0] ?? NaN,
    median: s[Math.floor((s.length - 1) / 2)] ?? NaN,
    max: s[s.length - 1] ?? NaN,
  };
}

/** "0.83-1.23 over 8 runs" (one run: "1 run"). `digits`: decimals shown; `unit` after the range. */
export function spreadText(s: Spread, digits = 2, unit = ''): string {
  const n = s.values.length;
  return n <= 1 ? '1 run' : `${s.min.toFixed(digits)}-${s.max.toFixed(digits)}${unit} over ${n} runs`;
}

/** The history file's shape: whatever a previous writer put at the top, and the runs in the order they ran. */
interface RunHistory {
  runs: unknown[];
  [key: string]: unknown;
}

/**
 * Append `entries` to the history file `file` (JSON, `{ "runs": [...] }`;
 * created with `header` when missing). Never overwrites an earlier run: a
 * file that is not such a history is refused with an error instead of
 * replaced. Written to a temporary file and renamed, so a run killed while
 * writing leaves the old history whole. Resolves with the number of runs now
 * in the file.
 */
export function appendRuns(file: string, entries: unknown[], header: Record<string, unknown> = {}): number {
  let history: RunHistory = { ...header, runs: [] };
  if (existsSync(file)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new Error(`${file} is not JSON (${(e as Error).message}): not overwriting a run history`);
    }
    if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as { runs?: unknown }).runs))
      throw new Error(`${file} has no "runs" list: not overwriting it`);
    history = parsed as RunHistory;
  }
  history.runs.push(...entries);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(history, null, 2) + '\n');
  renameSync(tmp, file);
  return history.runs.length;
}

/** When a window's work completed: seconds from the window's start to 10%, 50%, 90% and all of `n`, and the rate between 10% and 90%. */
export interface Timeline {
  p10S: number;
  p50S: number;
  p90S: number;
  lastS: number;
  /** Completions per second between the 10% and the 90% one: the steady rate, without the start and the tail. */
  steadyPerSec: number;
}

/**
 * The timeline of `n` jobs from the times (ms after the window's start) at
 * which those that succeeded completed. The k-th percent is the completion
 * of job ceil(k/100 * n) in time order; null when fewer than 90% completed
 * (then there is no steady rate to give).
 */
export function timelineOf(doneMs: number[], n: number): Timeline | null {
  const s = [...doneMs].sort((a, b) => a - b);
  const at = (p: number) => s[Math.max(1, Math.ceil((p / 100) * n)) - 1];
  const p10 = at(10);
  const p90 = at(90);
  if (n < 10 || p10 === undefined || p90 === undefined) return null;
  const r = (ms: number) => Math.round(ms / 10) / 100;
  const jobs = Math.ceil(0.9 * n) - Math.ceil(0.1 * n);
  return {
    p10S: r(p10),
    p50S: r(at(50)!),
    p90S: r(p90),
    lastS: r(s[s.length - 1]!),
    steadyPerSec: p90 > p10 ? Math.round((jobs / ((p90 - p10) / 1000)) * 10) / 10 : NaN,
  };
}

/** What target 2's ratios need of one issuance window. */
export interface WindowRate {
  certsPerSec: number;
  /** Pebble's CPU per certificate in the same window. */
  pebbleCpuPerCertMs: number;
  /** This process's main-thread CPU per certificate in the window. */
  mainThreadCpuPerCertMs: number;
}

/**
 * Target 2's ratios of one run: the lab's rate against the mean of the agent
 * alone's just before and just after it (the target), and against each. Two
 * more figures explain it and are not the target: `equalShareRatio`, the
 * agent alone's main-thread CPU per certificate over the lab's (both paths
 * are bound by that thread, so this is the rate ratio with equal shares of
 * a core); `pebbleNormalizedRatio`, each rate times Pebble's CPU per
 * certificate in its window (Pebble is a fresh process doing the same work
 * per certificate on either path, so its CPU per certificate says how fast
 * the machine ran in that window, and this takes it out).
 */
export function referenceRatios(lab: WindowRate, before: WindowRate, after: WindowRate) {
  const r1 = (x: number) => Math.round(x * 10) / 10;
  const r2 = (x: number) => Math.round(x * 100) / 100;
  const certsPerSec = r1((before.certsPerSec + after.certsPerSec) / 2);
  const ratio = (ref: number) => r2(lab.certsPerSec / Math.max(ref, 0.1));
  const work = (w: WindowRate) => w.certsPerSec * w.pebbleCpuPerCertMs;
  return {
    certsPerSec,
    labRatio: ratio(certsPerSec),
    labRatioToBefore: ratio(before.certsPerSec),
    labRatioToAfter: ratio(after.certsPerSec),
    equalShareRatio: r2(
      (before.mainThreadCpuPerCertMs + after.mainThreadCpuPerCertMs) /
        2 /
        Math.max(lab.mainThreadCpuPerCertMs, 0.1),
    ),
    pebbleNormalizedRatio: r2(work(lab) / Math.max((work(before) + work(after)) / 2, 0.1)),
  };
}
