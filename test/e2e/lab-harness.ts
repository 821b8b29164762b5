/**
 * Helpers of the lab's end-to-end tests: run `gvos-sim lab ...` as a user
 * does (the built CLI), build first when dist/ is older than the sources.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AcmeAgentSettings } from '../../src/acme/agent.js';
import type { LabBoxStatus } from '../../src/lab/lab.js';
import { FileFirmwareCatalog } from '../../src/firmware/catalog.js';
import { Lab } from '../../src/lab/lab.js';
import { parseTopology } from '../../src/lab/topology.js';
import { silentLogger } from '../../src/lib/logger.js';
import { canListen } from '../../src/lib/net.js';

/** The repository root (the lab's commands run from here). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(REPO_ROOT, 'bin', 'gvos-sim.js');
const LAB_JS = join(REPO_ROOT, 'dist', 'src', 'lab', 'lab-command.js');

/** Build with tsc when dist/ misses the lab or is older than src/lab (tsc emits even when other folders have type errors). */
export function ensureBuilt(): void {
  const newestSrc = Math.max(
    ...readdirSync(join(REPO_ROOT, 'src', 'lab')).map(
      (f) => statSync(join(REPO_ROOT, 'src', 'lab', f)).mtimeMs,
    ),
  );
  if (existsSync(LAB_JS) && statSync(LAB_JS).mtimeMs >= newestSrc) return;
  spawnSync(
    process.execPath,
    [join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(REPO_ROOT, 'tsconfig.json')],
    { stdio: 'ignore' },
  );
  if (!existsSync(LAB_JS)) throw new Error('npm run build did not produce dist/src/lab/lab-command.js');
}

/**
 * The command line of `gvos-sim lab <args>`: bin/gvos-sim.js once main.ts
 * has the lab command, else the built lab module directly (same code path).
 */
let binHasLab: boolean | undefined;
export function labCommand(args: string[]): string[] {
  // Probed once per test file: a node start per command doubled the time of the lab suites.
  binHasLab ??= (() => {
    const probe = spawnSync(process.execPath, [BIN, 'lab', '--help'], { encoding: 'utf8' });
    return probe.status === 0 && probe.stdout.includes('gvos-sim lab');
  })();
  if (binHasLab) return [BIN, 'lab', ...args];
  const code = `import(${JSON.stringify(LAB_JS)}).then((m) => m.runLab(process.argv.slice(1))).catch((e) => { console.error('gvos-sim: ' + e.message); process.exit(1); });`;
  return ['--input-type=module', '-e', code, ...args];
}

/** Run `gvos-sim lab <args>` to completion. */
export function runLabCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  cwd: string = REPO_ROOT,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, labCommand(args), {
      cwd,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `gvos-sim lab status --json` of the lab under `labs`, parsed; rejects with its stderr when it fails. */
export async function labStatusJson(labs: string): Promise<LabBoxStatus[]> {
  const r = await runLabCli(['status', '--json', '--labs-dir', labs]);
  if (r.code !== 0) throw new Error(`lab status --json: ${r.stderr}`);
  return JSON.parse(r.stdout) as LabBoxStatus[];
}

/** Start `gvos-sim lab up <args>` in the background; resolves once it printed "is up", with its output so far. */
export async function startLabUp(
  args: string[],
  timeoutMs = 120_000,
  env: NodeJS.ProcessEnv = {},
): Promise<{ proc: ChildProcess; stdout: () => string; exited: Promise<number | null> }> {
  const proc = spawn(process.execPath, labCommand(['up', ...args]), {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  const until = Date.now() + timeoutMs;
  while (!/lab \S+ is up:/.test(out)) {
    if (proc.exitCode !== null) throw new Error(`lab up exited with ${proc.exitCode}:\n${out}`);
    if (Date.now() > until) {
      proc.kill('SIGTERM');
      throw new Error(`lab up was not up within ${timeoutMs / 1000} s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  // The lines after the table (login, CA root, trap log) follow at once.
  await new Promise((r) => setTimeout(r, 200));
  return { proc, stdout: () => out, exited };
}

/** Which of a lab's default peers (Pebble, its challenge server, snmptrapd) and of `extra` this machine lacks, for a skip reason. */
export function missingLabPeers(extra: readonly string[] = []): string[] {
  return ['pebble', 'pebble-challtestsrv', 'snmptrapd', ...extra].filter((b) => {
    try {
      execFileSync('sh', ['-c', `command -v ${b} || test -x /usr/sbin/${b}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
}

/** Why a lab with Pebble and snmptrapd on `<base>.x` (standard ports) cannot run in this process here, or false. */
export async function inProcessLabSkip(base: string): Promise<string | false> {
  if (!(await canListen(`${base}.1`, 443))) return `cannot listen on ${base}.1:443 (needs root and 127/8)`;
  const missing = missingLabPeers();
  return missing.length ? `apt-get install ${missing.join(' ')}` : false;
}

/**
 * Lab.up in this process: `boxes` boxes on `<base>.N`, 24-hour certificates
 * from a fresh Pebble, a short ACME request timeout (a fault fails in
 * seconds). `down` stops it and removes its directory.
 */
export async function inProcessLab(o: {
  name: string;
  base: string;
  boxes: number;
  acmeSettings?: AcmeAgentSettings;
  /** The CA breaker's silence (LabOptions.caSilenceMs); default the lab's. */
  caSilenceMs?: number;
}): Promise<{ lab: Lab; down: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), `gvos-${o.name}-`));
  const catalog = new FileFirmwareCatalog();
  const topology = parseTopology(
    [
      `lab: ${o.name}`,
      'admin-password: Adm1n-test-pw',
      `boxes: ${o.boxes}`,
      `network: { address-base: ${o.base}.0, address-offset: 0 }`,
      'ca: { validity-hours: 24 }',
      '',
    ].join('\n'),
    `${o.name}.yaml`,
    { defaultFirmware: catalog.latest().version },
  );
  const lab = await Lab.up({
    topology,
    labsDir: dir,
    catalog,
    logger: silentLogger,
    acmeSettings: { requestTimeoutMs: 2_000, ...o.acmeSettings },
    ...(o.caSilenceMs !== undefined ? { caSilenceMs: o.caSilenceMs } : {}),
  });
  return {
    lab,
    down: async () => {
      await lab.down();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Why a `lab up` test cannot run here, or false: an address of its block
 * that cannot be bound on 443 (own addresses need root and 127/8), or a
 * peer binary that is not installed.
 */
export async function labSkipReason(addresses: string[]): Promise<string | false> {
  for (const a of addresses)
    if (!(await canListen(a, 443)))
      return `cannot listen on ${addresses.map((x) => `${x}:443`).join(' and ')} (needs root and 127/8)`;
  const missing = missingLabPeers();
  return missing.length ? `missing ${missing.join(', ')}: apt-get install pebble snmptrapd` : false;
}

/**
 * `lab up` of a topology file made of `lines`, in a fresh directory (labs
 * under <dir>/labs); at teardown the lab gets SIGTERM if still up and the
 * directory goes.
 */
export async function startTopologyLab(
  t: { teardown(fn: () => unknown): void },
  prefix: string,
  lines: string[],
  args: string[] = [],
): Promise<{ lab: Awaited<ReturnType<typeof startLabUp>>; labs: string }> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const labs = join(dir, 'labs');
  const topo = join(dir, 'topology.yaml');
  writeFileSync(topo, [...lines, ''].join('\n'));
  const lab = await startLabUp([topo, ...args, '--labs-dir', labs]);
  t.teardown(async () => {
    if (lab.proc.exitCode === null) lab.proc.kill('SIGTERM');
    await lab.exited;
    rmSync(dir, { recursive: true, force: true });
  });
  return { lab, labs };
}
