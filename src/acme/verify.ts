/**
 * What the agent checks on a certificate the CA returned, before it goes
 * anywhere near the web server. Pure; throws Error with a one-line reason
 * (the request's "Failed: <reason>").
 *
 * Checked, in order:
 * 1. the PEM parses; it holds a leaf and the chain the CA sent (leaf first);
 * 2. the leaf is not a CA, carries the new key (so the box can serve it),
 *    names every requested identifier (checkHost for a DNS name, checkIP
 *    for an address) and nothing else (as many SANs as identifiers: the
 *    seed's single domain, or the domain and the box's address a lab
 *    orders) and, when it has an extended key usage, allows serverAuth;
 * 3. every certificate after the leaf is a CA, and each one signed the one
 *    before it (the chain is internally consistent);
 * 4. the chain leads to a trust anchor: a certificate of the box's CA list
 *    (seed prerequisite: the CA's root and intermediate are in the CA list)
 *    or a root the agent fetched from the CA itself over the same verified
 *    TLS channel (settings.caRootUrls, e.g. Pebble's /roots/0);
 * 5. validity: the leaf is not expired now, and signatures and validity are
 *    checked at max(now, leaf notBefore), so a CA clock slightly ahead of
 *    the box does not fail a good certificate.
 * Not checked: revocation (the CA just issued it) and CT.
 */
import { verify, X509Certificate, type KeyObject } from 'node:crypto';
import { identifiersText, type AcmeIdentifier } from '../device/acme-identifiers.js';
import {
  certificateFacts,
  parseBlocks,
  parseChain,
  rememberFacts,
  signedBy,
  splitPemChain,
  verifyChain,
  walkChain,
  type CertificateFacts,
} from '../pki/certificate.js';
import { readCertificateDer, type CertificateDer } from '../pki/certificate-der.js';
import { ipOctets, pem, spki, subjectNameOf } from '../pki/der.js';
import { describeKey, keyMatches } from '../pki/keys.js';
import { pemReader } from '../pki/pem.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

/** The verified result: the PEM to store (leaf then chain, normalised) and the leaf's facts. */
export interface VerifiedCertificate {
  certPem: string;
  facts: CertificateFacts;
}

/** See the file comment for the exact checks. */
export function verifyIssuedCertificate(o: {
  chainPem: string;
  /** The new private key (PEM, or the KeyObject to spare a parse). */
  keyPem: string | KeyObject;
  /** What the order asked for (orderIdentifiers): the domain, and the box's address when ordered too. */
  identifiers: readonly AcmeIdentifier[];
  anchors: X509Certificate[];
  nowMs: number;
}): VerifiedCertificate {
  const fast = typeof o.keyPem === 'string' ? undefined : verifyPlain({ ...o, key: o.keyPem });
  if (fast) return fast;
  let chain: X509Certificate[];
  try {
    chain = parseChain(o.chainPem);
  } catch (e) {
    throw new Error(`the CA returned no usable certificate: ${(e as Error).message}`);
  }
  const leaf = chain[0]!;
  if (leaf.ca) throw new Error('the CA returned a CA certificate instead of a server certificate');
  if (!keyMatches(o.keyPem, leaf.publicKey))
    throw new Error("the issued certificate does not carry the box's new key");
  for (const id of o.identifiers) {
    const named = id.type === 'ip' ? leaf.checkIP(id.value) : leaf.checkHost(id.value, { wildcards: false });
    if (!named) throw new Error(`the issued certificate does not name ${id.value}`);
  }
  // The PEM the box stores: its facts are kept under it, so the box's views do not parse it again.
  const certPem = chain.map((c) => c.toString()).join('');
  const facts = certificateFacts(certPem, leaf);
  if (facts.subjectAltNames.length > o.identifiers.length)
    throw new Error(
      `the issued certificate names more than ${identifiersText(o.identifiers)}: ${facts.subjectAltNames.join(', ')}`,
    );
  const eku = leaf.keyUsage;
  if (eku && eku.length > 0 && !eku.includes(SERVER_AUTH))
    throw new Error('the issued certificate is not for TLS servers (no serverAuth usage)');
  for (let i = 1; i < chain.length; i++) {
    const c = chain[i]!;
    if (!c.ca) throw new Error(`certificate ${i + 1} of the chain ("${cn(c.subject)}") is not a CA`);
    if (!signedBy(chain[i - 1]!, c))
      throw new Error(`certificate ${i + 1} of the chain did not sign certificate ${i}`);
  }
  if (facts.notAfter <= o.nowMs) throw new Error('the CA returned an already expired certificate');
  const anchors = o.anchors.filter((a) => a.ca);
  const why = verifyChain(chain, anchors, Math.max(o.nowMs, facts.notBefore));
  if (why) {
    const top = chain[chain.length - 1]!;
    throw new Error(
      `the issued certificate does not chain to the CA list (${why}); add the CA "${cn(top.issuer)}" to the CA list ("crypto certificate ca-list default-ca-list name <name>")`,
    );
  }
  return { certPem, facts };
}

/** Signature algorithms (their DER, parameters included) the plain path verifies, and their digest. */
const PLAIN_SIGNATURES = new Map<string, { digest: string; keyType: string }>([
  ['300a06082a8648ce3d040302', { digest: 'sha256', keyType: 'ec' }], // ecdsa-with-SHA256
  ['300a06082a8648ce3d040303', { digest: 'sha384', keyType: 'ec' }], // ecdsa-with-SHA384
  ['300d06092a864886f70d01010b0500', { digest: 'sha256', keyType: 'rsa' }], // sha256WithRSAEncryption
  ['300d06092a864886f70d01010c0500', { digest: 'sha384', keyType: 'rsa' }], // sha384WithRSAEncryption
]);

/** How many certificates the plain path accepted (the others went through X509Certificate), for tests. */
export const plainVerifications = { accepted: 0 };

/** What the plain path reads of an issuer, once per (shared, cached) issuer object. */
const ISSUER_DER = new WeakMap<X509Certificate, { subject: Buffer; der: CertificateDer | undefined }>();

/**
 * The checks of verifyIssuedCertificate without building an
 * X509Certificate for the leaf (its OpenSSL decode is most of the check's
 * cost; certificate-der.ts), for the plain case only: the leaf in the
 * plain form, our key's SubjectPublicKeyInfo byte for byte, every
 * identifier among its SANs exactly, serverAuth if it has an extKeyUsage,
 * issued by the next certificate of the chain (its subject, byte for byte,
 * as the leaf's issuer; its key identifier and keyCertSign not against
 * it) and signed by it with one of PLAIN_SIGNATURES, valid now, then the
 * rest of the chain as verifyChain walks it. It only accepts: when any
 * check fails or cannot be made here it returns undefined, and the caller
 * makes every check with OpenSSL (and gives the reason).
 */
function verifyPlain(o: {
  chainPem: string;
  key: KeyObject;
  identifiers: readonly AcmeIdentifier[];
  anchors: X509Certificate[];
  nowMs: number;
}): VerifiedCertificate | undefined {
  let blocks: string[];
  let issuers: X509Certificate[];
  try {
    blocks = splitPemChain(o.chainPem);
    if (blocks.length < 2) return undefined;
    issuers = parseBlocks(blocks.slice(1), 1);
  } catch {
    return undefined;
  }
  const der = pemDer(blocks[0]!);
  const leaf = der && readCertificateDer(der);
  // The stored text is OpenSSL's (X509Certificate.toString): only a leaf block already in that form.
  if (!der || !leaf || pem('CERTIFICATE', der) !== blocks[0]) return undefined;
  if (leaf.ca || leaf.keyCertSign) return undefined;
  const key = o.key.type === 'private' ? o.key : undefined;
  if (!key || !leaf.subjectPublicKeyInfo.equals(spki(key))) return undefined;
  for (const id of o.identifiers) {
    const named =
      id.type === 'ip'
        ? leaf.altNames.some((n) => n.type === 'IP' && ipv4Equal(n.value, id.value))
        : leaf.altNames.some((n) => n.type === 'DNS' && n.value.toLowerCase() === id.value.toLowerCase());
    if (!named) return undefined;
  }
  if (leaf.altNames.length > o.identifiers.length) return undefined;
  if (leaf.extKeyUsage && !leaf.extKeyUsage.includes(SERVER_AUTH)) return undefined;
  const issuer = issuers[0]!;
  const idr = issuerDer(issuer);
  if (!idr.subject.equals(leaf.issuer) || leaf.subject.equals(leaf.issuer)) return undefined;
  if (leaf.subjectText === issuer.subject) return undefined;
  if (idr.der?.keyCertSign === false) return undefined;
  if (leaf.authorityKeyId && idr.der?.subjectKeyId && !leaf.authorityKeyId.equals(idr.der.subjectKeyId))
    return undefined;
  // Without the issuer's extensions read here, OpenSSL decides (its keyUsage and key identifier).
  if (!idr.der) return undefined;
  const alg = PLAIN_SIGNATURES.get(leaf.signatureAlgorithm.toString('hex'));
  if (!alg || !leaf.signatureAlgorithm.equals(leaf.tbsSignatureAlgorithm)) return undefined;
  // OpenSSL's check_sig_alg_match: the algorithm is one of the issuer key's type.
  const issuerKey = issuer.publicKey;
  if (issuerKey.asymmetricKeyType !== alg.keyType) return undefined;
  if (!verify(alg.digest, leaf.tbs, issuerKey, leaf.signature)) return undefined;
  for (let i = 1; i < issuers.length; i++) {
    const c = issuers[i]!;
    if (!issuers[i - 1]!.ca || !c.ca || !signedBy(issuers[i - 1]!, c)) return undefined;
  }
  if (!issuer.ca) return undefined;
  if (leaf.notAfter <= o.nowMs) return undefined;
  // Checked at max(now, notBefore), as verifyChain is called above: never before notBefore.
  const at = Math.max(o.nowMs, leaf.notBefore);
  if (at > leaf.notAfter) return undefined;
  const anchors = o.anchors.filter((a) => a.ca);
  if (anchors.some((a) => a.raw.equals(der))) return undefined;
  const rest = anchors.some((a) => a.raw.equals(issuer.raw))
    ? undefined
    : walkChain(issuer, [...issuers, ...anchors], anchors, at, 1);
  if (rest !== undefined) return undefined;
  const described = describeKey(key);
  const facts: CertificateFacts = {
    subject: leaf.subjectText.replace(/\n/g, ', '),
    issuer: issuer.subject.replace(/\n/g, ', '),
    serial: leaf.serial,
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
    keyType: described.type,
    keySize: described.size,
    sha1Fingerprint: leaf.sha1Fingerprint,
    sha256Fingerprint: leaf.sha256Fingerprint,
    subjectAltNames: leaf.altNames.map((n) => `${n.type}:${n.value}`),
    selfSigned: false,
    isCa: false,
  };
  const certPem = blocks[0]! + issuers.map((c) => c.toString()).join('');
  rememberFacts(certPem, facts);
  plainVerifications.accepted++;
  return { certPem, facts };
}

/** The DER of a certificate block in OpenSSL's own form (else undefined: OpenSSL reads it). */
const pemDer = pemReader({ strictness: 'canonical', labels: ['CERTIFICATE'] });

function issuerDer(c: X509Certificate): { subject: Buffer; der: CertificateDer | undefined } {
  let r = ISSUER_DER.get(c);
  if (!r) ISSUER_DER.set(c, (r = { subject: subjectNameOf(c.raw), der: readIssuerDer(c.raw) }));
  return r;
}

/** An issuer's own fields when it is in the plain form (its subject text may not be: only its extensions matter here). */
function readIssuerDer(raw: Buffer): CertificateDer | undefined {
  try {
    return readCertificateDer(raw);
  } catch {
    return undefined;
  }
}

function ipv4Equal(a: string, b: string): boolean {
  try {
    return ipOctets(a).equals(ipOctets(b));
  } catch {
    return false;
  }
}

/** The CN of an X509 name ("CN=x\nO=y"), else the whole name on one line. */
function cn(name: string): string {
  const m = /(?:^|\n)CN=([^\n]+)/.exec(name);
  return m ? m[1]! : name.replace(/\n/g, ', ');
}

/** Parse PEM bundles into certificates, skipping anything that does not parse. */
export function parseAnchors(pems: string[]): X509Certificate[] {
  const out: X509Certificate[] = [];
  for (const pem of pems) {
    try {
      out.push(...parseChain(pem));
    } catch {
      // A CA-list entry that is not a certificate cannot anchor anything.
    }
  }
  return out;
}
