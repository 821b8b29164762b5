/**
 * The DER builders (der.ts), CSRs (csr.ts) and self-signed certificates
 * (self-signed.ts), checked by independent parsers: node:crypto's
 * X509Certificate and the openssl CLI (`req -verify`, `x509 -text`).
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { certificateFacts } from './certificate.js';
import { createCsr } from './csr.js';
import { ipOctets, spki, time } from './der.js';
import { createSelfSigned } from './self-signed.js';
import { keyAlgorithmOf, keyMatches, type KeyAlgorithm } from './keys.js';

const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'gvos-pki-unit-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

/** `openssl <args...> -in <pem>`: stdout and stderr together. */
async function openssl(pem: string, ...args: string[]): Promise<string> {
  const f = join(dir, `in-${Math.random().toString(36).slice(2)}.pem`);
  writeFileSync(f, pem);
  const { stdout, stderr } = await run('openssl', [...args, '-in', f]);
  return stdout + stderr;
}

const KEYS: { name: string; alg: KeyAlgorithm; key: KeyObject; sig: RegExp }[] = [
  {
    name: 'P-256',
    alg: 'prime256v1',
    key: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey,
    sig: /ecdsa-with-SHA256/,
  },
  {
    name: 'P-384',
    alg: 'secp384r1',
    key: generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey,
    sig: /ecdsa-with-SHA384/,
  },
  {
    name: 'RSA-2048',
    alg: 'rsa-2048',
    key: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
    sig: /sha256WithRSAEncryption/,
  },
];

t.test('ipOctets', async (t) => {
  const rows: [string, string][] = [
    ['127.0.0.1', '7f000001'],
    ['::1', '00000000000000000000000000000001'],
    ['::', '00000000000000000000000000000000'],
    ['1::', '00010000000000000000000000000000'],
    ['fe80::1:2', 'fe800000000000000000000000010002'],
    ['1:2:3:4:5:6:7:8', '00010002000300040005000600070008'],
    ['::ffff:10.0.0.1', '00000000000000000000ffff0a000001'],
  ];
  for (const [ip, hex] of rows) t.equal(ipOctets(ip).toString('hex'), hex, ip);
  t.throws(() => ipOctets('box.lab.test'), /not an IP address/);
});

t.test('time: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5)', async (t) => {
  t.equal(time(Date.UTC(2049, 11, 31, 23, 59, 59, 900)).toString('latin1'), '\x17\x0d491231235959Z');
  t.equal(time(Date.UTC(2050, 0, 1)).toString('latin1'), '\x18\x0f20500101000000Z');
});

t.test('spki is what node:crypto encodes', async (t) => {
  for (const k of KEYS) {
    t.ok(spki(k.key).equals(createPublicKey(k.key).export({ type: 'spki', format: 'der' })), k.name);
  }
});

t.test('createCsr', async (t) => {
  for (const k of KEYS) {
    t.test(k.name, async (t) => {
      const dns = await openssl(
        createCsr({ key: k.key, commonName: 'box1.lab.test', altNames: ['box1.lab.test'] }),
        'req',
        '-verify',
        '-noout',
        '-text',
      );
      t.match(dns, /self-signature verify OK/i, 'the signature verifies');
      t.match(dns, k.sig, 'signature algorithm of the key');
      t.match(dns, /Subject: CN ?= ?box1\.lab\.test/, 'CN');
      t.match(dns, /DNS:box1\.lab\.test/, 'SAN');
      t.match(dns, /Digital Signature, Key Encipherment/, 'keyUsage as acme-client sets it');
      const ip = await openssl(
        createCsr({ key: k.key, altNames: ['127.0.0.1', '::1'] }),
        'req',
        '-verify',
        '-noout',
        '-text',
      );
      t.match(ip, /self-signature verify OK/i);
      t.match(ip, /Subject:\s*\n/, 'no subject for an IP request (RFC 8738 §3)');
      t.match(ip, /IP Address:127\.0\.0\.1, IP Address:0:0:0:0:0:0:0:1/, 'IP SANs');
    });
  }
  t.test('the CN is added to the SANs when missing', async (t) => {
    const out = await openssl(
      createCsr({ key: KEYS[0]!.key, commonName: 'a.test', altNames: ['b.test'] }),
      'req',
      '-noout',
      '-text',
    );
    t.match(out, /DNS:a\.test, DNS:b\.test/);
  });
  t.test('an unsupported key is refused', async (t) => {
    const ed = generateKeyPairSync('ed25519').privateKey;
    t.throws(() => createCsr({ key: ed, altNames: ['x.test'] }), /ed25519 key/);
  });
});

t.test('createSelfSigned', async (t) => {
  for (const k of KEYS) {
    t.test(k.name, async (t) => {
      const now = Date.UTC(2026, 0, 2, 3, 4, 5);
      const privateKeyPem = k.key.export({ type: 'pkcs8', format: 'pem' }) as string;
      const pem = await createSelfSigned({
        privateKeyPem,
        keyAlgorithm: k.alg,
        commonName: 'gig,a=1',
        altNames: ['gig', '127.0.0.5', 'gig', '::1'],
        notBeforeMs: now,
        validDays: 3650,
      });
      const c = new X509Certificate(pem);
      t.equal(c.subject, 'CN=gig_a_1\nO=Gigamon (simulated)', 'subject (name syntax characters replaced)');
      t.equal(c.issuer, c.subject, 'self-issued');
      t.ok(c.verify(c.publicKey), 'self-signed');
      t.notOk(c.ca, 'not a CA');
      t.equal(
        c.subjectAltName,
        'DNS:gig, IP Address:127.0.0.5, IP Address:0:0:0:0:0:0:0:1',
        'SANs, duplicates dropped',
      );
      t.same(c.keyUsage, ['1.3.6.1.5.5.7.3.1'], 'extKeyUsage serverAuth');
      t.equal(Date.parse(c.validFrom), now - 60_000, 'valid from a minute before');
      t.equal(Date.parse(c.validTo), now + 3650 * 86_400_000, 'for validDays');
      t.match(c.serialNumber, /^[0-7][0-9A-F]{31}$/, 'positive 16-byte serial');
      t.ok(keyMatches(k.key, c.publicKey), 'carries the key');
      t.equal(keyAlgorithmOf(k.key), k.alg);
      const text = await openssl(pem, 'x509', '-noout', '-text');
      t.match(text, /Basic Constraints: critical\s+CA:FALSE/, 'basicConstraints critical');
      t.match(text, /Key Usage: critical\s+Digital Signature, Key Encipherment/, 'keyUsage critical');
      t.match(text, k.sig, 'signature algorithm of the key');
      const f = join(dir, `self-${k.alg}.pem`);
      writeFileSync(f, pem);
      const v = await run('openssl', ['verify', '-CAfile', f, f]);
      t.match(v.stdout, /OK/, 'openssl verifies it against itself');
    });
  }
  t.test('the key must be of keyAlgorithm', async (t) => {
    const pem = KEYS[0]!.key.export({ type: 'pkcs8', format: 'pem' }) as string;
    for (const alg of ['secp384r1', 'rsa-2048'] as const) {
      await t.rejects(
        createSelfSigned({
          privateKeyPem: pem,
          keyAlgorithm: alg,
          commonName: 'x',
          altNames: ['x'],
          notBeforeMs: 0,
          validDays: 1,
        }),
        new RegExp(`not a ${alg} key`),
        alg,
      );
    }
  });
});

t.test('certificateFacts: the same facts on every read of a PEM, each caller its own copy', async (t) => {
  const k = KEYS[0]!;
  const pem = await createSelfSigned({
    privateKeyPem: k.key.export({ type: 'pkcs8', format: 'pem' }) as string,
    keyAlgorithm: k.alg,
    commonName: 'facts',
    altNames: ['facts.lab.test'],
    notBeforeMs: Date.UTC(2026, 0, 1),
    validDays: 30,
  });
  const first = certificateFacts(pem);
  t.same(first.subjectAltNames, ['DNS:facts.lab.test']);
  t.equal(first.serial, new X509Certificate(pem).serialNumber.toUpperCase());
  first.subjectAltNames.push('DNS:changed.by.a.caller');
  first.serial = 'CHANGED';
  const again = certificateFacts(pem);
  t.same(again.subjectAltNames, ['DNS:facts.lab.test'], 'a caller changing its copy changes nothing kept');
  t.equal(again.serial, new X509Certificate(pem).serialNumber.toUpperCase());
  t.throws(() => certificateFacts('not a pem'), /no PEM certificate/, 'a bad PEM still throws each time');
});
