/**
 * The per-user registry of running labs (lab-registry.ts): where it lives,
 * its modes, stale entries (a PID that is gone) and the lookup from another
 * directory (locateLab).
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, readdirSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerLab, registeredLabs, registryDir, unregisterLab } from './lab-registry.js';
import { locateLab } from './plane-client.js';
import { writeStateFile } from './lab-state.js';

const base = mkdtempSync(join(tmpdir(), 'gvos-registry-'));
t.teardown(() => rmSync(base, { recursive: true, force: true }));

t.test('where: the override, else XDG_RUNTIME_DIR, else the home directory', async (t) => {
  t.equal(registryDir({ GVOS_SIM_REGISTRY_DIR: '/x/y', XDG_RUNTIME_DIR: '/run/user/1' }), '/x/y');
  t.equal(registryDir({ XDG_RUNTIME_DIR: '/run/user/1' }), '/run/user/1/gvos-sim/labs');
  t.match(registryDir({}), /\.gvos-sim\/running$/);
});

t.test('entries: 0600 in a 0700 directory; a stale one (process gone) is skipped and deleted', async (t) => {
  const env = { XDG_RUNTIME_DIR: join(base, 'run') };
  mkdirSync(env.XDG_RUNTIME_DIR);
  const dead = spawn(process.execPath, ['-e', '0']);
  await new Promise((r) => dead.once('exit', r));
  await registerLab({ name: 'live', labsDir: '/labs/a', pid: process.pid, startedAt: 'x' }, env);
  await registerLab({ name: 'gone', labsDir: '/labs/a', pid: dead.pid!, startedAt: 'x' }, env);
  const dir = registryDir(env);
  t.equal(statSync(dir).mode & 0o777, 0o700);
  for (const f of readdirSync(dir)) t.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
  t.equal(readdirSync(dir).length, 2);
  t.strictSame(
    (await registeredLabs(env)).map((l) => l.name),
    ['live'],
  );
  t.equal(readdirSync(dir).length, 1, 'the stale entry is gone');
  await unregisterLab('live', '/labs/a', env);
  t.strictSame(await registeredLabs(env), []);
});

t.test(
  'locateLab: a registered lab is found from another directory; --labs-dir bypasses the registry',
  async (t) => {
    const env = { GVOS_SIM_REGISTRY_DIR: join(base, 'reg') };
    const labsDir = join(base, 'project', '.gvos-sim', 'labs');
    mkdirSync(join(labsDir, 'demo'), { recursive: true });
    await writeStateFile(labsDir, {
      name: 'demo',
      pid: process.pid,
      controlPlane: { url: 'http://127.0.0.1:1', token: 't' },
      processes: [],
      trapLog: null,
      startedAt: 'x',
    });
    const elsewhere = join(base, 'elsewhere', '.gvos-sim', 'labs');
    await t.rejects(locateLab({ labsDir: elsewhere, labsDirGiven: false }, env), /no lab is running/);
    await registerLab({ name: 'demo', labsDir, pid: process.pid, startedAt: 'x' }, env);
    t.strictSame(await locateLab({ labsDir: elsewhere, labsDirGiven: false }, env), {
      dir: labsDir,
      name: 'demo',
    });
    t.strictSame(await locateLab({ labsDir: elsewhere, labsDirGiven: false, name: 'demo' }, env), {
      dir: labsDir,
      name: 'demo',
    });
    await t.rejects(
      locateLab({ labsDir: elsewhere, labsDirGiven: true }, env),
      /no lab is running here/,
      '--labs-dir: only that directory',
    );
    await registerLab({ name: 'other', labsDir: join(base, 'x'), pid: process.pid, startedAt: 'x' }, env);
    await t.rejects(
      locateLab({ labsDir: elsewhere, labsDirGiven: false }, env),
      /several labs run \(demo in .*, other in/,
    );
  },
);
