// The address fallback (issue 14 item 4): when the boxes cannot have their
// own addresses, `lab up` says in one line what it did and why; with
// `network.mode: addresses` it refuses before starting anything.
import t from 'tap';
import { createServer } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canListen } from '../../src/lib/net.js';
import { ensureBuilt, missingLabPeers, runLabCli, startLabUp } from './lab-harness.js';

// Its own address block (127.0.11.x), apart from other suites.
const FALLBACK_BASE = '127.0.11';
const canBind = await canListen(`${FALLBACK_BASE}.2`, 443);
const missing = missingLabPeers();
t.setTimeout(400_000);
const skip = !canBind
  ? `cannot listen on ${FALLBACK_BASE}.2:443 (needs root and 127/8)`
  : missing.length
    ? `missing ${missing.join(', ')}: apt-get install pebble snmptrapd`
    : false;

t.test(
  'the address fallback says why in one line; network.mode addresses refuses instead',
  { skip },
  async (t) => {
    ensureBuilt();
    if (!(await canListen(`${FALLBACK_BASE}.1`, 443))) return t.pass(`${FALLBACK_BASE}.1:443 is in use here`);
    const dir = mkdtempSync(join(tmpdir(), 'gvos-lab-fallback-'));
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(443, `${FALLBACK_BASE}.1`, () => r()));
    t.teardown(() => {
      blocker.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const env = { GVOS_SIM_REGISTRY_DIR: join(dir, 'registry') };
    const topo = (mode: string) => {
      const f = join(dir, `${mode}.yaml`);
      writeFileSync(
        f,
        [
          `lab: e2e-${mode}`,
          'boxes: 1',
          'on-start: { issue-certificates: false }',
          'network:',
          `  mode: ${mode}`,
          `  address-base: ${FALLBACK_BASE}.0`,
          '  address-offset: 0',
          '',
        ].join('\n'),
      );
      return f;
    };
    const refused = await runLabCli(['up', topo('addresses'), '--labs-dir', join(dir, 'labs')], env);
    t.equal(refused.code, 1);
    t.match(
      refused.stderr,
      `network.mode addresses, but box 1: ${FALLBACK_BASE}.1:443 is taken (EADDRINUSE); free it, run as root, or use network.mode auto`,
    );
    t.notMatch(refused.stdout, /starting Pebble/, 'refused before starting anything');

    const lab = await startLabUp([topo('auto'), '--labs-dir', join(dir, 'labs')], 120_000, env);
    t.teardown(async () => {
      if (lab.proc.exitCode === null) lab.proc.kill('SIGTERM');
      await lab.exited;
    });
    const lines = lab
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('addressing: '));
    t.ok(lines.length >= 1);
    t.equal(
      lines.at(-1),
      `addressing: every box on 127.0.0.1 with port offsets (ssh 2200+id, https 4400+id), because box 1: ${FALLBACK_BASE}.1:443 is taken (EADDRINUSE); network.mode addresses would refuse instead`,
    );
    t.match(lab.stdout(), /log in: +ssh -p 2201 admin@127\.0\.0\.1 /);
    const down = await runLabCli(['down', '--name', 'e2e-auto', '--labs-dir', join(dir, 'labs')], env);
    t.equal(down.code, 0, down.stderr);
  },
);
