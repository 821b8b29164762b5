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
import { X509Certificate, type KeyObject } from 'node:crypto';
import { identifiersText, type AcmeIdentifier } from '../device/acme-identifiers.js';
import {
  certificateFacts,
  parseChain,
  signedBy,
  verifyChain,
  type CertificateFacts,
} from '../pki/certificate.js';
import { keyMatches } from '../pki/keys.js';

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
