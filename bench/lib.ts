/**
 * Shared helpers of the benchmarks: machine facts, medians and percentiles,
 * a table printer, and the JSON result writer (bench/results/<name>.json).
 * Timings live here and in the results, never in test assertions.
 */
import { cpus, totalmem } from 'node:os';
import { mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

/** The repository root (bench files run from dist/bench/). */
const ROOT = (() => {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    try {
      readFileSync(join(d, 'package.json'));
      return d;
    } catch {
      d = dirname(d);
    }
  }
  throw new Error('package.json not found above ' + d);
})();

/** A target of the issue, computed from the run. */
export interface Target {
  name: string;
  target: string;
  measured: string;
  met: boolean;
  /** Why a missed target is missed (what is left, from the profile). */
  note?: string;
}

export interface BenchResult {
  name: string;
  full: boolean;
  machine: { cores: number; cpuModel: string; memoryGiB: number; node: string; platform: string };
  startedAt: string;
  figures: Record<string, unknown>;
  targets: Target[];
  table: string;
}

function machine(): BenchResult['machine'] {
  return {
    cores: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

export function median(xs: number[]): number {
  return percentile(xs, 50);
}

/** Nearest-rank percentile (p in 0..100) of a non-empty list. */
export function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * s.length));
  return s[Math.min(s.length, rank) - 1]!;
}

/** Render rows as an aligned text table (also valid Markdown). */
export function table(header: string[], rows: (string | number)[][]): string {
  const all = [header, ...rows.map((r) => r.map(String))];
  const w = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => '| ' + r.map((c, i) => c.padEnd(w[i]!)).join(' | ') + ' |';
  return [
    line(header),
    '|' + w.map((n) => '-'.repeat(n + 2)).join('|') + '|',
    ...all.slice(1).map(line),
  ].join('\n');
}

/** bench/results/<file>.json: where a benchmark's result goes (and, for repeated runs, <file>-runs.json). */
export function resultPath(file: string): string {
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  return join(dir, `${file}.json`);
}

/** The machine facts and a start time, as every result file carries them. */
export function stamped<T extends object>(
  r: T,
  startedAt?: string,
): T & Pick<BenchResult, 'machine' | 'startedAt'> {
  return { ...r, machine: machine(), startedAt: startedAt ?? new Date().toISOString() };
}

/** Print the table and write bench/results/<name>.json (or `<file>.json` when given). */
export function writeResult(
  r: Omit<BenchResult, 'machine' | 'startedAt'> & { startedAt?: string },
  file = r.name,
): BenchResult {
  const full: BenchResult = stamped(r, r.startedAt);
  writeFileSync(resultPath(file), JSON.stringify(full, null, 2) + '\n');
  console.log(`\n## ${r.name}${r.full ? ' (full)' : ' (small)'}\n\n${r.table}\n`);
  if (r.targets.length) {
    console.log(
      table(
        ['target', 'wanted', 'measured', 'met'],
        r.targets.map((x) => [x.name, x.target, x.measured, x.met ? 'yes' : 'NO']),
      ),
    );
  }
  return full;
}

/**
 * Count one failure reason into `counts`, so one cause counts once however
 * many boxes it hit: base64url runs of 24 or more (ACME tokens, URLs' ids)
 * folded to T, hexadecimal runs of 8 or more (certificate serials, key ids)
 * to X, then digits (box ids, ports, seconds) to N; cut to `max` characters.
 */
export function addReason(counts: Record<string, number>, reason: string, max = 200): void {
  const k = reason
    .replace(/[A-Za-z0-9_-]{24,}/g, 'T')
    .replace(/\b[0-9a-fA-F]{8,}\b/g, 'X')
    .replace(/\d+/g, 'N')
    .slice(0, max);
  counts[k] = (counts[k] ?? 0) + 1;
}

/** How many times each failure reason occurred (addReason over the list). */
export function countReasons(reasons: string[], max = 200): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of reasons) addReason(out, r, max);
  return out;
}

/** CPU seconds (user+system) of a process from /proc/<pid>/stat. */
export function procCpuSeconds(pid: number | 'self'): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100; // USER_HZ is 100 on Linux x86_64
}

/** User and system CPU seconds of a process (its threads included) from /proc/<pid>/stat. */
export function procCpuSplit(pid: number | 'self'): { user: number; sys: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / 100, sys: Number(fields[12]) / 100 };
}

/** Resident memory of a process in bytes from /proc/<pid>/status. */
export function procRssBytes(pid: number | 'self'): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/**
 * This process's resident memory once it stops falling: read after a full GC
 * (collectGarbage in profile.ts). V8 hands the pages a GC freed back to the
 * system from a background task, which a busy machine runs late: right
 * after the GC that ended a 10,000-box lab's later boot, RSS still held
 * ~250 MiB of the first boot's freed heap that was gone a second later
 * (bench/scale-lab-mem.ts). Reads every 250 ms until two readings are within
 * 1 MiB, at most `maxMs`.
 */
export async function settledRssBytes(maxMs = 5000): Promise<number> {
  let last = procRssBytes('self');
  for (let waited = 0; waited < maxMs; waited += 250) {
    await new Promise((r) => setTimeout(r, 250));
    const now = procRssBytes('self');
    if (Math.abs(last - now) < 1024 * 1024) return now;
    last = now;
  }
  return last;
}

/**
 * Where this process's resident memory is, in MiB: V8's heap (used and
 * committed), memory outside it that V8 accounts for (external, array
 * buffers), and RSS by kind of mapping (/proc/self/smaps): the main malloc
 * arena ([heap]), the threads' malloc arenas (glibc's heaps: at most 64 MiB,
 * aligned on 64 MiB), other anonymous mappings (V8's pages, large mallocs)
 * and files (code, libraries).
 */
export function memoryFigures(): {
  rssMiB: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
  externalMiB: number;
  arrayBuffersMiB: number;
  mappings: { brkHeapMiB: number; threadArenasMiB: number; otherAnonMiB: number; filesMiB: number };
} {
  const MiB = 1024 * 1024;
  const r1 = (x: number) => Math.round(x * 10) / 10;
  const mappings = { brkHeapMiB: 0, threadArenasMiB: 0, otherAnonMiB: 0, filesMiB: 0 };
  let kind: keyof typeof mappings = 'otherAnonMiB';
  const arena = 64n << 20n;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (m) {
      const start = BigInt(`0x${m[1]!}`);
      const size = BigInt(`0x${m[2]!}`) - start;
      const path = m[3]!;
      kind =
        path === '[heap]'
          ? 'brkHeapMiB'
          : path.startsWith('/')
            ? 'filesMiB'
            : path === '' && start % arena === 0n && size <= arena
              ? 'threadArenasMiB'
              : 'otherAnonMiB';
      continue;
    }
    const r = /^Rss:\s+(\d+) kB/.exec(line);
    if (r) mappings[kind] += Number(r[1]) / 1024;
  }
  const u = process.memoryUsage();
  return {
    rssMiB: r1(procRssBytes('self') / MiB),
    heapUsedMiB: r1(u.heapUsed / MiB),
    heapTotalMiB: r1(u.heapTotal / MiB),
    externalMiB: r1(u.external / MiB),
    arrayBuffersMiB: r1(u.arrayBuffers / MiB),
    mappings: {
      brkHeapMiB: r1(mappings.brkHeapMiB),
      threadArenasMiB: r1(mappings.threadArenasMiB),
      otherAnonMiB: r1(mappings.otherAnonMiB),
      filesMiB: r1(mappings.filesMiB),
    },
  };
}

/** The whole machine's CPU so far (ms of all cores, /proc/stat): busy (everything but idle and iowait) and stolen by the hypervisor. */
export function machineCpuMs(): { busy: number; steal: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
  return { busy: (user + nice + system + irq + softirq) * 10, steal: steal * 10 }; // USER_HZ 100
}

/**
 * What the rest of the machine did during a window: cores' worth of CPU
 * (ms of CPU per ms of wall time) used by every process but this one and
 * `peers` (Pebble), and stolen by the hypervisor. A window slower than its
 * twin with more of this was slowed from outside.
 */
export function othersCores(
  m0: { busy: number; steal: number },
  m1: { busy: number; steal: number },
  oursMs: number,
  wallMs: number,
): { otherProcesses: number; steal: number } {
  const r = (x: number) => Math.round((x / Math.max(wallMs, 1)) * 100) / 100;
  return { otherProcesses: Math.max(0, r(m1.busy - m0.busy - oursMs)), steal: r(m1.steal - m0.steal) };
}

/** This process's heap and resident memory at one moment (MiB): for comparing the state two windows start in. */
export interface HeapState {
  /** V8's new space (both semi-spaces): it starts small and grows with the survivors; a full GC does not shrink it back. */
  newSpaceMiB: number;
  oldSpaceMiB: number;
  heapUsedMiB: number;
  rssMiB: number;
}

export function heapState(): HeapState {
  const mib = (b: number) => Math.round((b / 1048576) * 10) / 10;
  const space = (name: string) =>
    getHeapSpaceStatistics().find((s) => s.space_name === name)?.space_size ?? 0;
  const h = getHeapStatistics();
  return {
    newSpaceMiB: mib(space('new_space')),
    oldSpaceMiB: mib(space('old_space')),
    heapUsedMiB: mib(h.used_heap_size),
    rssMiB: mib(process.memoryUsage.rss()),
  };
}

/** Garbage collection in a window of this process: pauses counted and summed, the major ones (mark-sweep) apart. */
export interface GcFigures {
  count: number;
  ms: number;
  majorCount: number;
  majorMs: number;
}

/**
 * Watch this process's GC from now until stop() (perf_hooks 'gc' entries:
 * the main thread's pauses; the helper threads' concurrent marking is in the
 * process CPU, not here). For the benchmarks' windows: how much of a
 * window's CPU was collecting, and whether one window paid for another's garbage.
 */
export function gcWatch(): { stop(): GcFigures } {
  const f: GcFigures = { count: 0, ms: 0, majorCount: 0, majorMs: 0 };
  const add = (list: PerformanceEntry[]) => {
    for (const e of list) {
      f.count++;
      f.ms += e.duration;
      if ((e as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        f.majorCount++;
        f.majorMs += e.duration;
      }
    }
  };
  const obs = new PerformanceObserver((list) => add(list.getEntries()));
  obs.observe({ entryTypes: ['gc'] });
  return {
    stop() {
      add(obs.takeRecords());
      obs.disconnect();
      return { ...f, ms: Math.round(f.ms), majorMs: Math.round(f.majorMs) };
    },
  };
}

/**
 * With `node --expose-gc`: a full collection now, so the window that starts
 * next does not pay for the garbage of what ran before it (the boot, another
 * path). Returns whether it ran (said in the results).
 */
export function gcIfExposed(): boolean {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  return gc !== undefined;
}

/**
 * With GVOS_BENCH_MARKS=1, prints `mark <name> <µs>` on stderr at each phase
 * boundary, on the clock of V8's CPU profiles (process.hrtime), so that a
 * `node --cpu-prof` profile can be cut to one phase.
 */
export function mark(name: string): void {
  if (process.env.GVOS_BENCH_MARKS === '1')
    process.stderr.write(`mark ${name} ${process.hrtime.bigint() / 1000n}\n`);
}
