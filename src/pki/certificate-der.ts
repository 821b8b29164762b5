/**
 * A certificate read from its DER in JavaScript, without OpenSSL: the few
 * fields the ACME agent's check of a new certificate needs. OpenSSL 3
 * decodes a certificate's public key through its provider decoders when
 * X509Certificate is built, about 150 us per certificate (most of the
 * X.509 work per certificate of a lab: bench/lab-regression's profile),
 * while reading these fields here costs a few microseconds.
 *
 * Strict on purpose: anything outside the plain form (not v3, a
 * multi-valued or unusual name, a string type or character that needs
 * escaping, a GeneralName other than a DNS name or an IPv4 address, an
 * extension other than the six read here, bytes after an element) gives undefined, and
 * the caller uses X509Certificate instead. Pure.
 */
import { createHash } from 'node:crypto';
import { derElement, OID } from './der.js';

/** What the agent reads of a certificate; every Buffer is a view into the DER. */
export interface CertificateDer {
  /** The TBSCertificate, as signed. */
  tbs: Buffer;
  /** The outer signatureAlgorithm's bytes (must equal `tbsSignatureAlgorithm`). */
  signatureAlgorithm: Buffer;
  tbsSignatureAlgorithm: Buffer;
  /** The signature BIT STRING's octets (no unused bits). */
  signature: Buffer;
  /** Upper-case hex of the serial's octets, as X509Certificate.serialNumber. */
  serial: string;
  issuer: Buffer;
  subject: Buffer;
  /** The subject as X509Certificate.subject writes it ("CN=x\nO=y"). */
  subjectText: string;
  notBefore: number;
  notAfter: number;
  subjectPublicKeyInfo: Buffer;
  /** basicConstraints cA. */
  ca: boolean;
  /** keyUsage: whether keyCertSign (bit 5) is set, when the extension is present. */
  keyCertSign: boolean | undefined;
  /** extKeyUsage OIDs, when present. */
  extKeyUsage: string[] | undefined;
  /** subjectAltName: DNS names and IPv4 addresses, in the certificate's order. */
  altNames: { type: 'DNS' | 'IP'; value: string }[];
  subjectKeyId: Buffer | undefined;
  authorityKeyId: Buffer | undefined;
  /** SHA-1 and SHA-256 of the DER, "AB:CD:..." as X509Certificate.fingerprint/fingerprint256. */
  sha1Fingerprint: string;
  sha256Fingerprint: string;
}

const KNOWN_EXTENSIONS = new Set<string>([
  OID.basicConstraints,
  OID.keyUsage,
  OID.extKeyUsage,
  OID.subjectAltName,
  OID.subjectKeyIdentifier,
  OID.authorityKeyIdentifier,
]);

/** Name attributes read here, by OID, with the short name X509Certificate writes. */
const NAME_ATTRIBUTES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
};
/** PrintableString, UTF8String, IA5String. */
const NAME_STRING_TAGS = new Set([0x13, 0x0c, 0x16]);
/** Values written by X509Certificate as they are (RFC 2253 escaping needs none of these). */
const PLAIN_VALUE = /^[A-Za-z0-9][A-Za-z0-9 .\-_:@*()'/]*$/;
const PLAIN_DNS_NAME = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;

class NotPlain extends Error {}

/** The certificate in `der`, or undefined when it is not DER of the plain form (see the file comment). */
export function readCertificateDer(der: Buffer): CertificateDer | undefined {
  try {
    return read(der);
  } catch (e) {
    if (e instanceof NotPlain) return undefined;
    throw e;
  }
}

type El = { tag: number; start: number; end: number };

function read(der: Buffer): CertificateDer {
  const at = (off: number, end: number, tag?: number): El => {
    const e = derElement(der, off, end);
    if (!e || (tag !== undefined && e.tag !== tag)) throw new NotPlain();
    return e;
  };
  const bytes = (e: El) => der.subarray(e.start, e.end);
  const whole = (e: El, off: number) => der.subarray(off, e.end);

  const cert = at(0, der.length, 0x30);
  if (cert.end !== der.length) throw new NotPlain();
  const tbsEl = at(cert.start, cert.end, 0x30);
  const sigAlgEl = at(tbsEl.end, cert.end, 0x30);
  const sigEl = at(sigAlgEl.end, cert.end, 0x03);
  if (sigEl.end !== cert.end || der[sigEl.start] !== 0) throw new NotPlain();

  let p = tbsEl.start;
  const version = at(p, tbsEl.end, 0xa0);
  const v = at(version.start, version.end, 0x02);
  if (v.end !== version.end || v.end - v.start !== 1 || der[v.start] !== 2) throw new NotPlain(); // v3
  p = version.end;
  const serialEl = at(p, tbsEl.end, 0x02);
  const tbsSigAlgEl = at(serialEl.end, tbsEl.end, 0x30);
  const issuerEl = at(tbsSigAlgEl.end, tbsEl.end, 0x30);
  const validity = at(issuerEl.end, tbsEl.end, 0x30);
  const subjectEl = at(validity.end, tbsEl.end, 0x30);
  const spkiEl = at(subjectEl.end, tbsEl.end, 0x30);
  p = spkiEl.end;
  // No issuerUniqueID/subjectUniqueID ([1], [2]); the extensions [3] last.
  const extsWrap = at(p, tbsEl.end, 0xa3);
  if (extsWrap.end !== tbsEl.end) throw new NotPlain();

  const serialBytes = bytes(serialEl);
  if (serialBytes.length === 0 || serialBytes[0]! & 0x80) throw new NotPlain(); // negative
  let s = 0;
  while (s < serialBytes.length - 1 && serialBytes[s] === 0) s++;
  const serial = serialBytes.subarray(s).toString('hex').toUpperCase();

  const nb = at(validity.start, validity.end);
  const na = at(nb.end, validity.end);
  if (na.end !== validity.end) throw new NotPlain();

  const out: CertificateDer = {
    tbs: whole(tbsEl, cert.start),
    signatureAlgorithm: whole(sigAlgEl, tbsEl.end),
    tbsSignatureAlgorithm: whole(tbsSigAlgEl, serialEl.end),
    signature: der.subarray(sigEl.start + 1, sigEl.end),
    serial,
    issuer: whole(issuerEl, tbsSigAlgEl.end),
    subject: whole(subjectEl, validity.end),
    subjectText: nameText(der, subjectEl),
    notBefore: timeOf(der, nb),
    notAfter: timeOf(der, na),
    subjectPublicKeyInfo: whole(spkiEl, subjectEl.end),
    ca: false,
    keyCertSign: undefined,
    extKeyUsage: undefined,
    altNames: [],
    subjectKeyId: undefined,
    authorityKeyId: undefined,
    sha1Fingerprint: fingerprint('sha1', der),
    sha256Fingerprint: fingerprint('sha256', der),
  };

  const exts = at(extsWrap.start, extsWrap.end, 0x30);
  if (exts.end !== extsWrap.end) throw new NotPlain();
  const seen = new Set<string>();
  for (let q = exts.start; q < exts.end;) {
    const ext = at(q, exts.end, 0x30);
    q = ext.end;
    const idEl = at(ext.start, ext.end, 0x06);
    const id = oidText(bytes(idEl));
    let r = idEl.end;
    const next = at(r, ext.end);
    if (next.tag === 0x01) {
      // DER: TRUE is 0xff, and a FALSE (the default) is left out.
      if (next.end - next.start !== 1 || der[next.start] !== 0xff) throw new NotPlain();
      r = next.end;
    }
    const value = at(r, ext.end, 0x04);
    if (value.end !== ext.end || seen.has(id)) throw new NotPlain();
    seen.add(id);
    // Any other extension, critical or not, is OpenSSL's to read (it may judge it malformed).
    if (!KNOWN_EXTENSIONS.has(id)) throw new NotPlain();
    const inner = at(value.start, value.end);
    if (inner.end !== value.end) throw new NotPlain();
    readExtension(id, inner);
  }
  return out;

  /** The elements inside constructed `e`, each of `tag` when given. */
  function children(e: El, tag?: number): El[] {
    const out: El[] = [];
    for (let q = e.start; q < e.end; q = out[out.length - 1]!.end) out.push(at(q, e.end, tag));
    return out;
  }

  function readExtension(id: string, e: El): void {
    switch (id) {
      case OID.basicConstraints: {
        if (e.tag !== 0x30) throw new NotPlain();
        if (e.start < e.end) {
          const b = at(e.start, e.end);
          if (b.tag === 0x01) {
            if (b.end - b.start !== 1 || der[b.start] !== 0xff) throw new NotPlain();
            out.ca = true;
          }
        }
        return;
      }
      case OID.keyUsage: {
        if (e.tag !== 0x03 || e.end - e.start < 2) throw new NotPlain();
        // The first octet after the unused-bits count holds bits 0-7, bit 0 its high bit.
        out.keyCertSign = (der[e.start + 1]! & 0x04) !== 0;
        return;
      }
      case OID.extKeyUsage: {
        if (e.tag !== 0x30) throw new NotPlain();
        out.extKeyUsage = children(e, 0x06).map((o) => oidText(bytes(o)));
        return;
      }
      case OID.subjectAltName: {
        if (e.tag !== 0x30) throw new NotPlain();
        for (const g of children(e)) {
          const b = bytes(g);
          if (g.tag === 0x82) {
            const name = b.toString('latin1');
            if (!PLAIN_DNS_NAME.test(name)) throw new NotPlain();
            out.altNames.push({ type: 'DNS', value: name });
          } else if (g.tag === 0x87 && b.length === 4) {
            out.altNames.push({ type: 'IP', value: [...b].join('.') });
          } else throw new NotPlain();
        }
        return;
      }
      case OID.subjectKeyIdentifier: {
        if (e.tag !== 0x04) throw new NotPlain();
        out.subjectKeyId = bytes(e);
        return;
      }
      case OID.authorityKeyIdentifier: {
        if (e.tag !== 0x30) throw new NotPlain();
        for (const k of children(e)) {
          // keyIdentifier [0] only: an authorityCertIssuer [1] or serial [2] is OpenSSL's to match.
          if (k.tag !== 0x80) throw new NotPlain();
          out.authorityKeyId = bytes(k);
        }
        return;
      }
    }
  }
}

/** A Name's text as X509Certificate writes it: one "SN=value" line per RDN; plain names only. */
function nameText(der: Buffer, name: El): string {
  const lines: string[] = [];
  for (let p = name.start; p < name.end;) {
    const rdn = derElement(der, p, name.end);
    if (!rdn || rdn.tag !== 0x31) throw new NotPlain();
    p = rdn.end;
    const atv = derElement(der, rdn.start, rdn.end);
    if (!atv || atv.tag !== 0x30 || atv.end !== rdn.end) throw new NotPlain(); // one attribute per RDN
    const type = derElement(der, atv.start, atv.end);
    const value = type && derElement(der, type.end, atv.end);
    if (!type || type.tag !== 0x06 || !value || value.end !== atv.end || !NAME_STRING_TAGS.has(value.tag))
      throw new NotPlain();
    const sn = NAME_ATTRIBUTES[oidText(der.subarray(type.start, type.end))];
    const text = der.subarray(value.start, value.end).toString('latin1');
    if (!sn || !PLAIN_VALUE.test(text) || text.endsWith(' ')) throw new NotPlain();
    lines.push(`${sn}=${text}`);
  }
  if (lines.length === 0) throw new NotPlain();
  return lines.join('\n');
}

/** UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ), whole seconds in UTC, as ms. */
function timeOf(der: Buffer, e: El): number {
  const s = der.subarray(e.start, e.end).toString('latin1');
  let m: RegExpExecArray | null;
  let year: number;
  if (e.tag === 0x17 && (m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s))) {
    const yy = Number(m[1]);
    year = yy < 50 ? 2000 + yy : 1900 + yy; // RFC 5280 §4.1.2.5.1
  } else if (e.tag === 0x18 && (m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s))) {
    year = Number(m[1]);
  } else throw new NotPlain();
  const [mo, d, h, mi, se] = m.slice(2).map(Number) as [number, number, number, number, number];
  const ms = Date.UTC(year, mo - 1, d, h, mi, se);
  const back = new Date(ms);
  // A day or hour out of range would roll over in Date.UTC: not a time OpenSSL reads.
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || back.getUTCHours() !== h || se > 59)
    throw new NotPlain();
  return ms;
}

/** Dotted text of an OBJECT IDENTIFIER's content octets. */
function oidText(b: Buffer): string {
  if (b.length === 0) throw new NotPlain();
  const arcs = [Math.floor(b[0]! / 40), b[0]! % 40];
  if (b[0]! >= 80) arcs.splice(0, 2, 2, b[0]! - 80);
  let v = 0;
  for (let i = 1; i < b.length; i++) {
    v = v * 128 + (b[i]! & 0x7f);
    if (!(b[i]! & 0x80)) {
      arcs.push(v);
      v = 0;
    }
  }
  if (b[b.length - 1]! & 0x80) throw new NotPlain();
  return arcs.join('.');
}

function fingerprint(alg: 'sha1' | 'sha256', der: Buffer): string {
  return createHash(alg)
    .update(der)
    .digest('hex')
    .toUpperCase()
    .replace(/(..)(?!$)/g, '$1:');
}
