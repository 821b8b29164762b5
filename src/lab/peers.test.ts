// An external CA's root file: a bundle (Pebble in docker/ has a TLS root and
// an issuing root) gives the boxes every certificate in it, one CA-list entry
// each; a file without a certificate is refused naming the file.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { externalCa } from './peers.js';

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
