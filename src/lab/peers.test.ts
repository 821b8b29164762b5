// An external CA's root file: a bundle (Pebble in docker/ has a TLS root and
// an issuing root) gives the boxes every certificate in it, one CA-list entry
// each; a file without a certificate is refused naming the file. The lab's
// snmptrapd (real) runs below the boxes' priority and still logs every trap.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeV2cTrap } from '../snmp/v2c-trap.js';
import { testNotification } from '../snmp/varbinds.js';
import { externalCa, startSnmptrapd } from './peers.js';

const dir = mkdtempSync(join(tmpdir(), 'gvos-peers-'));
function selfSigned(name: string): string {
  const cert = join(dir, `${name}.pem`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'].concat([
      '-keyout',
      join(dir, `${name}.key`),
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
    ]),
    { stdio: 'ignore' },
  );
  return readFileSync(cert, 'utf8');
}

t.test('a root file with two certificates gives two trusted roots', async (t) => {
  const tlsRoot = selfSigned('tls-root');
  const issuingRoot = selfSigned('issuing-root');
  const bundle = join(dir, 'ca-root.pem');
  writeFileSync(bundle, tlsRoot + issuingRoot);
  const ca = await externalCa('https://ca.lab.test/dir', bundle, '127.0.0.53');
  t.equal(ca.trustPems.length, 2);
  t.equal(ca.trustPems[0]!.trim(), tlsRoot.trim());
  t.equal(ca.trustPems[1]!.trim(), issuingRoot.trim());
});

t.test('a root file with one certificate gives that one', async (t) => {
  const only = join(dir, 'one.pem');
  writeFileSync(only, selfSigned('only'));
  const ca = await externalCa('https://ca.lab.test/dir', only, undefined);
  t.equal(ca.trustPems.length, 1);
});

t.test('a root file without a certificate is refused, naming the file', async (t) => {
  const empty = join(dir, 'empty.pem');
  writeFileSync(empty, 'not a certificate\n');
  await t.rejects(externalCa('https://ca.lab.test/dir', empty, undefined), {
    message: `ca.root: ${empty} holds no PEM certificate`,
  });
});

t.test("the lab's snmptrapd runs at a lower priority than the lab and still logs each trap", async (t) => {
  const trapDir = mkdtempSync(join(dir, 'trapd-'));
  const logFile = join(trapDir, 'traps.log');
  const r = await startSnmptrapd({ dir: trapDir, community: 'public', logFile });
  t.teardown(() => r.stop());
  const pid = r.processes[0]!.pid;
  // What `ps -o ni` shows for it: 10 above the lab's own nice.
  t.equal(getPriority(pid), Math.min(19, getPriority() + 10), 'snmptrapd nice');
  const box = { boxId: 7, hostname: 'trapd-nice', model: 'GigaVUE-HC2' };
  const sock = createSocket('udp4');
  t.teardown(() => sock.close());
  // Bound on loopback: an unbound socket's first send binds it to every address (0.0.0.0).
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve, reject) =>
    sock.send(encodeV2cTrap('public', 1234, testNotification(box, 5000)), r.port, r.host, (e) =>
      e ? reject(e) : resolve(),
    ),
  );
  const deadline = Date.now() + 10_000;
  while (!readFileSync(logFile, 'utf8').includes('trapd-nice') && Date.now() < deadline)
    await new Promise((res) => setTimeout(res, 50));
  t.match(readFileSync(logFile, 'utf8'), /^GVOSSIM\|.*trapd-nice/m, 'the trap is in the log, decoded');
});
