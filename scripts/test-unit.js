#!/usr/bin/env node
// The fast test tier: the unit tests (src/**/*.test.ts), compiled by tsc into
// dist/, each run by plain `node` in its own process, as many at once as the
// machine has cores.
//
// Why not `tap src/**/*.test.ts`: tap runs every file through its TypeScript
// loader (ts-node), which costs about 1-2 s of CPU per file before the first
// assertion, more than most unit files take in all (measured: 49 files, about
// 127 s of CPU through tap, 68 s as compiled JS). The tests are the same files,
// written against tap's library, which prints TAP and sets the exit code when
// a file runs on its own. The full suite (`npm test`) still runs everything
// through tap.
//
// Order: longest first, so that with two workers the longest file starts
// at once instead of bounding the tail. The lengths are each file's wall time
// in the last run here (dist/test-unit-times.json, written after every run),
// else the committed table (scripts/test-unit-times.json, for a fresh clone
// such as CI's); a file in neither goes first, since it may be long.
//
// No --enable-source-maps by default: with it, node reads and parses the map
// of every module it loads (ours and the packages'), about 0.15 s of CPU per
// file, a sixth of a small file's whole cost (measured on 4 files, A/B
// interleaved). A failing file's stack lines then name dist/**/*.js; the
// compiled test is the source file line for line apart from its types, and
// --source-maps names src/ instead.
//
// Usage: node scripts/test-unit.js [--jobs N] [--times] [--save-times] [--source-maps] [filter ...]
//   filter: a substring of a source path (src/acme, line-editor); none = all.
//   --times: after the run, a table of every file's wall and CPU time
//     (user + system of its process), longest first.
//   --save-times: write this run's wall times to the committed table.
//   --source-maps: run each file with node's --enable-source-maps.
// Exit code 0 when every file passed, 1 otherwise, 2 for bad usage.
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clearTimeout, setTimeout } from 'node:timers';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(ROOT, 'dist');
/** Per-file limit, the same as tap's (package.json "tap.timeout"). */
const TIMEOUT_S = 180;
/** Lines of a failing file's output shown (the rest is summarised). */
const SHOW_LINES = 200;
/** Wall times of the last run here, and the committed table (see the top). */
const LAST_TIMES = join(DIST, 'test-unit-times.json');
const COMMITTED_TIMES = join(ROOT, 'scripts', 'test-unit-times.json');
/**
 * Loaded before each test file: at exit it writes the process's own CPU
 * seconds (user + system) to fd 3, a pipe this runner opens. Node gives no
 * per-child rusage, and the parent's children total cannot be split between
 * two files that run at once. Only the runner's own child writes: it takes
 * CPU_ENV out of its environment at once, so a node process that a test
 * starts with the same flags (process.execArgv), whose fd 3 may be anything,
 * writes nothing.
 */
const CPU_ENV = 'GVOS_TEST_UNIT_CPU_FD';
const CPU_PRELOAD =
  'data:text/javascript,' +
  encodeURIComponent(
    `import{writeSync}from'node:fs';if(process.env.${CPU_ENV}==='3'){delete process.env.${CPU_ENV};` +
      "process.on('exit',()=>{const u=process.cpuUsage();" +
      'try{writeSync(3,String((u.user+u.system)/1e6))}catch{}})}',
  );

function usage(message) {
  process.stderr.write(
    `test-unit: ${message}\nusage: node scripts/test-unit.js [--jobs N] [--times] [--save-times] [--source-maps] [filter ...]\n`,
  );
  process.exit(2);
}

let jobs = availableParallelism();
let showTimes = false;
let saveTimes = false;
let sourceMaps = false;
const filters = [];
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--jobs') {
    jobs = Number(args[++i]);
    if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) usage('--jobs takes a whole number from 1 to 64');
  } else if (args[i] === '--times') showTimes = true;
  else if (args[i] === '--save-times') saveTimes = true;
  else if (args[i] === '--source-maps') sourceMaps = true;
  else if (args[i].startsWith('-')) usage(`unknown option ${args[i]}`);
  else filters.push(args[i]);
}

/** Source test files (relative paths), sorted; only those with a compiled twin are runnable. */
function sourceTests(dir, out = []) {
  for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const rel = join(dir, e.name);
    if (e.isDirectory()) sourceTests(rel, out);
    else if (e.name.endsWith('.test.ts')) out.push(rel);
  }
  return out.sort();
}

const sources = sourceTests('src').filter((s) => filters.length === 0 || filters.some((f) => s.includes(f)));
if (sources.length === 0) usage(`no unit test matches ${filters.join(' ')}`);
// Compiled from the source list (not from dist/), so a test deleted in src/
// never runs from a stale dist/ copy.
const missing = sources.filter((s) => !existsSync(join(DIST, s.replace(/\.ts$/, '.js'))));
if (missing.length > 0) usage(`not compiled (run npm run build): ${missing.join(', ')}`);

/** Run one compiled file; resolves its result. */
function run(source) {
  const file = join(DIST, source.replace(/\.ts$/, '.js'));
  const started = process.hrtime.bigint();
  return new Promise((resolve) => {
    const flags = sourceMaps ? ['--enable-source-maps'] : [];
    const child = spawn(process.execPath, [...flags, '--import', CPU_PRELOAD, file], {
      cwd: ROOT,
      env: { ...process.env, TAP_TIMEOUT: String(TIMEOUT_S), [CPU_ENV]: '3' },
      stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    });
    const chunks = [];
    child.stdout.on('data', (c) => chunks.push(c));
    child.stderr.on('data', (c) => chunks.push(c));
    let cpuReport = '';
    child.stdio[3].on('data', (c) => (cpuReport += c));
    let timedOut = false;
    const timer = setTimeout(
      () => {
        timedOut = true;
        child.kill('SIGKILL');
      },
      (TIMEOUT_S + 10) * 1000,
    );
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const output = Buffer.concat(chunks).toString('utf8');
      // tap's library ends a file's output with `# { total: N, pass: N, fail: N, ... }`.
      const summary = /^# \{ (total: .*) \}$/m.exec(output)?.[1] ?? '';
      const count = (k) => Number(new RegExp(`${k}: (\\d+)`).exec(summary)?.[1] ?? 0);
      resolve({
        source,
        ok: code === 0 && !timedOut,
        why: timedOut
          ? `timed out after ${TIMEOUT_S} s`
          : signal
            ? `killed by ${signal}`
            : `exit code ${code}`,
        total: count('total'),
        pass: count('pass'),
        fail: count('fail'),
        skip: count('skip') + count('todo'),
        seconds: Number(process.hrtime.bigint() - started) / 1e9,
        cpu: Number(cpuReport) || NaN,
        output,
      });
    });
  });
}

/** A times table ({ "src/x.test.ts": seconds }), or {} when absent or unreadable. */
function readTimes(path) {
  try {
    const t = JSON.parse(readFileSync(path, 'utf8'));
    return t && typeof t === 'object' ? t : {};
  } catch {
    return {};
  }
}
const known = { ...readTimes(COMMITTED_TIMES), ...readTimes(LAST_TIMES) };
const length = (s) => (typeof known[s] === 'number' ? known[s] : Infinity);

const began = Date.now();
const results = [];
// Longest first; the sort is stable, so ties keep the path order.
const queue = [...sources].sort((a, b) => length(b) - length(a));
await Promise.all(
  Array.from({ length: Math.min(jobs, queue.length) }, async () => {
    for (let s = queue.shift(); s; s = queue.shift()) {
      const r = await run(s);
      results.push(r);
      const mark = r.ok ? 'ok     ' : 'not ok ';
      const skips = r.skip ? `, ${r.skip} skipped` : '';
      process.stdout.write(
        `${mark}${r.source}  ${r.pass}/${r.total} pass${skips}  ${r.seconds.toFixed(1)} s\n`,
      );
      if (!r.ok) {
        const lines = r.output.split('\n');
        const shown = lines.slice(0, SHOW_LINES).join('\n');
        const more = lines.length > SHOW_LINES ? `\n... ${lines.length - SHOW_LINES} more lines` : '';
        const hint = sourceMaps ? '' : ' (stack lines name dist/; --source-maps names src/)';
        process.stdout.write(`--- ${r.source} (${r.why}) ---\n${shown}${more}\n---${hint}\n`);
      }
    }
  }),
);

const failed = results.filter((r) => !r.ok);
const sum = (k) => results.reduce((a, r) => a + r[k], 0);
/** A file's times as a table's object: path -> seconds (one decimal), in path order. */
function timesOf(rs, base = {}) {
  const t = { ...base };
  for (const r of rs) t[r.source] = Math.round(r.seconds * 10) / 10;
  return Object.fromEntries(Object.entries(t).sort(([a], [b]) => (a < b ? -1 : 1)));
}
// Only files that passed: a failing file may have stopped early.
const passed = results.filter((r) => r.ok);
if (existsSync(DIST))
  writeFileSync(LAST_TIMES, JSON.stringify(timesOf(passed, readTimes(LAST_TIMES)), null, 2) + '\n');
if (saveTimes)
  writeFileSync(COMMITTED_TIMES, JSON.stringify(timesOf(passed, readTimes(COMMITTED_TIMES)), null, 2) + '\n');
if (showTimes) {
  const rows = [...results].sort((a, b) => b.seconds - a.seconds);
  const w = Math.max(...rows.map((r) => r.source.length));
  process.stdout.write(`\n${'file'.padEnd(w)}  wall s  CPU s\n`);
  for (const r of rows) {
    const cpu = Number.isNaN(r.cpu) ? '     ?' : r.cpu.toFixed(1).padStart(6);
    process.stdout.write(`${r.source.padEnd(w)}  ${r.seconds.toFixed(1).padStart(6)}  ${cpu}\n`);
  }
  const cpuSum = results.reduce((a, r) => a + (Number.isNaN(r.cpu) ? 0 : r.cpu), 0);
  process.stdout.write(
    `${'sum'.padEnd(w)}  ${sum('seconds').toFixed(1).padStart(6)}  ${cpuSum.toFixed(1).padStart(6)}\n`,
  );
}

process.stdout.write(
  `\n${results.length} files, ${sum('total')} assertions: ${sum('pass')} pass, ${sum('fail')} fail, ` +
    `${sum('skip')} skipped; ${((Date.now() - began) / 1000).toFixed(1)} s with ${jobs} at a time\n`,
);
if (failed.length > 0) {
  process.stdout.write(`failed: ${failed.map((r) => relative(ROOT, join(ROOT, r.source))).join(', ')}\n`);
  process.exit(1);
}
