/**
 * `lab up` at scale (issue 16, target 4): the seconds a user waits for the
 * table of a new lab (first boot: every box's identity and keys made, then
 * configured: CA list, name server, trap target, write memory), on the
 * user's path: `gvos-sim lab up` in a child process, its progress lines read
 * as they come. Two sizes in one run, the reference first (1000 boxes), so
 * the per-box figures say whether the start grows faster than the lab.
 *
 * Per size: seconds to the first box starting (peers up), to the last box
 * running (boot + configure), to the table; the lab's main-thread CPU
 * seconds; resident memory of the lab and its listener processes; then
 * `lab down`. With GVOS_BENCH_ISSUE=1 every box also issues its certificate
 * at start (the lab's paced fleet issue; scale-lab-up-<n>-issued.json):
 * the table then comes after the last certificate, and the memory is with
 * certificates. With GVOS_BENCH_CPU_PROF=<dir>, the lab runs under
 * `node --cpu-prof` and writes its profile there when it ends.
 *
 * `node dist/bench/scale-lab-up.js 10000 [1000]` (or `node dist/bench/run.js
 * --only scale-lab-up --full`) writes bench/results/scale-lab-up-<n>.json.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { procCpuSeconds, procRssBytes, table } from './lib.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(ROOT, 'bin', 'gvos-sim.js');
const RESULTS = join(ROOT, 'bench', 'results');
const MiB = 1024 * 1024;
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
/** GVOS_BENCH_ISSUE=1: every box issues its certificate at start, paced as the lab's fleet operations. */
const ISSUE = process.env.GVOS_BENCH_ISSUE === '1';

/** What one size measured. */
interface UpFigures {
  boxes: number;
  /** Seconds from spawn, as the lab's own progress lines stamp them (its clock starts at its start). */
  firstBoxStartingS: number;
  lastBoxRunningS: number;
  /** The lab's own figure: "lab X is up: ... in N s". */
  tableS: number;
  /** Boxes with a valid certificate in the table (GVOS_BENCH_ISSUE=1). */
  validCertificates: number;
  labCpuSeconds: number;
  labRssMiB: number;
  listenerRssMiB: number;
  rssPerBoxMiB: number;
  openFilesLine: string | null;
  loadAvg1m: [number, number];
}

function topologyYaml(name: string, n: number): string {
  return `lab: ${name}\ncluster: ${name}\nseed: ${name}\ndomain: lab.test
network:\n  mode: addresses\n  address-base: 127.82.0.0\n  address-offset: 0
boxes:\n  count: ${n}\n  template:\n    hostname: gv-{id}\n    model: GigaVUE-HC2\n    crypto-mode: secure-crypto
ca:\n  type: pebble\ntrap-receiver:\n  type: snmptrapd\n  community: public
on-start:\n  issue-certificates: ${ISSUE}\n`;
}

const childPids = (pid: number): number[] => {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((s) => Number(s.trim()))
      .filter((x) => x > 0 && readFileSync(`/proc/${x}/cmdline`, 'utf8').includes('acceptor'));
  } catch {
    return [];
  }
};

async function upOnce(n: number): Promise<UpFigures> {
  const name = `scale-up-${n}`;
  const dir = mkdtempSync(join(tmpdir(), 'gvos-bench-up-'));
  const file = join(dir, 'topology.yaml');
  writeFileSync(file, topologyYaml(name, n));
  const env = { ...process.env, GVOS_SIM_LABS_DIR: join(dir, 'labs') };
  const prof = process.env.GVOS_BENCH_CPU_PROF;
  const load0 = loadavg()[0]!;
  const up = spawn(
    process.execPath,
    [...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []), BIN, 'lab', 'up', file],
    { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  const stamp = (re: RegExp): number => Number(re.exec(out)?.[1] ?? NaN);
  try {
    await new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer) => {
        out += d.toString();
        if (out.includes(`lab ${name} is up:`)) resolve();
      };
      up.stdout.on('data', onData);
      up.stderr.on('data', onData);
      up.once('exit', (code) => reject(new Error(`lab up exited (${code}):\n${out.slice(-2000)}`)));
    });
    const running = [...out.matchAll(/^\[ *([\d.]+)s\] box \d+ \S+: running$/gm)].map((m) => Number(m[1]));
    const listeners = childPids(up.pid!);
    const lab = procRssBytes(up.pid!);
    const listener = listeners.reduce((s, p) => s + procRssBytes(p), 0);
    return {
      boxes: n,
      firstBoxStartingS: stamp(/^\[ *([\d.]+)s\] box \d+ \S+: starting$/m),
      lastBoxRunningS: Math.max(...running),
      tableS: stamp(new RegExp(`^lab ${name} is up: .* in ([\\d.]+) s$`, 'm')),
      validCertificates: stamp(new RegExp(`^lab ${name} is up: \\d+ boxes, (\\d+) with a valid`, 'm')),
      labCpuSeconds: round(procCpuSeconds(up.pid!), 2),
      labRssMiB: round(lab / MiB),
      listenerRssMiB: round(listener / MiB),
      rssPerBoxMiB: round((lab + listener) / n / MiB, 3),
      openFilesLine: /^open files: +(.*)$/m.exec(out)?.[1] ?? null,
      loadAvg1m: [round(load0, 2), round(loadavg()[0]!, 2)],
    };
  } finally {
    execFileSync(process.execPath, [BIN, 'lab', 'down', '--name', name], { cwd: ROOT, env, stdio: 'ignore' });
    await new Promise((r) => (up.exitCode !== null ? r(null) : up.once('exit', r)));
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(n: number, ref: number): Promise<void> {
  const r = await upOnce(ref);
  console.log(`scale-lab-up: ${ref} boxes, table in ${r.tableS} s`);
  const b = await upOnce(n);
  const row = (f: UpFigures) => [
    f.boxes,
    f.firstBoxStartingS,
    f.lastBoxRunningS,
    f.tableS,
    f.validCertificates,
    round((f.tableS * 1000) / f.boxes, 2),
    f.labCpuSeconds,
    f.rssPerBoxMiB,
    `${f.loadAvg1m[0]} / ${f.loadAvg1m[1]}`,
  ];
  const doc = {
    name: 'scale-lab-up',
    issueCertificates: ISSUE,
    at: new Date().toISOString(),
    commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim(),
    reference: r,
    size: b,
    growth: {
      note: 'ms per box to the table at the size over the same at the reference: 1 = grows with the lab',
      ratio: round(b.tableS / b.boxes / (r.tableS / r.boxes), 2),
    },
    targets: ISSUE
      ? [
          {
            name: `resident memory per box, ${n} boxes with certificates (lab + listener processes, no GC asked)`,
            wanted: '< 1 MiB, every box with its certificate',
            met: b.rssPerBoxMiB < 1 && b.validCertificates === n,
          },
        ]
      : [{ name: `lab up of ${n} boxes, seconds to its table`, wanted: '< 60 s', met: b.tableS < 60 }],
    table: table(
      [
        'boxes',
        'first box starting s',
        'last box running s',
        'table s',
        'valid certificates',
        'ms/box',
        'lab CPU s',
        'RSS MiB/box',
        'load 1m start / end',
      ],
      [row(r), row(b)],
    ),
  };
  writeFileSync(
    join(RESULTS, `scale-lab-up-${n}${ISSUE ? '-issued' : ''}.json`),
    JSON.stringify(doc, null, 2) + '\n',
  );
  console.log(`\n${doc.table}\n\n${JSON.stringify(doc.growth)}\n${JSON.stringify(doc.targets)}`);
}

/** `--only scale-lab-up [--full]`: 10,000 boxes against 1000 with --full, 1000 against 100 without. */
export function scaleLabUpBench(full: boolean): Promise<void> {
  return full ? main(10_000, 1000) : main(1000, 100);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main(Number(process.argv[2] ?? 1000), Number(process.argv[3] ?? 1000)).then(
    () => process.exit(0),
    (err: Error) => {
      console.error(err);
      process.exit(1);
    },
  );
}
