/**
 * hasPrivateKeyForm, the check a state file's keys get at every boot: every
 * key the device makes passes in each encoding OpenSSL writes, and what a
 * torn write, a stray edit or a wrong paste leaves is refused, as
 * parsePrivateKey (OpenSSL) refuses it.
 */
import t from 'tap';
import { generateKeyPair, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { generatePrivateKey, hasPrivateKeyForm, parsePrivateKey, pkcs8Pem } from './keys.js';

const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const ec384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
const pem = (k: KeyObject, type: 'pkcs8' | 'sec1' | 'pkcs1') => k.export({ type, format: 'pem' }) as string;

const openssl = (p: string) => {
  try {
    parsePrivateKey(p);
    return true;
  } catch {
    return false;
  }
};

t.test('every key the device makes has the form, in PKCS#8, SEC1 and PKCS#1', (t) => {
  for (const [name, p] of [
    ['P-256 PKCS#8', pem(ec, 'pkcs8')],
    ['P-256 SEC1', pem(ec, 'sec1')],
    ['P-384 PKCS#8', pem(ec384, 'pkcs8')],
    ['RSA-2048 PKCS#8', pem(rsa, 'pkcs8')],
    ['RSA-2048 PKCS#1', pem(rsa, 'pkcs1')],
    ['CRLF line ends', pem(ec, 'pkcs8').replace(/\n/g, '\r\n')],
    ['text around the block (as pasted)', 'my key:\n' + pem(ec, 'pkcs8') + 'end\n'],
  ] as const) {
    t.ok(hasPrivateKeyForm(p), name);
  }
  t.end();
});

t.test('what is not a whole private key is refused, as OpenSSL refuses it', (t) => {
  const good = pem(rsa, 'pkcs8');
  const lines = good.split('\n');
  const cert =
    '-----BEGIN CERTIFICATE-----\n' + lines.slice(1, -2).join('\n') + '\n-----END CERTIFICATE-----\n';
  for (const [name, p] of [
    ['a torn write: the last lines of the body lost', [...lines.slice(0, 8), lines.at(-2)!, ''].join('\n')],
    ['a body of zeros', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'],
    ['a line of the body overwritten', [lines[0], 'A'.repeat(64), ...lines.slice(2)].join('\n')],
    ['the key behind a certificate label', cert],
    ['labels that differ', good.replace('END PRIVATE KEY', 'END EC PRIVATE KEY')],
    ['empty', ''],
  ] as const) {
    t.notOk(hasPrivateKeyForm(p), name);
    t.notOk(openssl(p), `${name}: OpenSSL refuses it too`);
  }
  t.end();
});

/** An EC key made on the libuv pool, as the device makes its keys. */
const generateEc = (namedCurve: string) =>
  new Promise<KeyObject>((resolve, reject) =>
    generateKeyPair('ec', { namedCurve }, (err, _pub, key) => (err ? reject(err) : resolve(key))),
  );

t.test('the PKCS#8 PEM of a key is the text OpenSSL writes, on every curve and for RSA', async (t) => {
  // Many keys: a private scalar or a coordinate with leading zero bytes must keep its full length.
  // Made as the device makes them, on the pool: Node 20 can deadlock exporting the JWK of a key
  // from generateKeyPairSync when a GC then frees the key's sync job (main thread in ~KeyGenJob,
  // waiting for the key's mutex that ExportJWK holds): 2 of 24 runs of this file hung with 900
  // sync keys, 0 of 8 x 3000 keys made with generateKeyPair (session 9).
  for (const curve of ['P-256', 'P-384', 'P-521'] as const) {
    let same = 0;
    const n = 300;
    for (let i = 0; i < n; i++) {
      const k = await generateEc(curve);
      if (pkcs8Pem(k) === pem(k, 'pkcs8')) same++;
    }
    t.equal(same, n, `${curve}: ${n} keys`);
  }
  t.equal(pkcs8Pem(rsa), pem(rsa, 'pkcs8'), 'RSA (OpenSSL writes it)');
});

t.test('generatePrivateKey: the stored PEM is the key it signs with', async (t) => {
  for (const alg of ['prime256v1', 'secp384r1'] as const) {
    const { key, privateKeyPem } = await generatePrivateKey(alg);
    t.equal(privateKeyPem, pem(key, 'pkcs8'), `${alg}: OpenSSL's text`);
    t.ok(parsePrivateKey(privateKeyPem).equals(key), `${alg}: parses back to the same key`);
    t.ok(hasPrivateKeyForm(privateKeyPem), `${alg}: passes the boot check`);
  }
});
