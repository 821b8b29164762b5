/**
 * The REST representations of the box's state: plain JSON built from what
 * the Box methods return, with the field names of the OpenAPI document (and,
 * for ACME, of GigaVUE-FM's device ACME schema). Pure functions; nothing
 * here may ever include a private key, a password hash or a community.
 */
import type { Box, CertificateView } from '../../device/box.js';
import { ALGORITHMS_BY_MODE, managerAlgorithm, type ManagerAlgorithm } from '../../device/key-algorithms.js';
import {
  ACME_CERT_NAME,
  snmpSecurityLevel,
  type AcmeIssued,
  type AcmeRequestStatus,
  type SnmpTarget,
} from '../../device/model.js';

/** An instant as RFC 3339 UTC, or null. */
export function isoOrNull(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString();
}

/** Certificate as the API shows it: facts flattened, no key material. */
export function certificateJson(v: CertificateView) {
  return {
    name: v.name,
    origin: v.origin,
    hasPrivateKey: v.hasPrivateKey,
    inCaList: v.inCaList,
    usedByWeb: v.usedByWeb,
    subject: v.facts.subject,
    issuer: v.facts.issuer,
    serial: v.facts.serial,
    notBefore: isoOrNull(v.facts.notBefore),
    notAfter: isoOrNull(v.facts.notAfter),
    keyType: v.facts.keyType,
    keySize: v.facts.keySize,
    sha1Fingerprint: v.facts.sha1Fingerprint,
    sha256Fingerprint: v.facts.sha256Fingerprint,
    subjectAltNames: v.facts.subjectAltNames,
    selfSigned: v.facts.selfSigned,
    isCa: v.facts.isCa,
  };
}

/** `show web` as JSON: which certificate the HTTPS server presents. */
export function webCertificateJson(box: Box) {
  const name = box.webCertificateName;
  return {
    certName: name,
    acmeManaged: name === ACME_CERT_NAME,
    certificate: certificateJson(box.certificate(name)),
  };
}

/** An SNMP target without its community (a secret). */
export function snmpTargetJson(t: SnmpTarget) {
  return {
    host: t.host,
    port: t.port,
    kind: t.kind,
    version: t.version,
    ...(t.user !== undefined ? { user: t.user } : {}),
    ratePerSec: t.ratePerSec,
  };
}

/** What a secret is shown as (communities; as the CLI's show snmp and running config). */
const MASKED = '********';

/** GET /snmp: the settings of `show snmp`; communities masked, v3 users without passphrases. */
export function snmpSettingsJson(box: Box) {
  const c = box.config.snmp;
  const agent = box.snmpStatus()?.agentStatus();
  return {
    enabled: c.enabled,
    notifyEnabled: c.notifyEnabled,
    communitiesEnabled: c.communitiesEnabled ?? true,
    agentPort: c.agentPort ?? null,
    agentPortInUse: agent?.port ?? null,
    contact: c.contact ?? '',
    location: c.location ?? '',
    communities: (c.communities ?? []).map(() => MASKED),
    users: c.users.map((u) => ({
      name: u.name,
      securityLevel: snmpSecurityLevel(u),
      auth: u.auth?.protocol ?? null,
      priv: u.priv?.protocol ?? null,
    })),
    events: [...c.events],
    expiringSoonDays: c.expiringSoonDays,
  };
}

/** The overview of GET /api/v1/system. */
export function systemJson(box: Box) {
  const img = box.image;
  return {
    boxId: box.boxId,
    hostname: box.hostname,
    clusterName: box.clusterName,
    model: box.identity.model,
    serialNumber: box.identity.serial,
    hostId: box.identity.hostId,
    version: img.version,
    uptimeSec: Math.floor(box.uptimeMs() / 1000),
    cryptoMode: cryptoModeJson(box),
    unsavedChanges: box.hasUnsavedChanges,
  };
}

/** `show version` as JSON. */
export function versionJson(box: Box) {
  const img = box.image;
  return {
    productName: 'GigaVUE-OS',
    productRelease: img.version,
    buildId: img.buildId,
    buildDate: img.buildDate,
    productModel: box.identity.model,
    hostId: box.identity.hostId,
    uptimeSec: Math.floor(box.uptimeMs() / 1000),
    acmeSupported: img.features.acme,
  };
}

/** One row of `show chassis`. */
export function chassisJson(box: Box, localBoxId: number) {
  return {
    boxId: box.boxId,
    local: box.boxId === localBoxId,
    hostname: box.hostname,
    hwType: box.identity.model,
    serialNumber: box.identity.serial,
    swRev: box.image.version,
    operStatus: 'up' as const,
  };
}

/** The crypto mode: the one running, the one configured for the next reload, and what the running one allows. */
export function cryptoModeJson(box: Box) {
  return {
    active: box.activeCryptoMode,
    configured: box.config.cryptoMode,
    reloadNeeded: box.config.cryptoMode !== box.activeCryptoMode,
    algorithms: allowedFmAlgorithms(box),
  };
}

/** The manager's names of the key algorithms the running crypto mode allows (the Box's own table). */
function allowedFmAlgorithms(box: Box): ManagerAlgorithm[] {
  return ALGORITHMS_BY_MODE[box.activeCryptoMode].map(managerAlgorithm);
}

/**
 * Status of the issued certificate: Active while it is on web and valid,
 * Expired after its end, Inactive while web is on the default certificate
 * (a revoke whose re-issue failed falls back to it, CLI contract).
 */
function issuedStatus(box: Box, issued: AcmeIssued): 'Active' | 'Expired' | 'Inactive' {
  if (box.clock.now() >= issued.expiresMs) return 'Expired';
  return box.webCertificateName === issued.certName ? 'Active' : 'Inactive';
}

/** Request-Status as `show crypto acme client info` prints it. */
function requestStatusText(r: AcmeRequestStatus): string {
  return r.status === 'Failed' ? `Failed: ${r.reason ?? 'unknown reason'}` : r.status;
}

/**
 * GET /api/v1/acme: the two blocks of `show crypto acme client info` with
 * GigaVUE-FM's field names. Dates are RFC 3339 UTC; renewDays null means
 * "System Computed" (a third of the lifetime).
 */
export function acmeJson(box: Box) {
  const s = box.acmeState();
  const i = s.issued;
  const r = s.lastRequest;
  return {
    boxId: box.boxId,
    clusterName: box.clusterName,
    issuedCert: i
      ? {
          domain: i.domain,
          acmeCaUrl: i.directoryUrl,
          algorithm: managerAlgorithm(i.keyAlgorithm),
          certName: i.certName,
          firstIssued: isoOrNull(i.firstIssuedMs),
          nextRenew: isoOrNull(i.nextRenewalMs),
          expiry: isoOrNull(i.expiresMs),
          renewDays: i.renewDays,
          lastSuccessRenew: isoOrNull(i.lastSuccessfulRenewalMs),
          lastFailedRenew: isoOrNull(i.lastFailedRenewalMs),
          status: issuedStatus(box, i),
        }
      : null,
    lastAcmeRequest: r
      ? {
          domainName: r.domain,
          acmeCaUrl: r.directoryUrl,
          type: r.type,
          status: requestStatusText(r),
          startedAt: isoOrNull(r.startedMs),
          finishedAt: isoOrNull(r.finishedMs),
        }
      : null,
  };
}
