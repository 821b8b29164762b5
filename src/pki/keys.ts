/**
 * Key generation and inspection over node:crypto. Private keys are returned
 * as PKCS#8 PEM and must be handled as secrets by the caller (stored 0600,
 * never printed or logged).
 */
import { createPrivateKey, createPublicKey, generateKeyPair as genKeyPair, KeyObject } from 'node:crypto';
import { derElement, ecPrivateKeyInfo, pem } from './der.js';
import { pemReader } from './pem.js';

/** The key algorithms of the device (seed: rsa-2048/rsa-4096 in classic, prime256v1/secp384r1 otherwise). */
export type KeyAlgorithm = 'rsa-2048' | 'rsa-4096' | 'prime256v1' | 'secp384r1';
export const KEY_ALGORITHMS: readonly KeyAlgorithm[] = ['rsa-2048', 'rsa-4096', 'prime256v1', 'secp384r1'];

/** A key pair; `privateKeyPem` is PKCS#8. */
export interface KeyPairPem {
  privateKeyPem: string;
  publicKeyPem: string;
}

/**
 * Generate a key pair off the main thread (libuv pool). RSA-2048 costs about
 * 190 ms; P-256 about 0.4 ms (../shared/reference/peers.md).
 */
export async function generateKeyPair(alg: KeyAlgorithm): Promise<KeyPairPem> {
  const enc = {
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  } as const;
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, publicKeyPem: string, privateKeyPem: string) =>
      err ? reject(err) : resolve({ privateKeyPem, publicKeyPem });
    if (alg === 'rsa-2048' || alg === 'rsa-4096') {
      genKeyPair('rsa', { modulusLength: alg === 'rsa-2048' ? 2048 : 4096, ...enc }, done);
    } else {
      genKeyPair('ec', { namedCurve: alg, ...enc }, done);
    }
  });
}

/** A generated private key: the KeyObject to sign with in this process, and its PKCS#8 PEM to store. */
export interface GeneratedKey {
  key: KeyObject;
  privateKeyPem: string;
}

/**
 * Generate a private key off the main thread and keep it as a KeyObject as
 * well as PEM: OpenSSL 3 decodes a PEM key in about 0.3 ms, so code that
 * signs with the key (CSR, JWS) or compares it should use `key` rather than
 * parse `privateKeyPem` again.
 */
export async function generatePrivateKey(alg: KeyAlgorithm): Promise<GeneratedKey> {
  const key = await new Promise<KeyObject>((resolve, reject) => {
    const done = (err: Error | null, _pub: KeyObject, priv: KeyObject) => (err ? reject(err) : resolve(priv));
    if (alg === 'rsa-2048' || alg === 'rsa-4096')
      genKeyPair('rsa', { modulusLength: alg === 'rsa-2048' ? 2048 : 4096 }, done);
    else genKeyPair('ec', { namedCurve: alg }, done);
  });
  return { key, privateKeyPem: pkcs8Pem(key) };
}

/**
 * A private key's PKCS#8 PEM, the same text as `key.export({ type: 'pkcs8',
 * format: 'pem' })`: an EC key's is built from its JWK (der.ts), a tenth of
 * the cost of OpenSSL's encoder, paid once per certificate the agent issues.
 */
export function pkcs8Pem(key: KeyObject): string {
  const der = ecPrivateKeyInfo(key);
  return der ? pem('PRIVATE KEY', der) : (key.export({ type: 'pkcs8', format: 'pem' }) as string);
}

/** What kind of key a KeyObject is, in the words `show crypto certificate` uses. */
export function describeKey(key: KeyObject): { type: string; size: number } {
  const d = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return { type: 'RSA', size: d.modulusLength ?? 0 };
    case 'ec': {
      const curve = d.namedCurve ?? '';
      const size =
        curve === 'prime256v1' ? 256 : curve === 'secp384r1' ? 384 : curve === 'secp521r1' ? 521 : 0;
      return { type: `EC (${curve})`, size };
    }
    default:
      return { type: (key.asymmetricKeyType ?? 'unknown').toUpperCase(), size: 0 };
  }
}

/** Parse a private key PEM (PKCS#8, PKCS#1 or SEC1); throws Error with a reason on failure. */
export function parsePrivateKey(pem: string): KeyObject {
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch {
    throw new Error('not a valid PEM private key (PKCS#8, PKCS#1 or SEC1, unencrypted)');
  }
}

const privateKeyDer = pemReader({
  strictness: 'armoured',
  labels: ['PRIVATE KEY', 'EC PRIVATE KEY', 'RSA PRIVATE KEY'],
});

/**
 * Whether `pem` holds an unencrypted private key's form (PKCS#8, SEC1 or
 * PKCS#1; text around the block is ignored, as OpenSSL ignores it): its armour, then DER that starts with one SEQUENCE whose elements
 * follow one another exactly, starting with the version
 * INTEGER. Catches a truncated, garbled or wrongly labelled key without
 * OpenSSL: decoding a key with OpenSSL 3 costs 0.3-1.8 ms (parsePrivateKey),
 * and a box's state holds four, read at every boot. A key of that form whose
 * numbers are wrong fails where it is used (its TLS context, its SSH server).
 */
export function hasPrivateKeyForm(pem: string): boolean {
  const der = privateKeyDer(pem);
  if (!der) return false;
  const outer = derElement(der, 0, der.length);
  // Bytes after the SEQUENCE are ignored, as OpenSSL ignores them.
  if (!outer || outer.tag !== 0x30) return false;
  let p = outer.start;
  let first = true;
  while (p < outer.end) {
    const e = derElement(der, p, outer.end);
    if (!e || (first && e.tag !== 0x02)) return false;
    first = false;
    p = e.end;
  }
  return !first;
}

/** The key algorithm of a private key (PEM or KeyObject), if it is one of the device's. */
export function keyAlgorithmOf(pemOrKey: string | KeyObject): KeyAlgorithm | undefined {
  const k = typeof pemOrKey === 'string' ? parsePrivateKey(pemOrKey) : pemOrKey;
  const d = k.asymmetricKeyDetails ?? {};
  if (k.asymmetricKeyType === 'rsa')
    return d.modulusLength === 4096 ? 'rsa-4096' : d.modulusLength === 2048 ? 'rsa-2048' : undefined;
  if (k.asymmetricKeyType === 'ec' && (d.namedCurve === 'prime256v1' || d.namedCurve === 'secp384r1'))
    return d.namedCurve;
  return undefined;
}

/** True when `privateKey` (PEM or KeyObject) is the private half of `publicKey`. */
export function keyMatches(privateKey: string | KeyObject, publicKey: KeyObject): boolean {
  const pub = createPublicKey(typeof privateKey === 'string' ? parsePrivateKey(privateKey) : privateKey);
  // KeyObject.equals compares the keys (EVP_PKEY_eq) without encoding either one.
  return pub.equals(publicKey);
}
