/**
 * The lab's own verbs at scale (issue 16, target 4), on the user's path:
 * `gvos-sim lab up` of N boxes in a child process (no certificates issued at
 * start), then `gvos-sim lab status`, `lab inventory` and a fleet operation
 * on one box (`lab acme issue --box <middle>`, a certificate from the lab's
 * Pebble), each a fresh `gvos-sim` process timed from spawn to exit (what a
 * user waits for: Node's start-up, the control plane's answer, the table).
 * Also the lab's later-than-first figures a user sees: the seconds `lab up`
 * took, the resident memory of the lab and its listener processes, and its
 * open files.
 *
 * `node dist/bench/scale-lab-verbs.js 10000` (or `node dist/bench/run.js
 * --only scale-lab-verbs --full`) writes bench/results/scale-lab-verbs-<n>.json.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { procRssBytes } from './lib.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(ROOT, 'bin', 'gvos-sim.js');
const RESULTS = join(ROOT, 'bench', 'results');
const MiB = 1024 * 1024;
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

function topologyYaml(n: number): string {
  return [
    'lab: bench-verbs',
    'cluster: bench-verbs',
    'seed: bench-verbs',
    'domain: lab.test',
    'network:',
    '  mode: addresses',
    '  address-base: 127.80.0.0',
    '  address-offset: 0',
    'boxes:',
    `  count: ${n}`,
    '  template:',
    '    hostname: gv-{id}',
    '    model: GigaVUE-HC2',
    '    crypto-mode: secure-crypto',
    'ca:',
    '  type: pebble',
    'trap-receiver:',
    '  type: snmptrapd',
    '  community: public',
    'on-start:',
    '  issue-certificates: false',
    '',
  ].join('\n');
}

/** Run `gvos-sim <args>` to its exit; resolves with the wall seconds and its output. */
function timed(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ seconds: number; code: number | null; out: string }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.once('exit', (code) => resolve({ seconds: (performance.now() - t0) / 1000, code, out }));
  });
}

function childPids(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((s) => Number(s.trim()))
      .filter((x) => x > 0);
  } catch {
    return [];
  }
}

const comm = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
};

async function main(n: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gvos-bench-verbs-'));
  const file = join(dir, 'topology.yaml');
  writeFileSync(file, topologyYaml(n));
  const env = { ...process.env, GVOS_SIM_LABS_DIR: join(dir, 'labs') };
  const load0 = loadavg()[0]!;
  const t0 = performance.now();
  const up = spawn(process.execPath, [BIN, 'lab', 'up', file], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let upOut = '';
  const isUp = new Promise<number>((resolve, reject) => {
    const onData = (d: Buffer) => {
      upOut += d.toString();
      if (/lab bench-verbs is up:/.test(upOut)) resolve((performance.now() - t0) / 1000);
    };
    up.stdout.on('data', onData);
    up.stderr.on('data', onData);
    up.once('exit', (code) => reject(new Error(`lab up exited (${code}):\n${upOut.slice(-2000)}`)));
  });
  const figures: Record<string, unknown> = { boxes: n, loadAvg1mAtStart: round(load0, 2) };
  try {
    figures.labUpSeconds = round(await isUp, 2);
    figures.openFilesLine = /^open files: +(.*)$/m.exec(upOut)?.[1] ?? null;
    const listeners = childPids(up.pid!).filter((p) => comm(p).includes('acceptor'));
    const labRss = procRssBytes(up.pid!);
    const listenerRss = listeners.reduce((s, p) => s + procRssBytes(p), 0);
    figures.afterUp = {
      labRssMiB: round(labRss / MiB),
      listenerProcesses: listeners.length,
      listenerRssMiB: round(listenerRss / MiB),
      rssPerBoxMiB: round((labRss + listenerRss) / n / MiB, 3),
      labOpenFiles: readdirSync(`/proc/${up.pid}/fd`).length,
    };
    const middle = Math.ceil(n / 2);
    const verbs: Record<string, { seconds: number; ok: boolean; firstLines: string[] }> = {};
    for (const [name, args] of [
      ['lab status', ['lab', 'status']],
      ['lab inventory', ['lab', 'inventory']],
      [`lab acme issue --box ${middle}`, ['lab', 'acme', 'issue', '--box', String(middle)]],
      ['lab status (again)', ['lab', 'status']],
    ] as const) {
      const r = await timed([...args], env);
      verbs[name] = {
        seconds: round(r.seconds, 2),
        ok: r.code === 0,
        firstLines: r.out.split('\n').slice(0, 3),
      };
      console.log(`${name}: ${round(r.seconds, 2)} s (exit ${r.code})`);
    }
    figures.verbs = verbs;
    figures.loadAvg1mAtEnd = round(loadavg()[0]!, 2);
  } finally {
    const down = await timed(['lab', 'down'], env);
    figures.labDownSeconds = round(down.seconds, 2);
    await new Promise((r) => (up.exitCode !== null ? r(null) : up.once('exit', r)));
    rmSync(dir, { recursive: true, force: true });
  }
  figures.at = new Date().toISOString();
  figures.commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
    cwd: ROOT,
    encoding: 'utf8',
  }).trim();
  writeFileSync(join(RESULTS, `scale-lab-verbs-${n}.json`), JSON.stringify(figures, null, 2) + '\n');
  console.log(JSON.stringify(figures, null, 2));
}

/** `--only scale-lab-verbs [--full]`: 10,000 boxes with --full, 100 without. */
export function scaleLabVerbsBench(full: boolean): Promise<void> {
  return main(full ? 10_000 : 100);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(Number(process.argv[2] ?? 100)).then(
    () => process.exit(0),
    (err: Error) => {
      console.error(err);
      process.exit(1);
    },
  );
}
