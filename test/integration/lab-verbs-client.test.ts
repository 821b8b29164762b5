/**
 * The lab verbs' client as a user runs it (`node bin/gvos-sim.js lab ...`,
 * the built CLI), against a stand-in control plane: a plain HTTP server and
 * the lab's state file naming it. What each verb asks the plane, that it
 * prints the plane's answer as sent (a 10,000-box status is not parsed and
 * laid out again in the CLI), that a reader stopping early (`| head`) is no
 * error, and what a verb loads: no npm package, not fetch's undici, and none
 * of the lab's, box's, web, ACME, PKI or SNMP code (issue 16: a verb at
 * 10,000 boxes answers in under a second, and Node starting the CLI was most
 * of it). The real lab behind the same verbs: test/e2e/lab-*.test.ts.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureBuilt, REPO_ROOT } from '../e2e/lab-harness.js';

const BIN = join(REPO_ROOT, 'bin', 'gvos-sim.js');
const TOKEN = 'tok-verbs-client';

/** A status table of 10,000 rows as wide as a real one's (1.7 MB): many times what a pipe holds. */
const TABLE =
  'box-id  hostname\n------  --------\n' +
  Array.from(
    { length: 10_000 },
    (_, i) => `${String(i + 1).padEnd(6)}  ${`gv-${i + 1}`.padEnd(160, '.')}`,
  ).join('\n') +
  '\n\n10000 boxes: 10000 running; certificates: 10000 none\n';
const ROWS_JSON = JSON.stringify([{ boxId: 1, hostname: 'gv-1' }]);
const INVENTORY = JSON.stringify([{ boxId: 1 }], null, 2) + '\n';

ensureBuilt();
const dir = mkdtempSync(join(tmpdir(), 'gvos-verbs-client-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const labs = join(dir, 'labs');
mkdirSync(join(labs, 'verbs'), { recursive: true });

// Every module the CLI loads: the loader hooks (their own thread) append each URL to a file; the
// preload writes Node's internal module list at exit (fetch would show as internal/deps/undici).
const loaded = join(dir, 'loaded.txt');
const internals = join(dir, 'internals.txt');
writeFileSync(
  join(dir, 'hooks.mjs'),
  `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  appendFileSync(process.env.VERBS_LOADED, url + '\\n');
  return next(url, context);
}
`,
);
writeFileSync(
  join(dir, 'preload.mjs'),
  `import { register } from 'node:module';
import { writeFileSync } from 'node:fs';
register(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});
process.on('exit', () => writeFileSync(process.env.VERBS_INTERNALS, process.moduleLoadList.join('\\n')));
`,
);

const asked: { url: string; auth: string | undefined }[] = [];
const plane = createServer((req: IncomingMessage, res) => {
  asked.push({ url: req.url ?? '', auth: req.headers.authorization });
  const url = new URL(req.url ?? '/', 'http://plane');
  if (url.pathname === '/v1/boxes' && url.searchParams.get('format') === 'table') {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
    return res.end(TABLE);
  }
  if (url.pathname === '/v1/boxes') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(ROWS_JSON);
  }
  if (url.pathname === '/v1/inventory' && url.searchParams.get('pretty') === 'true') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(INVENTORY);
  }
  res.writeHead(404, { 'content-type': 'application/problem+json' });
  res.end(JSON.stringify({ code: 'not-found', detail: 'no such path in the stand-in' }));
});
await new Promise<void>((r) => plane.listen(0, '127.0.0.1', r));
t.teardown(() => plane.close());
const { port } = plane.address() as { port: number };
writeFileSync(
  join(labs, 'verbs', 'lab.json'),
  JSON.stringify({
    name: 'verbs',
    // This test's process stands for the lab's: alive, so the verbs go on to the plane.
    pid: process.pid,
    controlPlane: { url: `http://127.0.0.1:${port}`, token: TOKEN },
    processes: [],
    trapLog: null,
    startedAt: new Date().toISOString(),
  }),
  { mode: 0o600 },
);

/** Run `gvos-sim lab <args>` with the module recorder; `firstChunkOnly` closes its stdout after the first read. */
function lab(
  args: string[],
  firstChunkOnly = false,
): Promise<{ code: number | null; stdout: string; stderr: string; modules: string[]; internals: string[] }> {
  writeFileSync(loaded, '');
  writeFileSync(internals, '');
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', join(dir, 'preload.mjs'), BIN, 'lab', ...args], {
      cwd: dir,
      env: { ...process.env, GVOS_SIM_LABS_DIR: labs, VERBS_LOADED: loaded, VERBS_INTERNALS: internals },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.setEncoding('utf8');
    p.stdout.on('data', (d: string) => {
      stdout += d;
      if (firstChunkOnly) p.stdout.destroy();
    });
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.once('close', (code) =>
      resolve({
        code,
        stdout,
        stderr,
        modules: readFileSync(loaded, 'utf8').split('\n').filter(Boolean),
        internals: readFileSync(internals, 'utf8').split('\n'),
      }),
    );
  });
}

/** What a lab verb must not load: any npm package, or the code of the lab process, the boxes and their protocols. */
function heavy(modules: readonly string[]): string[] {
  const root = pathToFileURL(REPO_ROOT).href;
  return modules.filter(
    (u) =>
      u.includes('/node_modules/') ||
      (u.startsWith(root) &&
        /\/dist\/src\/(device|web|acme|pki|snmp|store|host|cli)\/(?!model\.js$|limits\.js$)|\/dist\/src\/lab\/(lab|lab-up|control-plane|topology|cluster-runner)\.js$/.test(
          u,
        )),
  );
}

t.test('lab status: the table the plane rendered, as sent; nothing heavy loaded', async (t) => {
  asked.length = 0;
  const r = await lab(['status']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, TABLE, "stdout is the plane's text, byte for byte");
  t.same(asked, [{ url: '/v1/boxes?format=table', auth: `Bearer ${TOKEN}` }], 'one request, with the token');
  t.ok(
    r.modules.some((u) => u.endsWith('/dist/src/lab/lab-command.js')),
    'the recorder saw the verbs load',
  );
  t.same(heavy(r.modules), [], 'no npm package, no box, web, ACME, PKI or SNMP code, not the lab process');
  t.notOk(
    r.internals.some((m) => m.includes('undici')),
    "not fetch's undici (node:http's parser is built in)",
  );
});

t.test('lab status --json --box, --summary: the selector and the format reach the plane', async (t) => {
  asked.length = 0;
  const json = await lab(['status', '--json', '--box', '3,1-2']);
  t.equal(json.code, 0, json.stderr);
  t.equal(json.stdout, `${ROWS_JSON}\n`, 'the JSON as the plane sent it, one newline');
  t.same(heavy(json.modules), []);
  const summary = await lab(['status', '--summary']);
  t.equal(summary.code, 0, summary.stderr);
  t.same(
    asked.map((a) => a.url),
    ['/v1/boxes?boxes=1-3', '/v1/boxes?format=summary'],
  );
});

t.test('lab inventory: the JSON the plane indented, to stdout or --output', async (t) => {
  asked.length = 0;
  const r = await lab(['inventory']);
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stdout, INVENTORY);
  t.same(heavy(r.modules), []);
  const file = join(dir, 'inventory.json');
  const w = await lab(['inventory', '--output', file]);
  t.equal(w.code, 0, w.stderr);
  t.equal(readFileSync(file, 'utf8'), INVENTORY, 'the file holds the same');
  t.same(
    asked.map((a) => a.url),
    ['/v1/inventory?pretty=true', '/v1/inventory?pretty=true'],
  );
});

t.test('a refusal is one line on stderr, exit 1; --output leaves an existing file alone', async (t) => {
  const file = join(dir, 'kept.csv');
  writeFileSync(file, 'kept\n');
  const r = await lab(['inventory', '--format', 'csv', '--output', file]);
  t.equal(r.code, 1);
  t.equal(r.stderr, 'gvos-sim: no such path in the stand-in\n');
  t.equal(readFileSync(file, 'utf8'), 'kept\n', 'not truncated');
});

t.test('lab status | head: a reader that stops early ends the verb quietly', async (t) => {
  const r = await lab(['status'], true);
  t.equal(r.code, 0, 'exit 0');
  t.equal(r.stderr, '', 'no EPIPE message');
  t.ok(r.stdout.startsWith('box-id  hostname\n'), 'the first lines arrived');
});
