/**
 * readCertificateDer reads what X509Certificate (OpenSSL) reads, field for
 * field, on certificates of every key and name the project makes, and
 * gives undefined for what is not of the plain form (OpenSSL's to read).
 */
import t from 'tap';
import { generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { readCertificateDer } from './certificate-der.js';
import { bits, extension, OID, oid, seq, set, subjectNameOf, utf8 } from './der.js';
import { createIssuedCertificate, createRootCa } from './issued.js';
import { serverExtensions, signCertificate } from './x509-builder.js';

const keys: Record<string, KeyObject> = {
  'P-256': generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
  'P-384': generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey,
  'RSA-2048': generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
};
const now = Date.now();
const der = (pemText: string) => new X509Certificate(pemText).raw;

t.test('the fields X509Certificate reads, on every key and many serials and names', async (t) => {
  for (const [caName, caKey] of Object.entries(keys)) {
    const ca = {
      certPem: createRootCa({
        key: caKey,
        commonName: `Root ${caName}`,
        organization: 'Lab CA',
        notBeforeMs: now,
        validDays: 90,
      }),
      key: caKey,
    };
    for (const [leafName, leafKey] of Object.entries(keys)) {
      let same = 0;
      const n = 40;
      for (let i = 0; i < n; i++) {
        const pemText = createIssuedCertificate({
          ca,
          key: leafKey,
          commonName: `box${i}.lab.test`,
          organization: i % 2 ? 'gvos-sim lab' : 'O-1',
          altNames: [`box${i}.lab.test`, `127.0.${i}.9`, `alias${i}.Lab.Test`],
          notBeforeMs: now - i * 86_400_000,
          validDays: 1 + i * 30,
        });
        const x = new X509Certificate(pemText);
        const d = readCertificateDer(x.raw);
        const want = {
          subjectText: x.subject,
          serial: x.serialNumber.toUpperCase(),
          notBefore: Date.parse(x.validFrom),
          notAfter: Date.parse(x.validTo),
          sha1: x.fingerprint,
          sha256: x.fingerprint256,
          ca: x.ca,
          eku: x.keyUsage,
          sans: x.subjectAltName,
          issuer: subjectNameOf(der(ca.certPem)).toString('hex'),
          spki: x.publicKey.export({ type: 'spki', format: 'der' }).toString('hex'),
        };
        const got = d && {
          subjectText: d.subjectText,
          serial: d.serial,
          notBefore: d.notBefore,
          notAfter: d.notAfter,
          sha1: d.sha1Fingerprint,
          sha256: d.sha256Fingerprint,
          ca: d.ca,
          eku: d.extKeyUsage,
          sans: d.altNames.map((a) => `${a.type === 'IP' ? 'IP Address' : 'DNS'}:${a.value}`).join(', '),
          issuer: d.issuer.toString('hex'),
          spki: d.subjectPublicKeyInfo.toString('hex'),
        };
        if (JSON.stringify(got) === JSON.stringify(want)) same++;
        else if (same === i) t.same(got, want, `${caName} CA, ${leafName} leaf, #${i}`);
      }
      t.equal(same, n, `${caName} CA, ${leafName} leaf: ${n} certificates read as OpenSSL reads them`);
    }
  }
  const root = readCertificateDer(
    der(
      createRootCa({
        key: keys['P-256']!,
        commonName: 'A root',
        organization: 'x',
        notBeforeMs: now,
        validDays: 9,
      }),
    ),
  )!;
  t.equal(root.ca, true, 'a root: cA');
  t.equal(root.keyCertSign, true, 'a root: keyCertSign');
});

t.test('what is not of the plain form is left to OpenSSL', async (t) => {
  const key = keys['P-256']!;
  const name = (...rdns: Buffer[]) => seq(...rdns);
  const cert = (o: { subject?: Buffer; extensions?: Buffer[] }) =>
    der(
      signCertificate({
        subject: o.subject ?? name(set(seq(oid(OID.commonName), utf8('box1')))),
        issuer: name(set(seq(oid(OID.commonName), utf8('ca')))),
        subjectKey: key,
        signer: key,
        notBeforeMs: now,
        validDays: 9,
        extensions: o.extensions ?? serverExtensions(['box1.lab.test']),
      }),
    );
  t.ok(readCertificateDer(cert({})), 'the plain form itself');
  const cases: [string, Buffer][] = [
    [
      'a value that needs escaping',
      cert({ subject: name(set(seq(oid(OID.organizationName), utf8('Acme, Inc')))) }),
    ],
    ['a value with a leading space', cert({ subject: name(set(seq(oid(OID.commonName), utf8(' box')))) })],
    ['a value beyond ASCII', cert({ subject: name(set(seq(oid(OID.commonName), utf8('bôx')))) })],
    [
      'an attribute not read here (serialNumber)',
      cert({ subject: name(set(seq(oid('2.5.4.5'), utf8('42')))) }),
    ],
    [
      'a multi-valued RDN',
      cert({
        subject: name(set(seq(oid(OID.commonName), utf8('a')), seq(oid(OID.organizationName), utf8('b')))),
      }),
    ],
    ['an empty subject', cert({ subject: name() })],
    ['an IPv6 SAN', cert({ extensions: serverExtensions(['box1.lab.test', '::1']) })],
    ['a wildcard SAN', cert({ extensions: serverExtensions(['*.lab.test']) })],
    [
      'another extension',
      cert({ extensions: [...serverExtensions(['box1']), extension('1.3.6.1.5.5.7.1.1', false, seq())] }),
    ],
    [
      'an extension twice',
      cert({
        extensions: [
          ...serverExtensions(['box1']),
          extension(OID.keyUsage, false, bits(Buffer.from([0x80]))),
        ],
      }),
    ],
    ['bytes after the certificate', Buffer.concat([cert({}), Buffer.from([0])])],
    ['a truncated certificate', cert({}).subarray(0, 200)],
  ];
  for (const [what, d] of cases) {
    let x: X509Certificate | undefined;
    try {
      x = new X509Certificate(d);
    } catch {
      // Not even OpenSSL reads it.
    }
    t.equal(readCertificateDer(d), undefined, `${what}${x ? '' : ' (OpenSSL refuses it too)'}`);
  }
});
