/**
 * Certificate parsing and facts (serial, validity, SANs, fingerprints) over
 * node:crypto's X509Certificate. Pure functions; errors are plain Error with a
 * reason a person can act on (device/ turns them into DeviceError).
 */
import { X509Certificate } from 'node:crypto';
import { describeKey } from './keys.js';

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Facts shown by `show crypto certificate` and used by the ACME agent. */
export interface CertificateFacts {
  subject: string;
  issuer: string;
  /** Serial in upper-case hex as `openssl x509 -serial` prints it (no leading zeros dropped). */
  serial: string;
  notBefore: number;
  notAfter: number;
  keyType: string;
  keySize: number;
  sha1Fingerprint: string;
  sha256Fingerprint: string;
  subjectAltNames: string[];
  selfSigned: boolean;
  isCa: boolean;
}

/** Split a PEM bundle into certificate PEM blocks, leaf first. Throws when there is none. */
function splitPemChain(pem: string): string[] {
  const blocks = pem.match(PEM_BLOCK) ?? [];
  if (blocks.length === 0) throw new Error('no PEM certificate found (expected -----BEGIN CERTIFICATE-----)');
  return blocks.map((b) => b.replace(/\r\n/g, '\n').trim() + '\n');
}

/** Parse every certificate of a PEM bundle; throws Error naming the bad block. */
export function parseChain(pem: string): X509Certificate[] {
  return splitPemChain(pem).map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch {
      throw new Error(`certificate ${i + 1} of the PEM is not a valid X.509 certificate`);
    }
  });
}

/**
 * Facts already read, by PEM text, least recently used first. A box's views
 * (`show crypto certificate`, the lab's status, every fleet result) parsed
 * each certificate again at every call: 5% of a lab's CPU in
 * bench/lab-regression's profile. A PEM always yields the same facts, so
 * they are kept; bounded, so memory stays flat whatever the number of boxes.
 */
const FACTS = new Map<string, CertificateFacts>();
const MAX_FACTS = 2048;

/**
 * Facts about one certificate (the first of a bundle). `parsedLeaf`, when
 * given with a PEM, must be that PEM's first certificate already parsed by
 * the caller: the facts are read from it instead of parsing the PEM again
 * (the ACME agent passes the certificate it has just verified, which the
 * box's views then find here).
 */
export function certificateFacts(
  pemOrCert: string | X509Certificate,
  parsedLeaf?: X509Certificate,
): CertificateFacts {
  if (typeof pemOrCert !== 'string') return readFacts(pemOrCert);
  let f = FACTS.get(pemOrCert);
  if (f)
    FACTS.delete(pemOrCert); // re-inserted below: Map order is the recency order
  else {
    f = readFacts(parsedLeaf ?? parseChain(pemOrCert)[0]!);
    if (FACTS.size >= MAX_FACTS) FACTS.delete(FACTS.keys().next().value!);
  }
  FACTS.set(pemOrCert, f);
  // A copy: callers own what they get.
  return { ...f, subjectAltNames: [...f.subjectAltNames] };
}

function readFacts(c: X509Certificate): CertificateFacts {
  const key = describeKey(c.publicKey);
  return {
    subject: c.subject.replace(/\n/g, ', '),
    issuer: c.issuer.replace(/\n/g, ', '),
    serial: c.serialNumber.toUpperCase(),
    notBefore: Date.parse(c.validFrom),
    notAfter: Date.parse(c.validTo),
    keyType: key.type,
    keySize: key.size,
    sha1Fingerprint: c.fingerprint,
    sha256Fingerprint: c.fingerprint256,
    subjectAltNames: (c.subjectAltName ?? '')
      .split(', ')
      .filter(Boolean)
      .map((s) => s.replace(/^IP Address:/, 'IP:')),
    selfSigned: c.subject === c.issuer && c.verify(c.publicKey),
    isCa: c.ca,
  };
}

/**
 * Verify that `chain` (leaf first, then intermediates) leads to one of
 * `roots`. Returns undefined when it does, else the reason. Checks signatures
 * and validity at `atMs`; name checks are the caller's (verifyName).
 */
export function verifyChain(
  chain: X509Certificate[],
  roots: X509Certificate[],
  atMs: number,
): string | undefined {
  if (chain.length === 0) return 'empty chain';
  const pool = [...chain.slice(1), ...roots];
  let cur = chain[0]!;
  for (let depth = 0; depth < 10; depth++) {
    const from = Date.parse(cur.validFrom);
    const to = Date.parse(cur.validTo);
    if (atMs < from || atMs > to) return `certificate "${cur.subject.replace(/\n/g, ', ')}" is not valid now`;
    if (roots.some((r) => r.raw.equals(cur.raw))) return undefined;
    const issuer = pool.find((p) => cur.checkIssued(p) && cur.verify(p.publicKey));
    if (!issuer) return `no trusted issuer for "${cur.issuer.replace(/\n/g, ', ')}"`;
    if (roots.some((r) => r.raw.equals(issuer.raw))) return undefined;
    cur = issuer;
  }
  return 'chain too long';
}
