/**
 * The box's default certificate: self-signed, CN = hostname, SANs = hostname
 * and address (foundation issue). Built directly in DER (der.ts) and signed
 * with node:crypto, because node:crypto can parse but not build
 * certificates; @peculiar/x509 did the same in 8-14 ms per certificate, most
 * of a first boot's cost at a thousand boxes (bench/scale.ts).
 *
 * Content (RFC 5280): v3, a random positive 16-byte serial, subject = issuer
 * = "CN=<hostname>, O=Gigamon (simulated)", valid from a minute before
 * `notBeforeMs` for `validDays`, basicConstraints cA=false (critical),
 * keyUsage digitalSignature+keyEncipherment (critical), extKeyUsage
 * serverAuth, subjectAltName of the DNS names and IPs.
 */
import { createPrivateKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import { signatureAlgorithm } from './csr.js';
import {
  bits,
  explicit,
  extension,
  generalNames,
  KEY_USAGE_SIGN_ENCIPHER,
  OID,
  oid,
  pem,
  seq,
  set,
  smallInteger,
  spki,
  time,
  unsignedInteger,
  utf8,
} from './der.js';
import { keyAlgorithmOf, type KeyAlgorithm } from './keys.js';

/** Options of a self-signed certificate. */
export interface SelfSignedOptions {
  /** PKCS#8 private key PEM of `keyAlgorithm`. */
  privateKeyPem: string;
  /** The same key already parsed (spares a decode); must be the key of privateKeyPem. */
  privateKey?: KeyObject;
  keyAlgorithm: KeyAlgorithm;
  commonName: string;
  /** DNS names and IP addresses; IPs become IP SANs. */
  altNames: string[];
  notBeforeMs: number;
  validDays: number;
}

/** Build a self-signed server certificate; returns its PEM (with a trailing blank line, as before). */
export async function createSelfSigned(o: SelfSignedOptions): Promise<string> {
  const key = o.privateKey ?? createPrivateKey(o.privateKeyPem);
  if (keyAlgorithmOf(key) !== o.keyAlgorithm) throw new Error(`the key is not a ${o.keyAlgorithm} key`);
  const alg = signatureAlgorithm(key);
  // A positive 16-byte serial (RFC 5280 §4.1.2.2: up to 20 octets, positive).
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  // The characters the name syntax would need escaped are replaced, so the subject reads back as given.
  const cn = o.commonName.replace(/[,=+<>#;"\\]/g, '_');
  const name = seq(
    set(seq(oid(OID.commonName), utf8(cn))),
    set(seq(oid(OID.organizationName), utf8('Gigamon (simulated)'))),
  );
  const extensions = seq(
    extension(OID.basicConstraints, true, seq()),
    extension(OID.keyUsage, true, KEY_USAGE_SIGN_ENCIPHER),
    extension(OID.extKeyUsage, false, seq(oid(OID.serverAuth))),
    extension(OID.subjectAltName, false, generalNames(o.altNames)),
  );
  const tbs = seq(
    explicit(0, smallInteger(2)),
    unsignedInteger(serial),
    alg.id,
    name,
    seq(time(o.notBeforeMs - 60_000), time(o.notBeforeMs + o.validDays * 86_400_000)),
    name,
    spki(key),
    explicit(3, extensions),
  );
  return pem('CERTIFICATE', seq(tbs, alg.id, bits(sign(alg.digest, tbs, key)))) + '\n';
}
