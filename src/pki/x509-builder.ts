/**
 * The parts every certificate this project builds shares (self-signed.ts,
 * issued.ts): the subject/issuer Name, the server extensions and the signed
 * TBSCertificate. One definition, so a box's self-signed certificate and the
 * lab's issued ones cannot drift apart in version, serial, validity or
 * extensions. Pure apart from the random serial.
 *
 * Content (RFC 5280): v3, a random positive 16-byte serial (§4.1.2.2: up to
 * 20 octets, positive), valid from a minute before `notBeforeMs` for
 * `validDays`.
 */
import { randomBytes, sign, type KeyObject } from 'node:crypto';
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

/** The Name "CN=<commonName>, O=<organization>"; the characters the name syntax would need escaped become `_`. */
export function certificateName(commonName: string, organization: string): Buffer {
  // Replaced rather than escaped, so the subject reads back as given.
  const cn = commonName.replace(/[,=+<>#;"\\]/g, '_');
  return seq(
    set(seq(oid(OID.commonName), utf8(cn))),
    set(seq(oid(OID.organizationName), utf8(organization))),
  );
}

/**
 * The extensions of a server certificate: basicConstraints cA=false
 * (critical), keyUsage digitalSignature+keyEncipherment (critical),
 * extKeyUsage serverAuth, subjectAltName of these DNS names and IPs.
 */
export function serverExtensions(altNames: string[]): Buffer[] {
  return [
    extension(OID.basicConstraints, true, seq()),
    extension(OID.keyUsage, true, KEY_USAGE_SIGN_ENCIPHER),
    extension(OID.extKeyUsage, false, seq(oid(OID.serverAuth))),
    extension(OID.subjectAltName, false, generalNames(altNames)),
  ];
}

/** A v3 certificate of `subjectKey` named `subject`, signed by `signer` as `issuer`; returns its PEM. */
export function signCertificate(o: {
  subject: Buffer;
  issuer: Buffer;
  subjectKey: KeyObject;
  signer: KeyObject;
  notBeforeMs: number;
  validDays: number;
  extensions: Buffer[];
}): string {
  const alg = signatureAlgorithm(o.signer);
  const serial = randomBytes(16);
  serial[0] = serial[0]! & 0x7f;
  const tbs = seq(
    explicit(0, smallInteger(2)),
    unsignedInteger(serial),
    alg.id,
    o.issuer,
    seq(time(o.notBeforeMs - 60_000), time(o.notBeforeMs + o.validDays * 86_400_000)),
    o.subject,
    spki(o.subjectKey),
    explicit(3, seq(...o.extensions)),
  );
  return pem('CERTIFICATE', seq(tbs, alg.id, bits(sign(alg.digest, tbs, o.signer))));
}
