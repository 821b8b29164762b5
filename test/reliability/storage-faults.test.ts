/**
 * Storage faults, end to end through a real box process (`bin/gvos-sim.js
 * box`) and a real Pebble:
 *
 * - the data directory becomes read-only while the box runs: every change
 *   is refused with "% Could not save the box state (...)" (CLI) or 507
 *   (REST), nothing changes, the box keeps serving its certificate, and it
 *   recovers without a restart when the directory is writable again;
 * - the disk fills up while the box runs, also in the middle of a renewal:
 *   the same clear error, no temporary file is left behind, the renewal ends
 *   "Failed: ..." instead of staying In Progress, the old certificate keeps
 *   serving, and a renewal after space is freed works;
 * - a corrupt state file at boot: the box refuses to start with one line
 *   naming the file and keeps a copy (and refuses again on the next start,
 *   admin password or not), or starts from the last good copy when there is
 *   one and says so in its log; it never silently starts empty.
 *
 * How "read-only" and "full" are made as root (root ignores directory
 * permissions): the data directory is a small tmpfs mounted by the test,
 * remounted read-only or filled with a filler file (after removing the
 * state's .bak: a write that fits in the space of the .bak's file needs no
 * new space, since the store reuses that file: lowdb-store.ts). Where mount is not
 * permitted, read-only falls back to `chattr +i` on the directory (it binds
 * root too), and the disk-full cases are skipped with that reason. Both are
 * tried at the start of the file, and the mechanism used is printed.
 */
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
  closeSync,
  renameSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FaultProxy } from '../harness/fault-proxy.js';
import type { BoxDocument } from '../../src/device/model.js';
import type { BoxProcess } from '../harness/box-process.js';
import {
  acmeInfo,
  acmeSettled,
  checkCorruptRefusal,
  cli,
  configureForAcme,
  directoryControls,
  DOMAIN,
  rest,
  served,
  startAcmePeers,
  savedBoxTemplate,
  startBox,
  tryRun,
  type AcmePeers,
} from './helpers.js';

const SAVE_ERROR =
  /% Could not save the box state \([^)]*\); nothing was changed\. Check the data directory and retry\./;

// ---------------------------------------------------------------- how to break a directory as root

/** A data directory that can be made read-only, full, and writable again. */
interface FaultyDir {
  dir: string;
  readOnly(on: boolean): void;
  /** Fill the filesystem (tmpfs only). */
  fill(): void;
  unfill(): void;
  dispose(): void;
}

const { canMount: CAN_MOUNT, canChattr: CAN_CHATTR } = directoryControls();
t.comment(
  `read-only by ${CAN_MOUNT ? 'a tmpfs remounted ro' : CAN_CHATTR ? 'chattr +i' : 'nothing (skipped)'}; ` +
    `full by ${CAN_MOUNT ? 'a filled 1 MiB tmpfs' : 'nothing (skipped)'}`,
);

function faultyDir(): FaultyDir {
  const dir = mkdtempSync(join(tmpdir(), 'gvos-faulty-'));
  const filler = join(dir, 'filler');
  if (CAN_MOUNT) execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', dir]);
  return {
    dir,
    readOnly: (on) => {
      if (CAN_MOUNT) execFileSync('mount', ['-o', `remount,${on ? 'ro' : 'rw'}`, dir]);
      else execFileSync('chattr', [on ? '+i' : '-i', dir]);
    },
    fill: () => {
      const fd = openSync(filler, 'w');
      const chunk = Buffer.alloc(4096);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      } finally {
        closeSync(fd);
      }
    },
    unfill: () => rmSync(filler, { force: true }),
    dispose: () => {
      if (CAN_MOUNT) tryRun('umount', [dir]);
      else tryRun('chattr', ['-i', dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Fill the disk so that the next state write needs space: the store writes a
 * new document into its previous .bak's file when it has one (no new space
 * needed while the document fits), so the .bak goes first.
 */
function fillWithoutBak(fd: FaultyDir): void {
  rmSync(join(fd.dir, 'state.json.bak'), { force: true });
  fd.fill();
}

const strays = (dir: string) => readdirSync(dir).filter((f) => f.includes('.tmp-'));
const stateOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as BoxDocument;

/** A box on a faulty data directory with an ACME certificate issued through a proxy the test can slow down. */
async function acmeBoxOn(t: Test, fd: FaultyDir, peers: AcmePeers) {
  const proxy = new FaultProxy('127.0.0.1', peers.pebble.ports.acme);
  const proxyPort = await proxy.listen();
  t.teardown(() => proxy.close());
  const box = await startBox({
    dataDir: fd.dir,
    args: ['--http-port', String(peers.httpPort), '--crypto-mode', 'secure-crypto'],
  });
  t.teardown(() => box.kill());
  await configureForAcme(box.ready.ports.cli, peers);
  const dir = `https://127.0.0.1:${proxyPort}/dir`;
  t.match(
    await cli(box.ready.ports.cli, [
      'enable',
      'configure terminal',
      `crypto certificate acme issue domain ${DOMAIN} acme-server ${dir}`,
    ]),
    /Issuance in progress/,
  );
  t.equal((await acmeSettled(box.ready.ports.cli)).request['Request-Status'], 'Success', 'issued');
  return { box, proxy };
}

const peers = await startAcmePeers();
t.teardown(() => peers.pebble.stop());

t.test(
  'a read-only data directory: clear errors, the certificate keeps serving, recovery without restart',
  {
    skip: CAN_MOUNT || CAN_CHATTR ? false : 'neither mount nor chattr is permitted here',
  },
  async (t) => {
    const fd = faultyDir();
    t.teardown(() => fd.dispose());
    const { box } = await acmeBoxOn(t, fd, peers);
    const p = box.ready.ports;
    const before = await served(p.https);
    const stateBefore = readFileSync(join(fd.dir, 'state.json'), 'utf8');

    fd.readOnly(true);
    const out = await cli(p.cli, [
      'enable',
      'configure terminal',
      'hostname ro-test',
      'write memory',
      `crypto certificate acme renew domain ${DOMAIN}`,
      'crypto certificate acme clear',
    ]);
    t.equal(out.match(new RegExp(SAVE_ERROR, 'g'))?.length, 3, 'write memory, renew and clear each say why');
    const r = await rest(p.https, 'POST', '/api/v1/system/write-memory');
    t.equal(r.status, 507, 'REST: 507');
    t.match(JSON.parse(r.text), { code: 'storage', detail: /^Could not save the box state/ });
    t.equal((await served(p.https)).serial, before.serial, 'the same certificate is served');
    t.equal((await rest(p.https, 'GET', '/health', { auth: null })).status, 200, 'HTTPS keeps answering');
    const i = await acmeInfo(p.cli);
    t.equal(i.request['Request-Status'], 'Success', 'the last request is unchanged (nothing began)');
    t.equal(readFileSync(join(fd.dir, 'state.json'), 'utf8'), stateBefore, 'state.json untouched');

    fd.readOnly(false);
    t.notMatch(await cli(p.cli, ['enable', 'write memory']), /%/, 'write memory works again');
    t.equal(stateOf(fd.dir).config.hostname, 'ro-test');
    await cli(p.cli, ['enable', 'configure terminal', `crypto certificate acme renew domain ${DOMAIN}`]);
    t.equal((await acmeSettled(p.cli)).request['Request-Status'], 'Success', 'a renewal works again');
    const after = await served(p.https);
    t.not(after.serial, before.serial, 'and its certificate is served');
    t.equal(stateOf(fd.dir).acme.issued?.serial, after.serial, 'and stored');
    t.same(strays(fd.dir), [], 'no temporary file left');
  },
);

t.test(
  'a full disk: clear errors, no temporary file, a renewal in flight fails cleanly, recovery',
  {
    skip: CAN_MOUNT ? false : 'mount (for a small tmpfs) is not permitted here',
  },
  async (t) => {
    const fd = faultyDir();
    t.teardown(() => fd.dispose());
    const { box, proxy } = await acmeBoxOn(t, fd, peers);
    const p = box.ready.ports;
    const before = await served(p.https);

    fillWithoutBak(fd);
    const out = await cli(p.cli, ['enable', 'configure terminal', 'hostname full-test', 'write memory']);
    t.match(out, SAVE_ERROR, 'write memory says why');
    t.match(out, /ENOSPC|no space/i, 'naming the cause');
    t.same(strays(fd.dir), [], 'the partial temporary file was removed');
    t.equal(stateOf(fd.dir).config.hostname, 'gigavue-1', 'state.json still parses and is unchanged');
    fd.unfill();

    // A renewal whose start is recorded, then the disk fills before it can install: the CA is
    // slowed down through the proxy so that the disk is surely full before the certificate comes.
    proxy.setSlow(300);
    t.match(
      await cli(p.cli, ['enable', 'configure terminal', `crypto certificate acme renew domain ${DOMAIN}`]),
      /Renewal in progress/,
    );
    fillWithoutBak(fd);
    proxy.setSlow(0);
    const failed = await acmeSettled(p.cli);
    t.match(
      failed.request['Request-Status'],
      /^Failed: .*Could not save the box state/,
      'the renewal ends Failed, not stuck In Progress',
    );
    t.equal((await served(p.https)).serial, before.serial, 'the old certificate keeps serving');
    t.same(strays(fd.dir), [], 'no temporary file left');

    fd.unfill();
    await cli(p.cli, ['enable', 'configure terminal', `crypto certificate acme renew domain ${DOMAIN}`]);
    t.equal(
      (await acmeSettled(p.cli)).request['Request-Status'],
      'Success',
      'after space is freed a renewal works, without a restart',
    );
    const after = await served(p.https);
    t.not(after.serial, before.serial);
    t.equal(stateOf(fd.dir).acme.issued?.serial, after.serial, 'and is stored');
  },
);

// ---------------------------------------------------------------- corrupt state at boot

const { savedBox, boot } = await savedBoxTemplate(t);

const corruptions: [string, (f: string) => void][] = [
  ['truncated JSON', (f) => writeFileSync(f, readFileSync(f, 'utf8').slice(0, 100))],
  ['an empty file', (f) => writeFileSync(f, '')],
  ['JSON that is not a box document', (f) => writeFileSync(f, '{"schema":1}')],
  ['binary garbage', (f) => writeFileSync(f, Buffer.from([0, 255, 1, 254, 7]))],
];

for (const [what, corrupt] of corruptions) {
  t.test(
    `corrupt state.json (${what}) and no good copy: refused, named, kept; never a fresh box`,
    async (t) => {
      const dir = savedBox();
      rmSync(join(dir, 'state.json.bak'), { force: true });
      const file = join(dir, 'state.json');
      corrupt(file);
      const bad = readFileSync(file);
      checkCorruptRefusal(t, await boot(dir), file, bad);
      const again = await boot(dir);
      t.equal(again.code, 1, 'the next start refuses too, although an admin password was given');
      t.same(readFileSync(file), bad, 'and nothing was written over it');
    },
  );
}

t.test(
  'corrupt state.json with a good .bak: starts from the last good copy, says so, keeps the bad one',
  async (t) => {
    const dir = savedBox();
    const file = join(dir, 'state.json');
    t.ok(existsSync(file + '.bak'), 'a stop leaves a .bak');
    writeFileSync(file, '{"schema":1, trunc');
    const b: BoxProcess = await startBox({ dataDir: dir, args: ['--log-level', 'warn'] });
    t.teardown(() => b.kill());
    t.match(
      await cli(b.ready.ports.cli, ['show version']),
      /\nsaved-box > $/,
      'the saved box, not a fresh one',
    );
    t.match(b.stderr(), /"msg":"state file is corrupt; started from the last good copy"/, 'the log says so');
    t.match(b.stderr(), `"file":"${file}"`, 'naming the file');
    t.equal(readFileSync(file + '.corrupt', 'utf8'), '{"schema":1, trunc', 'the bad file kept');
    t.equal(stateOf(dir).config.hostname, 'saved-box', 'state.json is good again');
    t.equal(
      JSON.parse(readFileSync(file + '.bak', 'utf8')).config.hostname,
      'saved-box',
      'and the .bak is still a good copy',
    );
  },
);

t.test('state.json missing but a .bak (a crash between the renames): starts from the .bak', async (t) => {
  const dir = savedBox();
  renameSync(join(dir, 'state.json'), join(dir, 'state.json.bak'));
  const b = await startBox({ dataDir: dir });
  t.teardown(() => b.kill());
  t.match(await cli(b.ready.ports.cli, ['show version']), /\nsaved-box > $/);
});

t.test('state.json missing and a corrupt .bak: refused, naming the .bak', async (t) => {
  const dir = savedBox();
  rmSync(join(dir, 'state.json'));
  writeFileSync(join(dir, 'state.json.bak'), 'garbage');
  const r = await boot(dir);
  t.equal(r.code, 1);
  t.match(r.stderr, `state file ${join(dir, 'state.json.bak')} is corrupt`);
});

t.test('a data directory that cannot be written at boot: one clear line, exit 1', async (t) => {
  const parent = mkdtempSync(join(tmpdir(), 'gvos-notdir-'));
  t.teardown(() => rmSync(parent, { recursive: true, force: true }));
  // A file where the data directory should be: fails for root too.
  const notDir = join(parent, 'data');
  writeFileSync(notDir, 'x');
  const r = await boot(join(notDir, 'box'));
  t.equal(r.code, 1);
  t.match(r.stderr, /gvos-sim: .*(ENOTDIR|EEXIST)/);
});
