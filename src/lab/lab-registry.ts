/**
 * The per-user registry of running labs: one small file per lab (its name,
 * its labs directory, the PID of its `lab up` process), so that `lab status`
 * and the other verbs find a running lab from any directory, not only the
 * one it was started in.
 *
 * Where: $GVOS_SIM_REGISTRY_DIR, else $XDG_RUNTIME_DIR/gvos-sim/labs (a
 * per-user tmpfs that the system empties at logout), else
 * ~/.gvos-sim/running. The directory is created 0700 and each entry 0600:
 * an entry names where the lab's state (with its control-plane token) is.
 *
 * Contract: `lab up` registers once its control plane answers and
 * unregisters when it goes down; an entry whose process is gone (the lab was
 * killed) is stale: registeredLabs() skips and deletes it. `--labs-dir` (or
 * $GVOS_SIM_LABS_DIR) still chooses one directory and bypasses the registry.
 */
// Lab design: not ~/.gvos-sim/labs, which is the default labs directory itself when a lab is
// started from the home directory (.gvos-sim/labs is relative to the working directory).
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile, rename } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { pidAlive } from './lab-state.js';

/** One running lab as the registry knows it. */
export interface RegisteredLab {
  name: string;
  /** Absolute directory of its labs (the lab's state is <labsDir>/<name>/lab.json). */
  labsDir: string;
  /** The `lab up` process. */
  pid: number;
  startedAt: string;
}

/** The registry directory for this user (see the file comment). */
export function registryDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.GVOS_SIM_REGISTRY_DIR) return env.GVOS_SIM_REGISTRY_DIR;
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'gvos-sim', 'labs');
  return join(homedir(), '.gvos-sim', 'running');
}

/** The entry's file: the name and a digest of the labs directory (two dirs may hold labs of one name). */
function entryFile(dir: string, name: string, labsDir: string): string {
  const digest = createHash('sha256').update(labsDir).digest('hex').slice(0, 12);
  return join(dir, `${name}-${digest}.json`);
}

/** Record a running lab (atomic write, 0600 in a 0700 directory). */
export async function registerLab(lab: RegisteredLab, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const dir = registryDir(env);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const file = entryFile(dir, lab.name, lab.labsDir);
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify(lab) + '\n', { mode: 0o600 });
  await rename(tmp, file);
}

/** Forget a lab (it went down); no error when it is not registered. */
export async function unregisterLab(
  name: string,
  labsDir: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  await rm(entryFile(registryDir(env), name, labsDir), { force: true });
}

/** The registered labs whose process still runs, by name; stale entries are deleted on the way. */
export async function registeredLabs(env: NodeJS.ProcessEnv = process.env): Promise<RegisteredLab[]> {
  const dir = registryDir(env);
  let files: string[];
  try {
    files = await readdir(dir);
  } catch {
    return [];
  }
  const out: RegisteredLab[] = [];
  for (const f of files.filter((x) => x.endsWith('.json')).sort()) {
    let lab: RegisteredLab | undefined;
    try {
      lab = JSON.parse(await readFile(join(dir, f), 'utf8')) as RegisteredLab;
    } catch {
      lab = undefined;
    }
    if (!lab || typeof lab.pid !== 'number' || !pidAlive(lab.pid)) {
      await rm(join(dir, f), { force: true });
      continue;
    }
    out.push(lab);
  }
  return out.sort((a, b) => a.name.localeCompare(b.name) || a.labsDir.localeCompare(b.labsDir));
}
