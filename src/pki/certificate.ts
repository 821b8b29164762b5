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

/** Split a PEM bundle into certificate PEM blocks (each normalised: LF, one final newline), leaf first. Throws when there is none. */
export function splitPemChain(pem: string): string[] {
  const blocks = pem.match(PEM_BLOCK) ?? [];
  if (blocks.length === 0) throw new Error('no PEM certificate found (expected -----BEGIN CERTIFICATE-----)');
  return blocks.map((b) => b.replace(/\r\n/g, '\n').trim() + '\n');
}

/**
 * Certificates after the first of a bundle, parsed, by PEM block, least
 * recently used first. A CA sends the same intermediate with every
 * certificate it issues; parsing it again was half of the X.509 work per
 * certificate of a lab (bench/lab-regression's profile). An X509Certificate
 * is immutable, so one object serves every caller; bounded by count.
 */
const ISSUERS = new Map<string, X509Certificate>();
const MAX_ISSUERS = 64;

/**
 * Parse every certificate of a PEM bundle; throws Error naming the bad
 * block. The certificates after the first may be objects shared with
 * earlier calls (see ISSUERS): callers must not rely on their identity.
 */
export function parseChain(pem: string): X509Certificate[] {
  return parseBlocks(splitPemChain(pem));
}

/** parseChain of blocks already split; `first` is the index of blocks[0] in the bundle (errors count from it). */
export function parseBlocks(blocks: string[], first = 0): X509Certificate[] {
  return blocks.map((b, j) => {
    const i = first + j;
    const known = i > 0 ? ISSUERS.get(b) : undefined;
    if (known) {
      ISSUERS.delete(b); // re-inserted: Map order is the recency order
      ISSUERS.set(b, known);
      return known;
    }
    let c: X509Certificate;
    try {
      c = new X509Certificate(b);
    } catch {
      throw new Error(`certificate ${i + 1} of the PEM is not a valid X.509 certificate`);
    }
    if (i > 0) {
      if (ISSUERS.size >= MAX_ISSUERS) ISSUERS.delete(ISSUERS.keys().next().value!);
      ISSUERS.set(b, c);
    }
    return c;
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

/**
 * Keep `facts`, read by the caller from `pem`'s first certificate without
 * X509Certificate (the ACME agent's check, certificate-der.ts), so that the
 * box's views find them as if certificateFacts had read them.
 */
export function rememberFacts(pem: string, facts: CertificateFacts): void {
  if (FACTS.has(pem)) FACTS.delete(pem);
  else if (FACTS.size >= MAX_FACTS) FACTS.delete(FACTS.keys().next().value!);
  FACTS.set(pem, { ...facts, subjectAltNames: [...facts.subjectAltNames] });
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
/** Signatures already checked good: issuer objects by the certificate they signed (both immutable). */
const SIGNED_BY = new WeakMap<X509Certificate, WeakSet<X509Certificate>>();

/**
 * True when `issuer`'s key signed `cert`. A good result is remembered for
 * the pair of objects: the intermediate of a lab's CA is one shared object
 * (parseChain), so its signature by the root is checked once, not per
 * certificate issued.
 */
export function signedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  if (SIGNED_BY.get(cert)?.has(issuer)) return true;
  if (!cert.verify(issuer.publicKey)) return false;
  let set = SIGNED_BY.get(cert);
  if (!set) SIGNED_BY.set(cert, (set = new WeakSet()));
  set.add(issuer);
  return true;
}

export function verifyChain(
  chain: X509Certificate[],
  roots: X509Certificate[],
  atMs: number,
): string | undefined {
  if (chain.length === 0) return 'empty chain';
  return walkChain(chain[0]!, [...chain.slice(1), ...roots], roots, atMs, 0);
}

/**
 * verifyChain from `cur` at `depth` with the issuers of `pool`: what
 * verifyChain does after its first step when the caller has taken that
 * step itself (the leaf checked without X509Certificate, issued by
 * chain[1]): `cur` = chain[1], the same pool, depth 1.
 */
export function walkChain(
  cur: X509Certificate,
  pool: X509Certificate[],
  roots: X509Certificate[],
  atMs: number,
  depth: number,
): string | undefined {
  for (; depth < 10; depth++) {
    const from = Date.parse(cur.validFrom);
    const to = Date.parse(cur.validTo);
    if (atMs < from || atMs > to) return `certificate "${cur.subject.replace(/\n/g, ', ')}" is not valid now`;
    if (roots.some((r) => r.raw.equals(cur.raw))) return undefined;
    const issuer = pool.find((p) => cur.checkIssued(p) && signedBy(cur, p));
    if (!issuer) return `no trusted issuer for "${cur.issuer.replace(/\n/g, ', ')}"`;
    if (roots.some((r) => r.raw.equals(issuer.raw))) return undefined;
    cur = issuer;
  }
  return 'chain too long';
}
