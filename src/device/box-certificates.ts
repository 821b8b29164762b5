/**
 * The certificate store (CLI contract, "Certificates"): user certificates
 * and keys, the CA list, the certificate the web server presents. Every
 * change persists at once. The default and the ACME certificate are the
 * box's own: operators can neither add nor delete them by name.
 */
import { X509Certificate } from 'node:crypto';
import { certificateFacts, parseChain, type CertificateFacts } from '../pki/certificate.js';
import { keyMatches, parsePrivateKey } from '../pki/keys.js';
import { own, stored, UNCHANGED, type BoxCore } from './box-core.js';
import { DeviceError } from './errors.js';
import { MAX_CERTIFICATES, MAX_PEM_BYTES } from './limits.js';
import { ACME_CERT_NAME, DEFAULT_CERT_NAME, type CertificateRecord } from './model.js';
import { clip, validateName } from './validate.js';

/** A certificate with its facts, for show output and the REST API. No key material. */
export interface CertificateView {
  name: string;
  origin: CertificateRecord['origin'];
  hasPrivateKey: boolean;
  inCaList: boolean;
  usedByWeb: boolean;
  facts: CertificateFacts;
}

/** `crypto certificate name <name> public-cert pem "<PEM>"`. */
export const addPublicCertificate = stored({
  role: 'operator',
  apply: ({ draft, core }, name: string, pem: string) => {
    checkUserCertName(name);
    checkPemSize(pem);
    if (own(draft.crypto.certificates, name)) {
      throw new DeviceError(
        'exists',
        `Certificate "${name}" already exists; remove it first with "no crypto certificate name ${name}".`,
      );
    }
    if (Object.keys(draft.crypto.certificates).length >= MAX_CERTIFICATES) {
      throw new DeviceError('bad-input', `At most ${MAX_CERTIFICATES} certificates.`);
    }
    let chain: X509Certificate[];
    try {
      chain = parseChain(pem);
    } catch (e) {
      throw new DeviceError('bad-input', `Invalid certificate PEM: ${(e as Error).message}.`);
    }
    const certPem = chain.map((c) => c.toString()).join('');
    draft.crypto.certificates[name] = { name, certPem, origin: 'user', addedAtMs: core.clock.now() };
  },
  audit: ([name]) => `crypto certificate name ${name} public-cert`,
});

/** `crypto certificate name <name> private-key pem "<PEM>"`: the key must match the certificate. */
export const addPrivateKey = stored({
  role: 'operator',
  apply: ({ draft }, name: string, pem: string) => {
    checkUserCertName(name);
    checkPemSize(pem);
    const rec = own(draft.crypto.certificates, name);
    if (!rec) {
      throw new DeviceError('not-found', `Certificate "${name}" not found; add its public-cert first.`);
    }
    if (rec.keyPem) {
      throw new DeviceError(
        'exists',
        `Certificate "${name}" already has a private key; remove the certificate and add both again.`,
      );
    }
    try {
      parsePrivateKey(pem);
    } catch (e) {
      throw new DeviceError('bad-input', `Invalid private key: ${(e as Error).message}.`);
    }
    const leaf = parseChain(rec.certPem)[0]!;
    if (!keyMatches(pem, leaf.publicKey)) {
      throw new DeviceError(
        'bad-input',
        `The private key does not match certificate "${name}"; nothing was changed.`,
      );
    }
    rec.keyPem = pem.trim() + '\n';
  },
  audit: ([name]) => `crypto certificate name ${name} private-key`,
});

/** `no crypto certificate name <name>`: refused while web or the CA list uses it. */
export const deleteCertificate = stored({
  role: 'operator',
  apply: ({ draft }, name: string) => {
    if (name === DEFAULT_CERT_NAME)
      throw new DeviceError('in-use', 'The default certificate cannot be deleted.');
    if (name === ACME_CERT_NAME) {
      throw new DeviceError(
        'in-use',
        `Certificate "${name}" is managed by ACME; use "crypto certificate acme clear".`,
      );
    }
    if (!own(draft.crypto.certificates, name))
      throw new DeviceError('not-found', `Certificate "${clip(name)}" not found.`);
    if (draft.crypto.webCert === name) {
      throw new DeviceError(
        'in-use',
        `Certificate "${name}" is in use by web https; map another one first ("web https certificate default-cert").`,
      );
    }
    if (draft.crypto.caList.includes(name)) {
      throw new DeviceError(
        'in-use',
        `Certificate "${name}" is in the CA list; remove it first ("no crypto certificate ca-list default-ca-list name ${name}").`,
      );
    }
    delete draft.crypto.certificates[name];
  },
  audit: ([name]) => `no crypto certificate name ${name}`,
});

/** `crypto certificate ca-list default-ca-list name <name>`. */
export const addCaListEntry = stored({
  role: 'operator',
  apply: ({ draft }, name: string) => {
    if (!own(draft.crypto.certificates, name)) {
      throw new DeviceError(
        'not-found',
        `Certificate "${clip(name)}" not found; add it with "crypto certificate name ${clip(name)} public-cert pem ..." first.`,
      );
    }
    if (draft.crypto.caList.includes(name)) return UNCHANGED;
    draft.crypto.caList.push(name);
  },
  audit: ([name]) => `crypto certificate ca-list default-ca-list name ${name}`,
});

/** `no crypto certificate ca-list default-ca-list name <name>`. */
export const removeCaListEntry = stored({
  role: 'operator',
  apply: ({ draft }, name: string) => {
    if (!draft.crypto.caList.includes(name))
      throw new DeviceError('not-found', `Certificate "${clip(name)}" is not in the CA list.`);
    draft.crypto.caList = draft.crypto.caList.filter((n) => n !== name);
  },
  audit: ([name]) => `no crypto certificate ca-list default-ca-list name ${name}`,
});

/**
 * `web https certificate name <name>` / `default-cert`. Refused while the
 * ACME certificate is on web (seed: no switching away from it).
 */
export const setWebCertificate = stored({
  role: 'operator',
  apply: ({ draft }, name: string) => {
    if (draft.crypto.webCert === ACME_CERT_NAME) {
      throw new DeviceError(
        'in-use',
        'The web certificate is managed by ACME; clear it first with "crypto certificate acme clear".',
      );
    }
    if (name === ACME_CERT_NAME)
      throw new DeviceError('bad-input', 'The ACME certificate is mapped by the ACME client itself.');
    const rec = own(draft.crypto.certificates, name);
    if (!rec) throw new DeviceError('not-found', `Certificate "${clip(name)}" not found.`);
    if (!rec.keyPem) {
      throw new DeviceError(
        'precondition',
        `Certificate "${name}" has no private key; add it with "crypto certificate name ${name} private-key pem ...".`,
      );
    }
    if (draft.crypto.webCert === name) return UNCHANGED;
    draft.crypto.webCert = name;
  },
  audit: ([name]) => `web https certificate ${name === DEFAULT_CERT_NAME ? 'default-cert' : 'name ' + name}`,
  after: (core) => core.emitWebChange(),
});

/** Every certificate with its facts (no keys). */
export function certificates(core: BoxCore): CertificateView[] {
  return Object.values(core.doc.crypto.certificates)
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((r) => view(core, r));
}

/** One certificate with its facts (no key); DeviceError('not-found') when absent. */
export function certificate(core: BoxCore, name: string): CertificateView {
  const rec = own(core.doc.crypto.certificates, name);
  if (!rec) throw new DeviceError('not-found', `Certificate "${clip(name)}" not found.`);
  return view(core, rec);
}

/** PEMs of the CA list (trust anchors for the ACME server's TLS and chain). */
export function caListPems(core: BoxCore): { name: string; pem: string }[] {
  return core.doc.crypto.caList
    .map((n) => own(core.doc.crypto.certificates, n))
    .filter((r): r is CertificateRecord => !!r)
    .map((r) => ({ name: r.name, pem: r.certPem }));
}

function view(core: BoxCore, r: CertificateRecord): CertificateView {
  return {
    name: r.name,
    origin: r.origin,
    hasPrivateKey: !!r.keyPem,
    inCaList: core.doc.crypto.caList.includes(r.name),
    usedByWeb: core.doc.crypto.webCert === r.name,
    facts: certificateFacts(r.certPem),
  };
}

function checkUserCertName(name: string): void {
  validateName('certificate name', name);
  if (name === DEFAULT_CERT_NAME || name === ACME_CERT_NAME) {
    throw new DeviceError('bad-input', `The name "${name}" is reserved; choose another.`);
  }
}

function checkPemSize(pem: string): void {
  if (Buffer.byteLength(pem) > MAX_PEM_BYTES) {
    throw new DeviceError('bad-input', `PEM value too long: at most ${MAX_PEM_BYTES / 1024} KiB.`);
  }
}
