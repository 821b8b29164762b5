// Signals while `lab up` is still starting its boxes, as a user sends them:
// Ctrl-C pressed twice, or a SIGTERM and then `lab down` (which sends the
// lab's PID another SIGTERM). The lab remembers the first, says it stops
// once the starting boxes are up, and must not die of the second: a lab
// ended by a signal's default action leaves its Pebble, challenge server
// and snmptrapd running. Checks what a user checks afterwards: the lab
// process ended by itself and said so, every peer PID it recorded is gone,
// its state file is removed and box 1's HTTPS port is free.
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canListen } from '../../src/lib/net.js';
import { pidAlive, waitPidGone } from '../../src/lab/lab-state.js';
import type { LabStateFile } from '../../src/lab/lab.js';
import { ensureBuilt, labCommand, labSkipReason, REPO_ROOT } from './lab-harness.js';

// Its own address block (127.0.24.x), apart from users' labs and other suites.
const BASE = '127.0.24';
const skip = await labSkipReason([`${BASE}.1`]);

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  t.test(`${sig} twice while the boxes start`, { skip }, async (t) => {
    ensureBuilt();
    const dir = mkdtempSync(join(tmpdir(), 'gvos-lab-signal-'));
    const labs = join(dir, 'labs');
    const topo = join(dir, 'topology.yaml');
    const name = `e2e-signal-${sig.toLowerCase()}`;
    writeFileSync(
      topo,
      [`lab: ${name}`, 'network:', `  address-base: ${BASE}.0`, '  address-offset: 0', ''].join('\n'),
    );
    // Enough boxes that the start (first boot, keys, certificates) lasts well past the peers' start.
    const proc = spawn(process.execPath, labCommand(['up', topo, '--boxes', '40', '--labs-dir', labs]), {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
      proc.once('exit', (code, signal) => r({ code, signal })),
    );
    const stateFile = join(labs, name, 'lab.json');
    const recorded = (): LabStateFile | undefined => {
      try {
        return JSON.parse(readFileSync(stateFile, 'utf8')) as LabStateFile;
      } catch {
        return undefined; // not written yet, or being replaced
      }
    };
    let peers: LabStateFile['processes'] = [];
    t.teardown(() => {
      // Whatever a failed run left: ended by the PIDs the lab recorded.
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      for (const p of peers) if (pidAlive(p.pid)) process.kill(p.pid, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });

    // Wait until the peers (Pebble, its DNS, snmptrapd) are recorded, while the lab is not up yet.
    const until = Date.now() + 120_000;
    while (peers.length < 3 && Date.now() < until && proc.exitCode === null) {
      await new Promise((r) => setTimeout(r, 50));
      peers = recorded()?.processes ?? [];
    }
    t.ok(peers.length >= 3, 'the lab recorded its peers while starting', { out });
    t.notMatch(out, /is up:/, 'the lab is still starting when the signals come');

    proc.kill(sig);
    await new Promise((r) => setTimeout(r, 300));
    proc.kill(sig);
    const { code, signal } = await exited;
    t.equal(signal, null, 'the lab was not ended by the signal itself', { out: out.slice(-2000) });
    t.equal(code, 0, 'it exited by itself with 0');
    t.match(out, /stopping once the boxes that are starting are up/, 'it said it stops after the start');
    t.match(out, new RegExp(`lab ${name}: down`), 'and that it is down');
    for (const p of peers) t.ok(await waitPidGone(p.pid, 5_000), `${p.name} (PID ${p.pid}) is gone`);
    t.notOk(existsSync(stateFile), 'its state file is removed');
    t.ok(await canListen(`${BASE}.1`, 443), "box 1's HTTPS port is free");
  });
}
