/**
 * Certificates signed by a CA this process holds the key of: a small CA of
 * its own (createRootCa) and server certificates signed by a given CA
 * (createIssuedCertificate). The lab's control plane serves HTTPS with one,
 * signed by the lab CA's issuing root, so the same CA root file verifies the
 * boxes and the dashboard. Built in DER (der.ts) and signed with node:crypto,
 * like self-signed.ts.
 *
 * Content (RFC 5280): v3, random positive 16-byte serial, valid from a
 * minute before `notBeforeMs`; a root has basicConstraints cA=true and
 * keyUsage keyCertSign+cRLSign; a server certificate has cA=false,
 * digitalSignature+keyEncipherment, extKeyUsage serverAuth and the SANs.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import {
  bool,
  extension,
  implicitOctets,
  keyIdentifier,
  KEY_USAGE_CERT_SIGN,
  OID,
  octets,
  seq,
  subjectNameOf,
} from './der.js';
import { certificateName, serverExtensions, signCertificate } from './x509-builder.js';

/** A CA that signs: its certificate and its private key (secret: never printed, logged or written by this module). */
export interface SigningCa {
  certPem: string;
  key: KeyObject;
}

/** A self-signed root CA for `key` (EC or RSA). Returns its PEM. */
export function createRootCa(o: {
  key: KeyObject;
  commonName: string;
  organization: string;
  notBeforeMs: number;
  validDays: number;
}): string {
  const name = certificateName(o.commonName, o.organization);
  return signCertificate({
    subject: name,
    issuer: name,
    subjectKey: o.key,
    signer: o.key,
    notBeforeMs: o.notBeforeMs,
    validDays: o.validDays,
    extensions: [
      extension(OID.basicConstraints, true, seq(bool(true))),
      extension(OID.keyUsage, true, KEY_USAGE_CERT_SIGN),
      extension(OID.subjectKeyIdentifier, false, octets(keyIdentifier(o.key))),
    ],
  });
}

/**
 * A server certificate for `key` with these DNS names and IP addresses,
 * signed by `ca` (its issuer field is the CA's subject, byte for byte).
 * Returns the leaf's PEM (no chain: the CA is a root the client trusts).
 */
export function createIssuedCertificate(o: {
  ca: SigningCa;
  key: KeyObject;
  commonName: string;
  organization: string;
  altNames: string[];
  notBeforeMs: number;
  validDays: number;
}): string {
  const caCert = new X509Certificate(o.ca.certPem);
  const issuer = subjectNameOf(caCert.raw);
  return signCertificate({
    subject: certificateName(o.commonName, o.organization),
    issuer,
    subjectKey: o.key,
    signer: o.ca.key,
    notBeforeMs: o.notBeforeMs,
    validDays: o.validDays,
    extensions: [
      ...serverExtensions(o.altNames),
      // keyIdentifier [0] of the CA's key: clients that build chains by key id find the root.
      extension(OID.authorityKeyIdentifier, false, seq(implicitOctets(0, keyIdentifier(caCert.publicKey)))),
    ],
  });
}
