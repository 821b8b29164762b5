/**
 * verifyIssuedCertificate: each check of its contract, on chains made with
 * the openssl CLI (root -> intermediate -> leaf).
 */
import t from 'tap';
import { X509Certificate, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { orderIdentifiers } from '../device/acme-identifiers.js';
import { certificateFacts } from '../pki/certificate.js';
import { generateKeyPair, parsePrivateKey } from '../pki/keys.js';
import { subjectNameOf } from '../pki/der.js';
import { opensslRequest, opensslSelfSigned, opensslSign } from '../pki/openssl-cli.js';
import { certificateName, serverExtensions, signCertificate } from '../pki/x509-builder.js';
import { plainVerifications, verifyIssuedCertificate } from './verify.js';

const dir = mkdtempSync(join(tmpdir(), 'gvos-verify-unit-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const p = (f: string) => join(dir, f);

async function ca(name: string, cn: string, signer?: string, isCa = true): Promise<void> {
  const ext = `basicConstraints=critical,CA:${isCa ? 'TRUE' : 'FALSE'}\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\n`;
  writeFileSync(p(`${name}.ext`), ext);
  if (!signer) {
    await opensslSelfSigned({
      cn,
      keyOut: p(`${name}.key`),
      certOut: p(`${name}.pem`),
      days: 30,
      addext: ['basicConstraints=critical,CA:TRUE'],
    });
    return;
  }
  await opensslRequest({ cn, keyOut: p(`${name}.key`), csrOut: p(`${name}.csr`) });
  await signedBy(name, signer, 30);
}

/** `name`.csr signed by `signer` with the extensions of `name`.ext, into `name`.pem. */
async function signedBy(name: string, signer: string, days: number): Promise<void> {
  await opensslSign({
    csr: p(`${name}.csr`),
    caCert: p(`${signer}.pem`),
    caKey: p(`${signer}.key`),
    days,
    extfile: p(`${name}.ext`),
    out: p(`${name}.pem`),
  });
}

async function leaf(name: string, san: string, keyPem: string, signer: string, days = 30): Promise<void> {
  writeFileSync(p(`${name}.key`), keyPem);
  writeFileSync(
    p(`${name}.ext`),
    `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`,
  );
  await opensslRequest({ cn: 'leaf', key: p(`${name}.key`), csrOut: p(`${name}.csr`) });
  await signedBy(name, signer, days);
}

const pem = (n: string) => readFileSync(p(`${n}.pem`), 'utf8');
await ca('root', 'test root');
await ca('inter', 'test intermediate', 'root');
await ca('notca', 'not a CA', 'root', false);
const key = (await generateKeyPair('prime256v1')).privateKeyPem;
const otherKey = (await generateKeyPair('prime256v1')).privateKeyPem;
await leaf('dns', 'DNS:box1.lab.test', key, 'inter');
await leaf('ip', 'IP:127.0.0.9', key, 'inter');
await leaf('two', 'DNS:box1.lab.test,DNS:extra.lab.test', key, 'inter');
await leaf('both', 'DNS:box1.lab.test,IP:127.0.0.9', key, 'inter');
await leaf('bad-inter', 'DNS:box1.lab.test', key, 'notca');
// Another key under the intermediate's very name: its leaf names "test intermediate" as issuer.
await ca('twin', 'test intermediate', 'root');
await leaf('by-twin', 'DNS:box1.lab.test', key, 'twin');
// The same, without an authorityKeyIdentifier: only the signature tells the twin from the intermediate.
writeFileSync(
  p('by-twin-no-akid.pem'),
  signCertificate({
    subject: certificateName('leaf', 'test'),
    issuer: subjectNameOf(new X509Certificate(pem('twin')).raw),
    subjectKey: parsePrivateKey(key),
    signer: parsePrivateKey(readFileSync(p('twin.key'), 'utf8')),
    notBeforeMs: Date.now(),
    validDays: 30,
    extensions: serverExtensions(['box1.lab.test']),
  }),
);
const root = new X509Certificate(pem('root'));
const inter = new X509Certificate(pem('inter'));
const now = Date.now();

const rows: {
  name: string;
  chain: string;
  keyPem?: string;
  domain: string;
  /** The box's address, ordered beside the domain. */
  address?: string;
  anchors: X509Certificate[];
  nowMs?: number;
  error?: RegExp;
}[] = [
  {
    name: 'a good DNS chain to a CA-list root',
    chain: pem('dns') + pem('inter'),
    domain: 'box1.lab.test',
    anchors: [root],
  },
  {
    name: 'a good IP chain (checkIP)',
    chain: pem('ip') + pem('inter'),
    domain: '127.0.0.9',
    anchors: [root],
  },
  {
    name: 'an intermediate in the CA list anchors too',
    chain: pem('dns') + pem('inter'),
    domain: 'box1.lab.test',
    anchors: [inter],
  },
  {
    name: 'not our key',
    chain: pem('dns') + pem('inter'),
    keyPem: otherKey,
    domain: 'box1.lab.test',
    anchors: [root],
    error: /does not carry the box's new key/,
  },
  {
    name: 'another name',
    chain: pem('dns') + pem('inter'),
    domain: 'box2.lab.test',
    anchors: [root],
    error: /does not name box2\.lab\.test/,
  },
  {
    name: 'more than the one domain',
    chain: pem('two') + pem('inter'),
    domain: 'box1.lab.test',
    anchors: [root],
    error: /names more than box1\.lab\.test/,
  },
  {
    name: 'a DNS name and the box address, both ordered (checkHost and checkIP)',
    chain: pem('both') + pem('inter'),
    domain: 'box1.lab.test',
    address: '127.0.0.9',
    anchors: [root],
  },
  {
    name: 'the address ordered but missing from the certificate',
    chain: pem('dns') + pem('inter'),
    domain: 'box1.lab.test',
    address: '127.0.0.9',
    anchors: [root],
    error: /does not name 127\.0\.0\.9/,
  },
  {
    name: 'an address the order did not ask for',
    chain: pem('both') + pem('inter'),
    domain: 'box1.lab.test',
    anchors: [root],
    error: /names more than box1\.lab\.test: DNS:box1\.lab\.test, IP:127\.0\.0\.9/,
  },
  {
    name: 'nothing in the CA list',
    chain: pem('dns') + pem('inter'),
    domain: 'box1.lab.test',
    anchors: [],
    error: /does not chain to the CA list .*add the CA "test root" to the CA list/,
  },
  {
    name: 'an intermediate that is not a CA',
    chain: pem('bad-inter') + pem('notca'),
    domain: 'box1.lab.test',
    anchors: [root],
    error: /certificate 2 of the chain \("not a CA"\) is not a CA/,
  },
  {
    name: 'a chain in the wrong order',
    chain: pem('inter') + pem('dns'),
    domain: 'box1.lab.test',
    anchors: [root],
    error: /CA certificate instead of a server certificate/,
  },
  {
    name: 'already expired',
    chain: pem('dns') + pem('inter'),
    domain: 'box1.lab.test',
    anchors: [root],
    nowMs: now + 40 * 86_400_000,
    error: /already expired/,
  },
  {
    name: 'signed by another key of the same name as the intermediate sent',
    chain: pem('by-twin') + pem('inter'),
    domain: 'box1.lab.test',
    anchors: [root],
    error: /certificate 2 of the chain did not sign certificate 1/,
  },
  {
    name: 'the same, with no authorityKeyIdentifier to tell them apart',
    chain: pem('by-twin-no-akid') + pem('inter'),
    domain: 'box1.lab.test',
    anchors: [root],
    error: /certificate 2 of the chain did not sign certificate 1/,
  },
  {
    name: 'the domain in other case (DNS names compare case-insensitively)',
    chain: pem('dns') + pem('inter'),
    domain: 'BOX1.Lab.Test',
    anchors: [root],
  },
  {
    name: 'garbage',
    chain: 'not a pem',
    domain: 'box1.lab.test',
    anchors: [root],
    error: /no usable certificate/,
  },
];

for (const r of rows) {
  t.test(`verifyIssuedCertificate: ${r.name}`, async (t) => {
    // The key as PEM: every check made with X509Certificate; as a KeyObject (what the agent passes):
    // the plain path first (certificate-der.ts), which only accepts, else the same checks.
    const keyPem = r.keyPem ?? key;
    const run = (k: string | KeyObject) => () =>
      verifyIssuedCertificate({
        chainPem: r.chain,
        keyPem: k,
        identifiers: orderIdentifiers(r.domain, r.address),
        anchors: r.anchors,
        nowMs: r.nowMs ?? now,
      });
    const plainBefore = plainVerifications.accepted;
    if (r.error) {
      t.throws(run(keyPem), { message: r.error });
      t.throws(run(parsePrivateKey(keyPem)), { message: r.error }, 'the same with the key as a KeyObject');
      t.equal(plainVerifications.accepted, plainBefore, 'the plain path accepted nothing');
      return;
    }
    const v = run(keyPem)();
    t.equal(v.facts.serial, new X509Certificate(r.chain).serialNumber.toUpperCase());
    t.equal((v.certPem.match(/BEGIN CERTIFICATE/g) ?? []).length, 2, 'leaf and chain kept, leaf first');
    const plain = run(parsePrivateKey(keyPem))();
    t.equal(plainVerifications.accepted, plainBefore + 1, 'the KeyObject check took the plain path');
    t.same(plain, v, 'the plain path gives the same PEM and facts as X509Certificate');
    t.same(certificateFacts(plain.certPem), v.facts, 'and the views find those facts');
  });
}
