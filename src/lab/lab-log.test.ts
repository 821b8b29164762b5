/**
 * lab.log keeps every line although lines are written in batches (lab-log.ts): after a normal
 * end, after SIGTERM (a real child process killed by its PID) and after an uncaught exception.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FLUSH_BYTES, openLabLog } from './lab-log.js';

// The writer beside this file's own form: .js when the fast tier runs the compiled test from dist/, .ts under tap.
const EXT = import.meta.url.endsWith('.js') ? 'js' : 'ts';
const WRITER = fileURLToPath(new URL(`../../test/harness/lab-log-writer.${EXT}`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'gvos-lab-log-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** The numbered lines of `file`, each parsed. */
function lines(file: string): Array<Record<string, unknown>> {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Run the writer in `mode`; `onReady` gets the child once it printed "ready". Resolves with its output and exit. */
function runWriter(
  file: string,
  mode: string,
  onReady?: (pid: number) => void,
): Promise<{ out: string; code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, WRITER, file, mode], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (onReady && out.includes('ready\n')) {
        const ready = onReady;
        onReady = undefined;
        ready(child.pid!);
      }
    });
    child.stderr.resume();
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ out, code, signal }));
  });
}

t.test('a normal end writes every line, in order, with the lines waiting for their batch', async (t) => {
  const file = join(dir, 'end.log');
  const r = await runWriter(file, 'end');
  t.equal(r.code, 0);
  const got = lines(file);
  t.equal(got.length, 5000, 'all 5,000 info lines, not the dropped debug line');
  t.same(
    got.map((l) => l.n),
    Array.from({ length: 5000 }, (_, i) => i),
    'in the order logged',
  );
  t.match(got[4999], { level: 'info', msg: 'line', lab: 'test', boxId: 7 });
});

t.test('SIGTERM to the process by its PID: every line logged before it is in the file', async (t) => {
  const file = join(dir, 'sigterm.log');
  const r = await runWriter(file, 'sigterm', (pid) => {
    // Some lines in, some waiting for their batch.
    setTimeout(() => process.kill(pid, 'SIGTERM'), 150);
  });
  t.equal(r.code, 0, 'ended by itself after its handler');
  const logged = Number(/logged (\d+)/.exec(r.out)?.[1]);
  t.ok(logged > 1, `it logged ${logged} lines`);
  t.same(
    lines(file).map((l) => l.n),
    Array.from({ length: logged }, (_, i) => i),
    'each line it logged, once, in order',
  );
});

t.test('an uncaught exception: the lines before it are in the file', async (t) => {
  const file = join(dir, 'throw.log');
  const r = await runWriter(file, 'throw');
  t.not(r.code, 0, 'the process failed');
  t.equal(lines(file).length, 100);
});

t.test('a full batch is written at once; flush() writes what waits', async (t) => {
  const file = join(dir, 'batch.log');
  const log = openLabLog(file, 'info', { lab: 'unit' });
  const text = 'x'.repeat(1000);
  const perBatch = Math.ceil(FLUSH_BYTES / 1000);
  for (let i = 0; i < perBatch + 5; i++) log.logger.info('line', { text, n: i });
  const onDisk = lines(file).length;
  t.ok(
    onDisk >= perBatch - 5 && onDisk < perBatch + 5,
    `a batch of about ${perBatch} lines is on disk (${onDisk})`,
  );
  log.flush();
  t.equal(lines(file).length, perBatch + 5, 'the rest after flush()');
  log.logger.info('secret', { privateKey: 'PRIVATE' });
  log.flush();
  t.notMatch(readFileSync(file, 'utf8'), /PRIVATE/, 'secrets are still redacted');
});
