// `lab up` says at start which open-files limit it met: under a low `ulimit -n` a topology that
// cannot fit is refused before anything starts, naming the limit, the need and how many boxes fit.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt, REPO_ROOT } from './lab-harness.js';

ensureBuilt();

/** `gvos-sim lab up <args>` under `ulimit -n <limit>` (a shell sets the soft limit, as a user would). */
function labUpUnderLimit(
  limit: number,
  args: string[],
  labsDir: string,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const cmd = `ulimit -n ${limit} && exec "$0" bin/gvos-sim.js lab up "$@"`;
    const p = spawn('bash', ['-c', cmd, process.execPath, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, GVOS_SIM_LABS_DIR: labsDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.once('exit', (code) => resolve({ code, out }));
  });
}

t.test('a lab that cannot fit the open-files limit is refused at start, saying why', async (t) => {
  const labsDir = mkdtempSync(join(tmpdir(), 'gvos-open-files-'));
  t.teardown(() => rmSync(labsDir, { recursive: true, force: true }));
  // 1000 boxes need 1000 UDP agent sockets in the lab's process alone, plus 1700 for peers, connections and notifications.
  const r = await labUpUnderLimit(2000, ['--boxes', '1000', '--name', 'ofiles'], labsDir);
  t.not(r.code, 0, 'lab up exits with an error');
  t.match(r.out, /^open files: {2}1000 boxes need about \d+ open files/m, 'the open-files line comes first');
  t.match(r.out, 'may open 2000 (ulimit -n)', 'it names the limit it met');
  t.match(r.out, /at most 300 boxes fit/, 'and how many boxes fit');
  t.notMatch(r.out, /starting Pebble|is up:/, 'nothing was started');
});
