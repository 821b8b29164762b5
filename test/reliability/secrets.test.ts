/**
 * Secrets, end to end: a real box process at log level debug goes through a
 * whole ACME life against a real Pebble (issue, renew, revoke, clear) with
 * SNMP communities, SNMPv3 passphrases and a second user configured. Every
 * secret it ever held (its private keys: web, ACME, account, SSH host key;
 * password hashes; the plain passwords, passphrases and community) is
 * collected from its state file along the way, and then looked for:
 *
 * - files: every file of the data directory is mode 0600, the directory 0700;
 * - the box's whole stderr log (debug level);
 * - show output: running-config, crypto certificate (each), ACME status,
 *   SNMP, web, version;
 * - every GET route of the REST API (each certificate by name too);
 * - the running config masks SNMP communities, passphrases and passwords.
 *
 * A key "appears" when any line of its PEM body does; a password when its
 * text does.
 */
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BoxDocument } from '../../src/device/model.js';
import { ROUTES } from '../../src/web/api/router.js';
import type { BoxProcess } from '../harness/box-process.js';
import {
  acmeSettled,
  cli,
  configureForAcme,
  DOMAIN,
  issueLine,
  PASSWORD,
  rest,
  startAcmePeers,
  startBox,
} from './helpers.js';

const PLAIN = {
  operatorPassword: 'Op3r-secret-789',
  authPass: 'AuthPass-s3cret',
  privPass: 'PrivPass-s3cret',
  community: 'Community-s3cret',
};

const peers = await startAcmePeers();
t.teardown(() => peers.pebble.stop());
const box: BoxProcess = await startBox({
  args: ['--http-port', String(peers.httpPort), '--crypto-mode', 'secure-crypto', '--log-level', 'debug'],
});
t.teardown(() => box.kill());
const P = box.ready.ports;

/** Every secret seen in the state file so far: PEM body lines and hashes. */
const secrets = new Set<string>([PASSWORD, ...Object.values(PLAIN)]);
function collect(): BoxDocument {
  const doc = JSON.parse(readFileSync(join(box.dataDir, 'state.json'), 'utf8')) as BoxDocument;
  const pems = [
    doc.sshHostKey,
    ...Object.values(doc.crypto.certificates).map((c) => c.keyPem ?? ''),
    ...doc.acme.accounts.map((a) => a.accountKeyPem),
  ];
  for (const pem of pems)
    for (const line of pem.split('\n'))
      if (line.length >= 16 && !line.startsWith('-----')) secrets.add(line.trim());
  for (const u of Object.values(doc.config.users)) secrets.add(u.passwordHash);
  return doc;
}

/** The secrets that appear in `text`. */
const leaks = (text: string) =>
  [...secrets].filter((s) => text.includes(s)).map((s) => s.slice(0, 24) + '...');

t.test('a whole ACME life with SNMP and users configured', async (t) => {
  await configureForAcme(P.cli, peers);
  await cli(P.cli, [
    'enable',
    'configure terminal',
    `username op1 password ${PLAIN.operatorPassword}`,
    'username op1 capability operator',
    'snmp-server enable',
    'snmp-server enable notify',
    `snmp-server user sec-u v3 auth sha256 ${PLAIN.authPass} priv aes-128 ${PLAIN.privPass}`,
    `snmp-server host 127.0.0.1 port 9 traps version 2c ${PLAIN.community}`,
    'snmp-server host 127.0.0.1 port 10 informs version 3 user sec-u',
    'write memory',
  ]);
  collect();
  const steps = [
    issueLine(peers),
    `crypto certificate acme renew domain ${DOMAIN}`,
    `crypto certificate acme revoke domain ${DOMAIN}`,
  ];
  for (const line of steps) {
    t.match(
      await cli(P.cli, ['enable', 'configure terminal', line]),
      /in progress/,
      line.split(' domain')[0]!,
    );
    t.equal((await acmeSettled(P.cli)).request['Request-Status'], 'Success');
    collect();
  }
  t.ok(collect().acme.accounts.length > 0, 'an ACME account key was made');
  t.ok(secrets.size >= 15, `${secrets.size} secret strings collected so far`);
});

t.test('files are 0600 in a 0700 directory', async (t) => {
  t.equal(statSync(box.dataDir).mode & 0o777, 0o700, box.dataDir);
  for (const f of readdirSync(box.dataDir)) t.equal(statSync(join(box.dataDir, f)).mode & 0o777, 0o600, f);
});

t.test('no secret in show output; the running config masks them', async (t) => {
  const doc = collect();
  const certNames = Object.keys(doc.crypto.certificates);
  const out = await cli(P.cli, [
    'enable',
    'show running-config',
    'show crypto certificate',
    ...certNames.map((n) => `show crypto certificate name ${n}`),
    'show crypto certificate ca-list',
    'show crypto acme client info',
    'show snmp',
    'show snmp host',
    'show snmp engineID',
    'show web',
    'show version',
  ]);
  t.same(leaks(out), [], 'no secret in any show output');
  t.notMatch(out, /PRIVATE KEY/);
  const rc = await cli(P.cli, ['enable', 'show running-config']);
  t.match(rc, /snmp-server host 127\.0\.0\.1 port 9 traps version 2c \*{8}/, 'community masked');
  t.match(rc, /snmp-server user sec-u v3 auth sha256 \*{8} priv aes-128 \*{8}/, 'passphrases masked');
  t.match(rc, /username op1 password \*{8}/, 'passwords masked');
  t.notMatch(rc, /scrypt\$/, 'no password hash');
});

t.test('no secret in any REST answer', async (t) => {
  const doc = collect();
  let n = 0;
  for (const r of ROUTES.filter((x) => x.method === 'get')) {
    const names = r.path.includes(':name') ? Object.keys(doc.crypto.certificates) : ['-'];
    for (const name of names) {
      const path = '/api/v1' + r.path.replace(':name', encodeURIComponent(name));
      const reply = await rest(P.https, 'GET', path);
      n++;
      t.ok(reply.status < 400, `GET ${path}: ${reply.status}`);
      t.same(leaks(reply.text), [], `GET ${path}: no secret`);
    }
  }
  t.ok(n >= 10, `${n} GET requests`);
});

t.test('clear, then no secret in the whole debug log', async (t) => {
  t.match(await cli(P.cli, ['enable', 'configure terminal', 'crypto certificate acme clear']), /cleared/);
  collect();
  const log = box.stderr();
  t.ok(log.split('\n').filter((l) => l.includes('"level":"debug"')).length > 0, 'the log is at debug level');
  t.match(log, /ACME request finished/, 'the log covers the ACME life');
  t.same(leaks(log), [], 'no key line, hash, password, passphrase or community in the log');
  t.notMatch(log, /PRIVATE KEY/);
});
