/**
 * A real box process (`bin/gvos-sim.js box`), as a user runs it, for
 * end-to-end tests: started on free ports (port 0) with a temporary data
 * directory, ready when it prints its JSON ready line, stopped by PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(REPO_ROOT, 'bin', 'gvos-sim.js');

interface ReadyLine {
  event: 'ready';
  boxId: number;
  address: string;
  ports: { ssh: number; cli: number; https: number; http: number; snmp: number };
}

export interface BoxProcess {
  proc: ChildProcess;
  ready: ReadyLine;
  dataDir: string;
  /** Everything the process wrote on stderr so far. */
  stderr(): string;
  /** SIGTERM and wait for the exit; resolves the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
}

export interface BoxProcessOptions {
  /** Extra arguments after `box`. Ports default to 0 unless given here. */
  args?: string[];
  dataDir?: string;
  env?: NodeJS.ProcessEnv;
  password?: string;
  timeoutMs?: number;
}

/** Start a box and wait for its ready line; rejects with its stderr if it exits first. */
export async function startBoxProcess(o: BoxProcessOptions = {}): Promise<BoxProcess> {
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), 'gvos-box-'));
  const args = [BIN, 'box', '--data-dir', dataDir, '--log-level', 'warn'];
  const given = new Set((o.args ?? []).filter((a) => a.startsWith('--')));
  for (const p of ['--ssh-port', '--cli-port', '--https-port', '--http-port', '--snmp-port'])
    if (!given.has(p)) args.push(p, '0');
  args.push(...(o.args ?? []));
  const proc = spawn(process.execPath, args, {
    env: { ...process.env, GVOS_ADMIN_PASSWORD: o.password ?? 'Adm1n-test-pw', ...(o.env ?? {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const ready = await new Promise<ReadyLine>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`box did not become ready in time; stderr: ${err}`));
    }, o.timeoutMs ?? 30_000);
    const rl = createInterface({ input: proc.stdout! });
    rl.on('line', (line) => {
      try {
        const j = JSON.parse(line) as ReadyLine;
        if (j.event === 'ready') {
          clearTimeout(timer);
          resolve(j);
        }
      } catch {
        // not JSON: ignore
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`box exited with ${code} before ready; stderr: ${err}`));
    });
  });
  return {
    proc,
    ready,
    dataDir,
    stderr: () => err,
    stop: async () => {
      if (proc.exitCode === null) proc.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      if (proc.exitCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** `box --data-dir <dir>` with every TCP port 0 (any free one): for a box that only has to boot or refuse. */
export function anyPortBoxArgs(dataDir: string): string[] {
  return [
    'box',
    '--data-dir',
    dataDir,
    '--ssh-port',
    '0',
    '--cli-port',
    '0',
    '--https-port',
    '0',
    '--http-port',
    '0',
  ];
}

/** Run the box command to completion (for option errors); resolves code, stdout and stderr. */
export function runBoxCommand(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}
