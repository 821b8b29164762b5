/**
 * The JWS of ACME requests (jws.ts) as a CA reads it: a flattened JWS whose
 * protected header names alg, kid or jwk, nonce and url (RFC 8555 §6.2),
 * whose signature verifies with the account's public key in the raw r||s
 * form (RFC 7518 §3.4), and the key authorization's thumbprint equal to
 * acme-client's (the reference the box used before).
 */
import t from 'tap';
import { createPublicKey, generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import * as acme from 'acme-client';
import { JwsSigner, signerFor } from './jws.js';

interface Jws {
  protected: string;
  payload: string;
  signature: string;
}

const decode = (s: string) =>
  JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as Record<string, unknown>;

function parts(body: Buffer): Jws {
  const jws = JSON.parse(body.toString('utf8')) as Jws;
  t.same(Object.keys(jws).sort(), ['payload', 'protected', 'signature'], 'flattened JWS members only');
  return jws;
}

function verifies(jws: Jws, key: KeyObject, hash: string): boolean {
  return verify(
    hash,
    Buffer.from(`${jws.protected}.${jws.payload}`),
    { key: createPublicKey(key), dsaEncoding: 'ieee-p1363' },
    Buffer.from(jws.signature, 'base64url'),
  );
}

const keys = {
  ES256: { key: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey, hash: 'sha256', sig: 64 },
  ES384: { key: generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey, hash: 'sha384', sig: 96 },
  RS256: { key: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, hash: 'sha256', sig: 256 },
};

t.test('a kid request: header, payload and a signature that verifies, per algorithm', async (t) => {
  for (const [alg, k] of Object.entries(keys)) {
    const s = new JwsSigner(k.key);
    const jws = parts(s.body('https://ca.test/order', '{"identifiers":[]}', 'n-1', 'https://ca.test/acct/7'));
    t.same(
      decode(jws.protected),
      { alg, kid: 'https://ca.test/acct/7', nonce: 'n-1', url: 'https://ca.test/order' },
      `${alg}: alg, kid, nonce, url and nothing else (RFC 8555 §6.2)`,
    );
    t.same(decode(jws.payload), { identifiers: [] }, `${alg}: the payload`);
    t.ok(verifies(jws, k.key, k.hash), `${alg}: the signature verifies with the public key`);
    t.equal(Buffer.from(jws.signature, 'base64url').length, k.sig, `${alg}: raw signature, not DER`);
  }
});

t.test('POST-as-GET has an empty payload (RFC 8555 §6.3); newAccount names the key, not a kid', async (t) => {
  const s = signerFor(keys.ES256.key);
  t.equal(signerFor(keys.ES256.key), s, 'one signer per KeyObject');
  const get = parts(s.body('https://ca.test/authz/1', null, 'n-2', 'https://ca.test/acct/7'));
  t.equal(get.payload, '', 'empty payload');
  t.ok(verifies(get, keys.ES256.key, 'sha256'), 'signed over "<protected>."');
  const reg = parts(s.body('https://ca.test/acct', '{"termsOfServiceAgreed":true}', 'n-3', null));
  const header = decode(reg.protected);
  t.notOk('kid' in header, 'no kid');
  const jwk = createPublicKey(keys.ES256.key).export({ format: 'jwk' });
  t.same(header['jwk'], { crv: 'P-256', kty: 'EC', x: jwk.x, y: jwk.y }, 'the public JWK');
  t.ok(verifies(reg, keys.ES256.key, 'sha256'));
});

t.test('a URL or nonce from the server is escaped in the header, never spliced', async (t) => {
  const s = signerFor(keys.ES256.key);
  const odd = 'https://ca.test/x"y\\z';
  const jws = parts(s.body(odd, null, 'n"4', 'https://ca.test/acct/"'));
  t.same(decode(jws.protected), { alg: 'ES256', kid: 'https://ca.test/acct/"', nonce: 'n"4', url: odd });
});

t.test("the key authorization is acme-client's (RFC 8555 §8.1, RFC 7638 thumbprint)", async (t) => {
  for (const [alg, k] of Object.entries(keys)) {
    const client = new acme.Client({
      directoryUrl: 'https://ca.test/dir',
      accountKey: k.key.export({ format: 'pem', type: 'pkcs8' }) as string,
    });
    for (const type of ['http-01', 'tls-alpn-01'] as const) {
      const theirs = await client.getChallengeKeyAuthorization({
        type,
        token: 'tok-1',
        url: 'https://ca.test/chall/1',
        status: 'pending',
      } as Parameters<acme.Client['getChallengeKeyAuthorization']>[0]);
      t.equal(signerFor(k.key).keyAuthorization('tok-1'), theirs, `${alg} ${type}`);
    }
  }
});
