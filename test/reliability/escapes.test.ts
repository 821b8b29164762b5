/**
 * C1 controls (U+0080-U+009F; U+009B is an 8-bit CSI) and Unicode bidi
 * controls from outside input never reach a terminal or a log raw (issue 15
 * #6), checked from outside against a real box process: a certificate whose
 * subject holds them, shown over the TCP CLI and the OpenSSH client (exec),
 * and a login with such a user name, in the box's log. They are shown as
 * `\uXXXX` text (the log stays JSON with `\uXXXX` escapes).
 */
import t from 'tap';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair } from '../../src/pki/keys.js';
import { createSelfSigned } from '../../src/pki/self-signed.js';
import { runSsh, TcpClient, writeKnownHosts } from '../e2e/cli-helpers.js';
import { cli, startBox } from './helpers.js';

const RAW = /[\u0080-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

const box = await startBox();
t.teardown(() => box.kill());
const P = box.ready.ports;

t.test('a certificate subject with C1 and bidi controls is shown escaped (TCP and SSH)', async (t) => {
  const k = await generateKeyPair('prime256v1');
  const pem = await createSelfSigned({
    privateKeyPem: k.privateKeyPem,
    keyAlgorithm: 'prime256v1',
    commonName: 'evil\u009b31mred\u202etxt.lab.test',
    altNames: ['evil.lab.test'],
    notBeforeMs: Date.now(),
    validDays: 30,
  });
  await cli(P.cli, [
    'enable',
    'configure terminal',
    `crypto certificate name evil public-cert pem "${pem.trim()}"`,
  ]);
  const out = await cli(P.cli, ['enable', 'show crypto certificate name evil']);
  t.match(out, /evil\\u009b31mred\\u202etxt\.lab\.test/, 'TCP: shown as \\u009b and \\u202e text');
  t.notMatch(out, RAW, 'TCP: no raw C1 or bidi character');

  const doc = JSON.parse(readFileSync(join(box.dataDir, 'state.json'), 'utf8')) as { sshHostKey: string };
  const dir = mkdtempSync(join(tmpdir(), 'gvos-escapes-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const target = { address: '127.0.0.1', sshPort: P.ssh, knownHosts: join(dir, 'known_hosts') };
  writeKnownHosts(target.knownHosts, '127.0.0.1', P.ssh, doc.sshHostKey);
  const ssh = await runSsh(target, { command: 'show crypto certificate name evil' });
  t.equal(ssh.code, 0);
  t.match(ssh.stdout, /evil\\u009b31mred\\u202etxt\.lab\.test/, 'SSH: shown escaped');
  t.notMatch(ssh.stdout, RAW, 'SSH: no raw C1 or bidi character');
});

t.test('a user name with C1 and bidi controls reaches the log escaped', async (t) => {
  const c = await TcpClient.connect(P.cli, '127.0.0.1', '127.0.0.95');
  await c.out.until('login: ');
  c.send('adm\u009b2J\u202ein\nwrong-pw\n');
  await c.out.until(/Login incorrect/);
  c.destroy();
  const line = box
    .stderr()
    .split('\n')
    .find((l) => l.includes('"login failed"') && l.includes('127.0.0.95'));
  t.ok(line, 'the failed login is logged');
  t.match(line!, /"user":"adm\\u009b2J\\u202ein"/, 'as JSON \\u escapes');
  t.notMatch(line!, RAW, 'no raw C1 or bidi character in the log');
  t.match(
    JSON.parse(line!),
    { user: 'adm\u009b2J\u202ein' },
    'the log line is still JSON with the same value',
  );
});
