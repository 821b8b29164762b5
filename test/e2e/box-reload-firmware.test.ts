/**
 * The real box process through its TCP CLI: reload with and without
 * `write memory` (unsaved changes are lost, as on the real box), and a
 * firmware upgrade (image fetch / install / boot next, reload, show version),
 * which also opens the ACME commands (firmware gate 5.13.01).
 */
import t from 'tap';
import { startBoxProcess, type BoxProcess } from '../harness/box-process.js';
import { TcpClient } from './cli-helpers.js';

async function waitForLogin(b: BoxProcess): Promise<TcpClient> {
  // After a reload the box closes its listeners and opens them again on the same ports.
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      return await TcpClient.login(b.ready.ports.cli, 'admin', 'Adm1n-test-pw');
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

async function reload(c: TcpClient, b: BoxProcess): Promise<TcpClient> {
  c.send('reload\n');
  await c.closed;
  return waitForLogin(b);
}

t.test('reload without write memory loses the change; with write memory keeps it', async (t) => {
  const b = await startBoxProcess({ args: ['--hostname', 'before'] });
  t.teardown(() => b.stop());
  let c = await waitForLogin(b);
  await c.cmd('enable');
  await c.cmd('configure terminal');
  await c.cmd('hostname unsaved');
  c = await reload(c, b);
  t.match(await c.cmd('show version'), /before/, 'the unsaved hostname is gone after reload');
  await c.cmd('enable');
  await c.cmd('configure terminal');
  await c.cmd('hostname saved');
  t.notMatch(await c.cmd('write memory'), /%/);
  c = await reload(c, b);
  const after = await c.cmd('show version');
  t.match(after, /saved > $/, 'the prompt carries the saved hostname');
  c.end();
});

t.test(
  'firmware upgrade: 5.13.00 has no ACME; fetch, install, boot next, reload -> 6.5.00 and ACME is there',
  async (t) => {
    const b = await startBoxProcess({ args: ['--firmware', '5.13.00'] });
    t.teardown(() => b.stop());
    let c = await waitForLogin(b);
    t.match(await c.cmd('show version'), /Product release: +5\.13\.00/);
    await c.cmd('enable');
    await c.cmd('configure terminal');
    t.match(
      await c.cmd('crypto certificate acme issue domain a.lab.test acme-server https://127.0.0.1:14000/dir'),
      /% ACME needs firmware 5\.13\.01 or later; this box runs 5\.13\.00/,
    );
    t.notMatch(await c.cmd('image fetch image-gvos-6.5.00.img'), /^%/m);
    t.notMatch(await c.cmd('image install image-gvos-6.5.00.img'), /^%/m);
    t.notMatch(await c.cmd('image boot next'), /^%/m);
    t.match(await c.cmd('show images'), /6\.5\.00/);
    c = await reload(c, b);
    t.match(await c.cmd('show version'), /Product release: +6\.5\.00/, 'the new version runs after reload');
    await c.cmd('enable');
    await c.cmd('configure terminal');
    t.match(
      await c.cmd('crypto certificate acme issue domain a.lab.test acme-server https://127.0.0.1:14000/dir'),
      /% No name server configured/,
      'past the firmware gate: the next prerequisite speaks',
    );
    c.end();
  },
);
