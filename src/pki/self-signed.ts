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
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { keyAlgorithmOf, type KeyAlgorithm } from './keys.js';
import { certificateName, serverExtensions, signCertificate } from './x509-builder.js';

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
  const name = certificateName(o.commonName, 'Gigamon (simulated)');
  const certificate = signCertificate({
    subject: name,
    issuer: name,
    subjectKey: key,
    signer: key,
    notBeforeMs: o.notBeforeMs,
    validDays: o.validDays,
    extensions: serverExtensions(o.altNames),
  });
  return certificate + '\n';
}
