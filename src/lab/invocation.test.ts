/** invokedAs: the command as the user typed it, for the lab's hints. */
import t from 'tap';
import { mkdtempSync, symlinkSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { invokedAs } from './invocation.js';

t.test('node with the entry point: relative to the working directory when below it', async (t) => {
  t.equal(invokedAs(['/usr/bin/node', '/repo/dist/src/main.js'], {}, '/repo'), 'node dist/src/main.js');
  t.equal(
    invokedAs(['/usr/bin/node', '/repo/dist/src/main.js'], {}, '/elsewhere'),
    'node /repo/dist/src/main.js',
  );
  t.equal(
    invokedAs(['/usr/bin/node', '/my repo/bin/gvos-sim.js'], {}, '/x'),
    `node '/my repo/bin/gvos-sim.js'`,
  );
});

t.test('npx, and gvos-sim on the PATH', async (t) => {
  t.equal(
    invokedAs(['/usr/bin/node', '/repo/node_modules/.bin/gvos-sim'], { npm_command: 'exec' }, '/x'),
    'npx gvos-sim',
  );
  t.equal(
    invokedAs(['/usr/bin/node', '/repo/bin/gvos-sim.js'], { npm_command: 'exec' }, '/repo'),
    'node bin/gvos-sim.js',
    'node with the launcher under an npx-started parent (npm_command inherited) is not npx',
  );
  const dir = mkdtempSync(join(tmpdir(), 'gvos-inv-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const launcher = join(dir, 'gvos-sim.js');
  writeFileSync(launcher, '');
  symlinkSync(launcher, join(dir, 'gvos-sim'));
  t.equal(invokedAs(['/usr/bin/node', join(dir, 'gvos-sim')], { PATH: `/nothing:${dir}` }, '/'), 'gvos-sim');
  t.equal(
    invokedAs(['/usr/bin/node', join(dir, 'gvos-sim')], { PATH: '/nothing' }, '/x'),
    join(dir, 'gvos-sim'),
    'not on the PATH: the path as run',
  );
});
