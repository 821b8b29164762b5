/**
 * The lab's own verbs at scale (issue 16, target 4: each under 1 s at 10,000
 * boxes), on the user's path: `gvos-sim lab up` of N boxes in a child
 * process (no certificates issued at start), then `gvos-sim lab status`
 * (also `--summary` and `--json`), `lab inventory` and a fleet operation on
 * one box (`lab acme issue --box <id>`, a certificate from the lab's Pebble),
 * each a fresh `gvos-sim` process timed from spawn to exit (what a user
 * waits for: Node's start-up, the control plane's answer, the output), three
 * times each. The reference, run just before each verb on the same machine
 * at the same moment: `node -e 0`, Node starting and doing nothing (no verb
 * can be faster). Per verb also: the CLI's CPU (its process, from this
 * process's children times) and the lab process's CPU while it answered
 * (/proc), and the bytes printed. Also the lab's figures a user sees: the
 * seconds `lab up` took, the resident memory of the lab and its listener
 * processes, and its open files. The load average at start and end is in
 * the JSON: on this 2-core machine a load of 10 makes every process wait.
 *
 * `node dist/bench/scale-lab-verbs.js 10000` (or `node dist/bench/run.js
 * --only scale-lab-verbs --full`) writes bench/results/scale-lab-verbs-<n>.json.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { median, procCpuSeconds, procRssBytes, table } from './lib.js';

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

/** CPU seconds of this process's waited-for children (cutime + cstime, /proc/self/stat). */
function childrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / 100; // USER_HZ is 100 on Linux x86_64
}

/** Run `node <args>` to its exit; resolves with the wall seconds, its CPU seconds and its output. */
function timedNode(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ seconds: number; cpuSeconds: number; code: number | null; out: string; bytes: number }> {
  return new Promise((resolve) => {
    const cpu0 = childrenCpuSeconds();
    const t0 = performance.now();
    const p = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let bytes = 0;
    p.stdout.on('data', (d: Buffer) => {
      bytes += d.length;
      if (out.length < 4096) out += d.toString();
    });
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    // 'close': reaped and its output read (the children times count it only once reaped).
    p.once('close', (code) =>
      resolve({
        seconds: (performance.now() - t0) / 1000,
        cpuSeconds: childrenCpuSeconds() - cpu0,
        code,
        out,
        bytes,
      }),
    );
  });
}

/** Run `gvos-sim <args>` to its exit (see timedNode). */
function timed(args: string[], env: NodeJS.ProcessEnv) {
  return timedNode([BIN, ...args], env);
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
  const figures: Record<string, unknown> = {
    boxes: n,
    machine: { cores: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version },
    loadAvg1mAtStart: round(load0, 2),
  };
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
    const ROUNDS = 3;
    type Run = {
      seconds: number;
      referenceSeconds: number;
      cliCpuSeconds: number;
      referenceCpuSeconds: number;
      labCpuSeconds: number;
    };
    const verbs: Record<
      string,
      { runs: Run[]; ok: boolean; bytes: number; firstLines: string[]; medianSeconds: number }
    > = {};
    const plan: [string, (round: number) => string[]][] = [
      ['lab status', () => ['lab', 'status']],
      ['lab status --summary', () => ['lab', 'status', '--summary']],
      ['lab status --json', () => ['lab', 'status', '--json']],
      ['lab inventory', () => ['lab', 'inventory']],
      // A different box each round: each is a first issue, a certificate from the lab's Pebble.
      [
        `lab acme issue --box ${middle}..${middle + ROUNDS - 1}`,
        (k) => ['lab', 'acme', 'issue', '--box', String(middle + k)],
      ],
      ['lab status (certificates issued)', () => ['lab', 'status']],
    ];
    for (const [name, args] of plan) {
      const runs: Run[] = [];
      let last: Awaited<ReturnType<typeof timed>> | undefined;
      let ok = true;
      for (let k = 0; k < ROUNDS; k++) {
        const reference = await timedNode(['-e', '0'], env);
        const lab0 = procCpuSeconds(up.pid!);
        const r = await timed(args(k), env);
        runs.push({
          seconds: round(r.seconds, 3),
          referenceSeconds: round(reference.seconds, 3),
          cliCpuSeconds: round(r.cpuSeconds, 2),
          referenceCpuSeconds: round(reference.cpuSeconds, 2),
          labCpuSeconds: round(procCpuSeconds(up.pid!) - lab0, 2),
        });
        ok &&= r.code === 0;
        last = r;
      }
      verbs[name] = {
        runs,
        ok,
        bytes: last!.bytes,
        firstLines: last!.out.split('\n').slice(0, 3),
        medianSeconds: round(median(runs.map((r) => r.seconds)), 3),
      };
      console.log(
        `${name}: ${runs.map((r) => r.seconds).join(' / ')} s (node -e 0: ${runs.map((r) => r.referenceSeconds).join(' / ')} s)`,
      );
    }
    figures.verbs = verbs;
    figures.targetSeconds = 1;
    const med = (xs: number[]) => round(median(xs), 3);
    figures.table = table(
      [
        'verb',
        'wall s (3 runs)',
        'median',
        'node -e 0 median',
        'CLI CPU s (node -e 0)',
        'lab CPU s',
        'bytes out',
        '< 1 s',
      ],
      Object.entries(verbs).map(([name, v]) => [
        name,
        v.runs.map((r) => r.seconds.toFixed(2)).join(' / '),
        v.medianSeconds.toFixed(2),
        med(v.runs.map((r) => r.referenceSeconds)).toFixed(2),
        `${med(v.runs.map((r) => r.cliCpuSeconds)).toFixed(2)} (${med(v.runs.map((r) => r.referenceCpuSeconds)).toFixed(2)})`,
        med(v.runs.map((r) => r.labCpuSeconds)).toFixed(2),
        v.bytes,
        v.ok && v.medianSeconds < 1 ? 'yes' : 'no',
      ]),
    );
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
  console.log(
    `\n${String(figures.table)}\n(load average ${String(figures.loadAvg1mAtStart)} at start, ${String(figures.loadAvg1mAtEnd)} at end)`,
  );
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
