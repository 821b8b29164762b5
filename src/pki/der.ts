/**
 * The few DER encoders (X.690) the pki/ builders need: certificates
 * (self-signed.ts) and certificate requests (csr.ts) are a handful of fixed
 * structures, and building them directly and signing with node:crypto takes
 * a fraction of a millisecond, where @peculiar/x509 over WebCrypto took
 * 8-14 ms per certificate (the largest cost of a box's first boot after the
 * password hash; bench/scale.ts). Pure.
 */
import { createHash, type JsonWebKey, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';

/** Tag-length-value with a definite length. */
function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let len: Buffer;
  if (n < 0x80) len = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
    len = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), len, content]);
}

export const seq = (...parts: Buffer[]): Buffer => tlv(0x30, Buffer.concat(parts));
export const set = (...parts: Buffer[]): Buffer => tlv(0x31, Buffer.concat(parts));
/** [n] EXPLICIT (constructed, context-specific). */
export const explicit = (n: number, inner: Buffer): Buffer => tlv(0xa0 | n, inner);
export const NULL = Buffer.from([0x05, 0x00]);
export const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, 'utf8'));
/** [n] IMPLICIT OCTET STRING (primitive, context-specific): keyIdentifier of an authorityKeyIdentifier. */
export const implicitOctets = (n: number, b: Buffer): Buffer => tlv(0x80 | n, b);
/** OCTET STRING. */
export const octets = (b: Buffer): Buffer => tlv(0x04, b);
/** BIT STRING of whole octets (no unused bits): signatures, keys. */
export const bits = (b: Buffer): Buffer => tlv(0x03, Buffer.concat([Buffer.from([0]), b]));
/** BOOLEAN. */
export const bool = (v: boolean): Buffer => Buffer.from([0x01, 0x01, v ? 0xff : 0x00]);

/** A non-negative INTEGER from big-endian bytes, minimally encoded (X.690 §8.3.2). */
export function unsignedInteger(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const body = bytes.subarray(i);
  return tlv(0x02, body[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), body]) : body);
}

/** A small INTEGER (0..127). */
export const smallInteger = (n: number): Buffer => Buffer.from([0x02, 0x01, n]);

/** An OBJECT IDENTIFIER from its dotted form (X.690 §8.19). */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const out = [40 * arcs[0]! + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const bytes = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) bytes.unshift((v & 0x7f) | 0x80);
    out.push(...bytes);
  }
  return tlv(0x06, Buffer.from(out));
}

/** RFC 5280 §4.1.2.5 Time: UTCTime through 2049, GeneralizedTime from 2050; whole seconds, UTC. */
export function time(ms: number): Buffer {
  const iso = new Date(Math.floor(ms / 1000) * 1000).toISOString(); // 2026-01-02T03:04:05.000Z
  const digits = iso.slice(0, 19).replace(/[-:T]/g, '') + 'Z';
  const year = Number(iso.slice(0, 4));
  return year < 2050
    ? tlv(0x17, Buffer.from(digits.slice(2), 'ascii'))
    : tlv(0x18, Buffer.from(digits, 'ascii'));
}

/** The 4 or 16 octets of an IP address (RFC 5280 §4.2.1.6 iPAddress). Throws for anything else. */
export function ipOctets(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  if (isIP(ip) !== 6) throw new Error(`not an IP address: ${ip}`);
  let text = ip.replace(/%.*$/, '');
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes its two 16-bit groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const b = v4.slice(1).map(Number);
    text =
      text.slice(0, v4.index) +
      ((b[0]! << 8) | b[1]!).toString(16) +
      ':' +
      ((b[2]! << 8) | b[3]!).toString(16);
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const words = (s: string | undefined) => (s ? s.split(':').map((h) => parseInt(h, 16)) : []);
  const left = words(head);
  const right = words(rest);
  const groups =
    rest === undefined ? left : [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, 2 * i));
  return out;
}

/** GeneralNames of DNS names and IP addresses (dNSName [2], iPAddress [7]), duplicates dropped. */
export function generalNames(names: string[]): Buffer {
  return seq(
    ...[...new Set(names)].map((n) =>
      isIP(n) ? tlv(0x87, ipOctets(n)) : tlv(0x82, Buffer.from(n, 'ascii')),
    ),
  );
}

/** An Extension (RFC 5280 §4.1): id, criticality when true, and the DER of the value. */
export function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), bool(true), octets(value)) : seq(oid(id), octets(value));
}

/** PEM armour of DER. */
export function pem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

/** Well-known object identifiers used by the builders. */
export const OID = {
  commonName: '2.5.4.3',
  organizationName: '2.5.4.10',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  extensionRequest: '1.2.840.113549.1.9.14',
  sha256WithRSA: '1.2.840.113549.1.1.11',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  ecdsaWithSha512: '1.2.840.10045.4.3.4',
} as const;

/** keyUsage keyCertSign (bit 5) + cRLSign (bit 6): one octet 0000 0110, 1 unused bit. */
export const KEY_USAGE_CERT_SIGN = tlv(0x03, Buffer.from([0x01, 0x06]));

/**
 * The DER element at `off` (one tag octet, definite length): its tag, where
 * its content starts and where it ends; undefined when the bytes end first
 * or its content would pass `end`.
 */
export function derElement(
  der: Buffer,
  off: number,
  end = der.length,
): { tag: number; start: number; end: number } | undefined {
  if (off + 2 > end) return undefined;
  const tag = der[off]!;
  let len = der[off + 1]!;
  let start = off + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || start + n > end) return undefined;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[start + i]!;
    start += n;
  }
  return start + len <= end ? { tag, start, end: start + len } : undefined;
}

/**
 * The subject Name of a DER certificate, as its bytes (RFC 5280 §4.1: the
 * sixth field of the TBSCertificate, after the optional [0] version), so a
 * certificate it signs names its issuer byte for byte. Throws on DER that is
 * not a certificate.
 */
export function subjectNameOf(certDer: Buffer): Buffer {
  const at = (off: number): { tag: number; start: number; end: number } => {
    const e = derElement(certDer, off);
    if (!e) throw new Error('not a DER certificate');
    return e;
  };
  const tbs = at(at(0).start);
  let off = tbs.start;
  if (at(off).tag === 0xa0) off = at(off).end;
  for (let i = 0; i < 4; i++) off = at(off).end; // serial, signature, issuer, validity
  const subject = at(off);
  if (subject.tag !== 0x30) throw new Error('not a DER certificate');
  return certDer.subarray(off, subject.end);
}

/** keyUsage digitalSignature (bit 0) + keyEncipherment (bit 2): one octet 1010 0000, 5 unused bits. */
export const KEY_USAGE_SIGN_ENCIPHER = tlv(0x03, Buffer.from([0x05, 0xa0]));

/** id-ecPublicKey (RFC 5480 §2.1.1). */
const EC_PUBLIC_KEY = '1.2.840.10045.2.1';

const CURVE_OIDS: Record<string, string> = {
  'P-256': '1.2.840.10045.3.1.7',
  'P-384': '1.3.132.0.34',
  'P-521': '1.3.132.0.35',
};

/**
 * The JWK of a key, exported once per KeyObject: an EC certificate of the
 * ACME agent reads it twice (its private key's PKCS#8, then the CSR's
 * SubjectPublicKeyInfo). For a private key it holds the private part (`d`),
 * kept exactly as long as the KeyObject that holds the same secret.
 */
const JWKS = new WeakMap<KeyObject, JsonWebKey>();
function jwkOf(key: KeyObject): JsonWebKey {
  let jwk = JWKS.get(key);
  if (!jwk) JWKS.set(key, (jwk = key.export({ format: 'jwk' })));
  return jwk;
}

/**
 * The PKCS#8 PrivateKeyInfo (RFC 5958) of an EC private key on P-256, P-384
 * or P-521, built from its JWK, byte for byte what OpenSSL 3 writes for
 * `export({ type: 'pkcs8' })`: version 0, id-ecPublicKey with the named
 * curve, and an ECPrivateKey (RFC 5915) of version 1 with the private
 * scalar and the public point, without the optional parameters. OpenSSL's
 * PKCS#8 encoder costs about 60 us per key, the JWK export about 5 us.
 * Undefined for any other key (the caller asks OpenSSL).
 */
export function ecPrivateKeyInfo(key: KeyObject): Buffer | undefined {
  if (key.type !== 'private' || key.asymmetricKeyType !== 'ec') return undefined;
  const jwk = jwkOf(key);
  const curve = jwk.crv ? CURVE_OIDS[jwk.crv] : undefined;
  if (!curve || !jwk.d || !jwk.x || !jwk.y) return undefined;
  const b = (v: string) => Buffer.from(v, 'base64url');
  const ecPrivateKey = seq(
    smallInteger(1),
    octets(b(jwk.d)),
    tlv(0xa1, bits(Buffer.concat([Buffer.from([0x04]), b(jwk.x), b(jwk.y)]))),
  );
  return seq(smallInteger(0), seq(oid(EC_PUBLIC_KEY), oid(curve)), octets(ecPrivateKey));
}

/**
 * The SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) of an RSA or EC key, public or
 * private, built from its JWK: OpenSSL 3's SPKI encoder costs ~100 us per
 * call, the JWK export ~5 us. Throws for other key types.
 */
export function spki(key: KeyObject): Buffer {
  const { algorithm, keyBits } = publicKeyParts(key);
  return seq(algorithm, bits(keyBits));
}

/**
 * RFC 5280 §4.2.1.2 method (1): the SHA-1 of the subjectPublicKey bits,
 * for subjectKeyIdentifier and authorityKeyIdentifier.
 */
export function keyIdentifier(key: KeyObject): Buffer {
  return createHash('sha1').update(publicKeyParts(key).keyBits).digest();
}

function publicKeyParts(key: KeyObject): { algorithm: Buffer; keyBits: Buffer } {
  const jwk = jwkOf(key);
  const b = (v: string | undefined) => Buffer.from(v ?? '', 'base64url');
  if (jwk.kty === 'EC' && jwk.crv && CURVE_OIDS[jwk.crv]) {
    return {
      algorithm: seq(oid(EC_PUBLIC_KEY), oid(CURVE_OIDS[jwk.crv]!)),
      keyBits: Buffer.concat([Buffer.from([0x04]), b(jwk.x), b(jwk.y)]),
    };
  }
  if (jwk.kty === 'RSA') {
    return {
      algorithm: seq(oid('1.2.840.113549.1.1.1'), NULL),
      keyBits: seq(unsignedInteger(b(jwk.n)), unsignedInteger(b(jwk.e))),
    };
  }
  throw new Error(`no SubjectPublicKeyInfo for a ${key.asymmetricKeyType} key`);
}
