/**
 * Certificates signed by a CA of our own (issued.ts), checked by independent
 * verifiers: node:crypto's X509Certificate and `openssl verify` with the
 * root as the only trust anchor, for an RSA root (Pebble's) and an EC root.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createIssuedCertificate, createRootCa } from './issued.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'gvos-pki-issued-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

for (const [name, ca] of [
  ['RSA root', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey],
  ['P-256 root', generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey],
] as const) {
  t.test(`${name}: the leaf verifies against the root alone, for its DNS name and its IP`, async (t) => {
    const now = Date.now();
    const root = createRootCa({
      key: ca,
      commonName: 'test root',
      organization: 'gvos-sim',
      notBeforeMs: now,
      validDays: 3,
    });
    const key = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    const leaf = createIssuedCertificate({
      ca: { certPem: root, key: ca },
      key,
      commonName: 'lab.lab.test',
      organization: 'gvos-sim lab',
      altNames: ['lab.lab.test', '127.0.0.1'],
      notBeforeMs: now,
      validDays: 30,
    });
    const r = new X509Certificate(root);
    const l = new X509Certificate(leaf);
    t.ok(r.ca, 'the root is a CA');
    t.notOk(l.ca, 'the leaf is not');
    t.ok(l.checkIssued(r), 'issuer name = root subject');
    t.ok(l.verify(r.publicKey), 'signed by the root key');
    t.equal(l.subjectAltName, 'DNS:lab.lab.test, IP Address:127.0.0.1');
    t.equal(l.checkHost('lab.lab.test'), 'lab.lab.test');
    t.equal(l.checkIP('127.0.0.1'), '127.0.0.1');
    t.ok(l.publicKey.equals(createPublicKey(key)), 'the leaf carries the given key');
    writeFileSync(join(dir, 'root.pem'), root);
    writeFileSync(join(dir, 'leaf.pem'), leaf);
    const { stdout } = await run('openssl', [
      'verify',
      '-x509_strict',
      '-purpose',
      'sslserver',
      '-CAfile',
      join(dir, 'root.pem'),
      join(dir, 'leaf.pem'),
    ]);
    t.match(stdout, /leaf\.pem: OK/);
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
    const stranger = createRootCa({
      key: other,
      commonName: 'test root',
      organization: 'gvos-sim',
      notBeforeMs: now,
      validDays: 3,
    });
    t.notOk(
      l.verify(new X509Certificate(stranger).publicKey),
      'another root of the same name does not verify it',
    );
  });
}
