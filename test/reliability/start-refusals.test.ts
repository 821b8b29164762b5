/**
 * A box that cannot start says why, naming the path (issue 15 #6), from
 * outside through `bin/gvos-sim.js box`:
 *
 * - a data directory reused under another --box-id is refused at start,
 *   naming the state file and the box-id it holds (never booted as the
 *   other box, whose logins would all fail);
 * - a read-only or full data directory at first boot: exit 1 with one
 *   line naming the state file and the cause.
 *
 * Read-only and full are made as root with a small tmpfs (remounted ro, or
 * filled); where mount is not permitted those cases are skipped, saying so.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runBoxCommand } from '../harness/box-process.js';
import { directoryControls, PASSWORD, startBox, tryRun } from './helpers.js';

const PORTS = ['--ssh-port', '0', '--cli-port', '0', '--https-port', '0', '--http-port', '0'];

const { canMount: CAN_MOUNT } = directoryControls();

t.test('a data directory reused under another --box-id is refused, naming it', async (t) => {
  const box = await startBox({ args: ['--box-id', '3'] });
  const dir = box.dataDir;
  t.equal(await box.stop(), 0);
  const r = await runBoxCommand(['box', '--box-id', '4', '--data-dir', dir, ...PORTS, '--log-level', 'warn']);
  t.equal(r.code, 1, 'exit 1');
  const lines = r.stderr.trim().split('\n');
  t.equal(lines.length, 1, 'one line');
  t.match(
    lines[0],
    `gvos-sim: ${join(dir, 'state.json')} holds box-id 3, not 4: start it with --box-id 3`,
    'names the file, the stored box-id and what to do',
  );
  t.equal(r.stdout, '', 'no ready line');
  const again = await startBox({ args: ['--box-id', '3'], dataDir: dir });
  t.equal(again.ready.boxId, 3, 'under its own box-id it still starts');
  await again.stop();
  rmSync(dir, { recursive: true, force: true });
});

for (const fault of ['read-only', 'full'] as const) {
  t.test(
    `a ${fault} data directory at first boot: one line naming the state file`,
    { skip: CAN_MOUNT ? false : 'mount (for a small tmpfs) is not permitted here' },
    async (t) => {
      const dir = mkdtempSync(join(tmpdir(), 'gvos-start-fault-'));
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', dir]);
      t.teardown(() => {
        tryRun('umount', [dir]);
        rmSync(dir, { recursive: true, force: true });
      });
      if (fault === 'read-only') execFileSync('mount', ['-o', 'remount,ro', dir]);
      else {
        const fd = openSync(join(dir, 'filler'), 'w');
        try {
          for (;;) writeSync(fd, Buffer.alloc(4096));
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
        } finally {
          closeSync(fd);
        }
      }
      const r = await runBoxCommand(['box', '--data-dir', dir, ...PORTS, '--log-level', 'warn'], {
        GVOS_ADMIN_PASSWORD: PASSWORD,
      });
      t.equal(r.code, 1, 'exit 1');
      const lines = r.stderr.trim().split('\n');
      t.equal(lines.length, 1, `one line: ${lines[0]}`);
      t.match(
        lines[0],
        `${join(dir, 'state.json')}: the file system is ${fault === 'full' ? 'full' : 'read-only'}`,
        'names the state file and the cause',
      );
    },
  );
}
