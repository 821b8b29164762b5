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
// Usage: node scripts/test-unit.js [--jobs N] [filter ...]
//   filter: a substring of a source path (src/acme, line-editor); none = all.
// Exit code 0 when every file passed, 1 otherwise, 2 for bad usage.
import { Buffer } from 'node:buffer';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
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

function usage(message) {
  process.stderr.write(`test-unit: ${message}\nusage: node scripts/test-unit.js [--jobs N] [filter ...]\n`);
  process.exit(2);
}

let jobs = availableParallelism();
const filters = [];
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--jobs') {
    jobs = Number(args[++i]);
    if (!Number.isInteger(jobs) || jobs < 1 || jobs > 64) usage('--jobs takes a whole number from 1 to 64');
  } else if (args[i].startsWith('-')) usage(`unknown option ${args[i]}`);
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
    const child = spawn(process.execPath, ['--enable-source-maps', file], {
      cwd: ROOT,
      env: { ...process.env, TAP_TIMEOUT: String(TIMEOUT_S) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const chunks = [];
    child.stdout.on('data', (c) => chunks.push(c));
    child.stderr.on('data', (c) => chunks.push(c));
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
        output,
      });
    });
  });
}

const began = Date.now();
const results = [];
const queue = [...sources];
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
        process.stdout.write(`--- ${r.source} (${r.why}) ---\n${shown}${more}\n---\n`);
      }
    }
  }),
);

const failed = results.filter((r) => !r.ok);
const sum = (k) => results.reduce((a, r) => a + r[k], 0);
process.stdout.write(
  `\n${results.length} files, ${sum('total')} assertions: ${sum('pass')} pass, ${sum('fail')} fail, ` +
    `${sum('skip')} skipped; ${((Date.now() - began) / 1000).toFixed(1)} s with ${jobs} at a time\n`,
);
if (failed.length > 0) {
  process.stdout.write(`failed: ${failed.map((r) => relative(ROOT, join(ROOT, r.source))).join(', ')}\n`);
  process.exit(1);
}
