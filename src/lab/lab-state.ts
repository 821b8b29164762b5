/**
 * The lab's state file (<labsDir>/<name>/lab.json, mode 0600): the PID of
 * the `lab up` process, its control plane's URL and bearer token, and the
 * PIDs of the peers it started, so that `lab down --name`, `lab status` and
 * the other subcommands work from another shell without the topology.
 *
 * Process safety: a PID is signalled only while /proc/<pid>/cmdline still
 * names the recorded executable, so a recycled PID is never hit.
 */
import { readFile, readdir, rm, writeFile, rename } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { LabStateFile } from './lab.js';
import type { PeerProcessRecord } from './peers.js';

/** The default directory of all labs, relative to the working directory (like the box's .gvos-sim/box-N). */
export const DEFAULT_LABS_DIR = '.gvos-sim/labs';

/** Where the state file of lab `name` lives. */
function stateFilePath(labsDir: string, name: string): string {
  return join(labsDir, name, 'lab.json');
}

/** Write the state file atomically with mode 0600 (it holds the control plane's token). */
export async function writeStateFile(labsDir: string, s: LabStateFile): Promise<void> {
  const file = stateFilePath(labsDir, s.name);
  // A random suffix: concurrent writers never share a temporary file.
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, JSON.stringify(s, null, 2) + '\n', { mode: 0o600 });
  await rename(tmp, file);
}

/** The state file of lab `name`, or undefined when there is none; throws naming the file when it is unreadable. */
export async function readStateFile(labsDir: string, name: string): Promise<LabStateFile | undefined> {
  try {
    return JSON.parse(await readFile(stateFilePath(labsDir, name), 'utf8')) as LabStateFile;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(
      `the state file of lab ${name} is unreadable (${(err as Error).message}); delete ${stateFilePath(labsDir, name)}`,
    );
  }
}

/** Delete the state file (the lab is down); no error when it is gone already. */
export async function removeStateFile(labsDir: string, name: string): Promise<void> {
  await rm(stateFilePath(labsDir, name), { force: true });
}

/** Names of the labs that have a state file under labsDir. */
export async function labNames(labsDir: string): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(labsDir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries.sort()) if (await readStateFile(labsDir, e).catch(() => undefined)) out.push(e);
  return out;
}

/** True when `pid` is a live process (signal 0), not a zombie waiting for its parent. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch (err) {
    // No procfs (not Linux): the signal said it lives; ENOENT: it is gone now.
    return (err as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

/** True when `pid` is alive and still runs `command` (checked in /proc where there is one). */
function pidRuns(pid: number, command: string): boolean {
  if (!pidAlive(pid)) return false;
  try {
    const argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
    const base = (p: string) => p.split('/').pop();
    return argv0 === command || base(argv0) === base(command);
  } catch {
    // No procfs (not Linux): trust the PID.
    return true;
  }
}

/** Wait until `pid` has exited, up to timeoutMs; resolves whether it did. */
export async function waitPidGone(pid: number, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (pidAlive(pid)) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/**
 * End a recorded peer process by PID: SIGTERM, then SIGKILL after graceMs.
 * Does nothing when the PID is gone or runs something else now. Resolves
 * whether it had to act.
 */
export async function endPeer(p: PeerProcessRecord, graceMs = 3_000): Promise<boolean> {
  if (!pidRuns(p.pid, p.command)) return false;
  try {
    process.kill(p.pid, 'SIGTERM');
  } catch {
    return false;
  }
  if (!(await waitPidGone(p.pid, graceMs)) && pidRuns(p.pid, p.command)) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone in between
    }
    await waitPidGone(p.pid, 2_000);
  }
  return true;
}
