/**
 * ACME as operators ask for it (CLI contract, "ACME"; seeds): issue, renew,
 * revoke and clear are admin-only, check every prerequisite in a fixed
 * order, each with its own message, and hand the work to the ACME agent
 * (the AcmeController port); they resolve once the work has started. What
 * only the agent may do is in acme-agent-port.ts.
 */
import { isIP } from 'node:net';
import type { BoxCore } from './box-core.js';
import { runningImage } from './box-firmware.js';
import { DeviceError } from './errors.js';
import { ACME_MIN_VERSION, compareVersions } from './firmware.js';
import {
  ALGORITHMS_BY_MODE,
  defaultKeyAlgorithm,
  KEY_ALGORITHMS,
  type KeyAlgorithm,
} from './key-algorithms.js';
import { MAX_RENEW_DAYS } from './limits.js';
import { ACME_CERT_NAME, type AcmeIssued, type AcmeRequestStatus, type AcmeState } from './model.js';
import type { AcmeController, RevocationReason } from './ports.js';
import { requireRole, type Actor } from './roles.js';
import { clip, validateDomain, validateInt } from './validate.js';

/** Parameters of `crypto certificate acme issue`. */
export interface AcmeIssueParams {
  domain: string;
  /**
   * Also order the certificate for this IP address of the box (a second
   * identifier, RFC 8738), beside a DNS domain. Set by a lab's topology only:
   * the real device's issue takes one domain (seed), so neither the CLI nor
   * the REST API offers it.
   */
  // EMULATION: a lab box can hold an ACME certificate naming its DNS name and its address (topology `address-in-certificate`); the device's own interfaces still order one domain.
  address?: string;
  directoryUrl: string;
  keyAlgorithm?: KeyAlgorithm;
  renewDays?: number;
}

/**
 * The ACME status (a copy) for `show crypto acme client info` and the REST
 * API: the issued certificate and the last request. Account keys are not
 * part of it.
 */
export function acmeState(core: BoxCore): Pick<AcmeState, 'issued' | 'lastRequest'> {
  return structuredClone({ issued: core.doc.acme.issued, lastRequest: core.doc.acme.lastRequest });
}

/** What acmeView() gives: live records, read-only. */
export interface AcmeView {
  readonly issued: Readonly<AcmeIssued> | null;
  readonly lastRequest: Readonly<AcmeRequestStatus> | null;
  /** The PEM of the installed ACME certificate (the name ACME_CERT_NAME), undefined when none is. */
  readonly certPem: string | undefined;
}

/**
 * The same as acmeState() plus the installed ACME certificate's PEM, read in
 * place: no copy, no parsing. For a view rebuilt over many boxes at once (a
 * lab's status of 10,000 boxes: the copy was most of its time). Valid until
 * the box's next change; a caller keeps none of it and changes nothing.
 */
export function acmeView(core: BoxCore): AcmeView {
  const { acme, crypto } = core.doc;
  const cert = Object.hasOwn(crypto.certificates, ACME_CERT_NAME)
    ? crypto.certificates[ACME_CERT_NAME]
    : undefined;
  return { issued: acme.issued, lastRequest: acme.lastRequest, certPem: cert?.certPem };
}

/** True while an issue, renew or revoke runs on this box. */
export function acmeBusy(core: BoxCore): boolean {
  return core.doc.acme.lastRequest?.status === 'In Progress';
}

/** `crypto certificate acme issue ...` (admin). Resolves once the work has started. */
export async function acmeIssue(core: BoxCore, actor: Actor, p: AcmeIssueParams): Promise<void> {
  requireRole(actor, 'admin');
  const domain = validateDomain(p.domain);
  const address = p.address === undefined ? undefined : validateSecondAddress(domain, p.address);
  const directoryUrl = validateDirectoryUrl(p.directoryUrl);
  const renewDays =
    p.renewDays === undefined ? null : validateInt('renew-days', p.renewDays, 1, MAX_RENEW_DAYS);
  const keyAlgorithm = p.keyAlgorithm ?? defaultKeyAlgorithm(core.activeCryptoMode);
  if (!KEY_ALGORITHMS.includes(keyAlgorithm))
    throw new DeviceError('bad-input', `Unknown key algorithm "${clip(keyAlgorithm)}".`);
  const allowed = ALGORITHMS_BY_MODE[core.activeCryptoMode];
  if (!allowed.includes(keyAlgorithm)) {
    throw new DeviceError(
      'bad-input',
      `Key algorithm ${keyAlgorithm} is not allowed in ${core.activeCryptoMode} mode; use ${allowed.join(' or ')}.`,
    );
  }
  const controller = prerequisites(core);
  await controller.start({
    type: 'Issue',
    domain,
    ...(address ? { address } : {}),
    directoryUrl,
    keyAlgorithm,
    renewDays,
  });
  core.audit(actor, `crypto certificate acme issue domain ${domain}`);
}

/** `crypto certificate acme renew domain <d>` (admin). */
export async function acmeRenew(core: BoxCore, actor: Actor, domain: string): Promise<void> {
  await startOnIssued(core, actor, domain, 'renew', {});
}

/** `crypto certificate acme revoke domain <d>` (admin): re-issue, install, then revoke the old one. */
export async function acmeRevoke(
  core: BoxCore,
  actor: Actor,
  domain: string,
  reason: RevocationReason = 'superseded',
): Promise<void> {
  await startOnIssued(core, actor, domain, 'revoke', { revocationReason: reason });
}

/** Renew and revoke: the issued certificate's own settings, then the audit line naming its domain. */
async function startOnIssued(
  core: BoxCore,
  actor: Actor,
  domain: string,
  op: 'renew' | 'revoke',
  extra: { revocationReason?: RevocationReason },
): Promise<void> {
  requireRole(actor, 'admin');
  const issued = issuedFor(core, domain, op);
  const controller = prerequisites(core);
  await controller.start({
    type: op === 'renew' ? 'Renew' : 'Revoke',
    domain: issued.domain,
    ...(issued.address ? { address: issued.address } : {}),
    directoryUrl: issued.directoryUrl,
    keyAlgorithm: issued.keyAlgorithm,
    renewDays: issued.renewDays,
    ...extra,
  });
  core.audit(actor, `crypto certificate acme ${op} domain ${issued.domain}`);
}

/** `crypto certificate acme clear` (admin): back to the default certificate, timers cancelled. */
export async function acmeClear(core: BoxCore, actor: Actor): Promise<void> {
  requireRole(actor, 'admin');
  if (!core.doc.acme.issued) throw new DeviceError('precondition', 'No ACME issued certificate to clear.');
  if (acmeBusy(core)) throw busyError(core);
  await controllerOf(core).clear();
  core.audit(actor, 'crypto certificate acme clear');
}

/** The error of an ACME operation refused because another one runs. */
export function busyError(core: BoxCore): DeviceError {
  const what = acmeBusy(core) ? `ACME ${core.doc.acme.lastRequest!.type.toLowerCase()}` : 'ACME operation';
  return new DeviceError(
    'busy',
    `An ${what} is already in progress on box ${core.boxId}; wait for it ("show crypto acme client info box-id ${core.boxId}").`,
  );
}

function issuedFor(core: BoxCore, domain: string, verb: string): AcmeIssued {
  const issued = core.doc.acme.issued;
  if (!issued)
    throw new DeviceError('precondition', `No ACME issued certificate to ${verb}; issue one first.`);
  const d = validateDomain(domain);
  if (d !== issued.domain) {
    throw new DeviceError(
      'bad-input',
      `Domain "${clip(domain)}" does not match the ACME certificate's domain "${issued.domain}".`,
    );
  }
  return issued;
}

function controllerOf(core: BoxCore): AcmeController {
  const running = core.doc.firmware.running;
  if (compareVersions(running, ACME_MIN_VERSION) < 0 || !runningImage(core).features.acme) {
    throw new DeviceError(
      'unsupported',
      `ACME needs firmware ${ACME_MIN_VERSION} or later; this box runs ${running}. Upgrade with "image fetch/install" and reload.`,
    );
  }
  if (!core.acme) throw new DeviceError('unsupported', 'The ACME client is not available on this box.');
  return core.acme;
}

/** Checks every operation that talks to the CA shares (seed prerequisites), in a fixed order. */
function prerequisites(core: BoxCore): AcmeController {
  const controller = controllerOf(core);
  if (core.running.nameServers.length === 0) {
    throw new DeviceError(
      'precondition',
      'No name server configured; add one with "ip name-server <ip>" (DNS is an ACME prerequisite).',
    );
  }
  if (acmeBusy(core)) throw busyError(core);
  return controller;
}

/**
 * The address ordered beside `domain`: an IP address, next to a DNS name
 * (an IP domain already is the address). Returns undefined when it is the
 * domain itself (nothing to add).
 */
function validateSecondAddress(domain: string, address: string): string | undefined {
  if (!isIP(address))
    throw new DeviceError('bad-input', `Invalid address "${clip(address)}": give the box's IP address.`);
  if (address === domain) return undefined;
  if (isIP(domain))
    throw new DeviceError(
      'bad-input',
      `The domain ${domain} is an address already; a second address goes beside a DNS name only.`,
    );
  return address;
}

/** An ACME directory URL: https only (RFC 8555 §6.1), bounded. */
function validateDirectoryUrl(url: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new DeviceError(
      'bad-input',
      `Invalid acme-server "${clip(url)}": give the directory URL, e.g. https://ca.lab.test:14000/dir.`,
    );
  }
  if (u.protocol !== 'https:' || url.length > 512) {
    throw new DeviceError(
      'bad-input',
      `Invalid acme-server "${clip(url)}": the ACME directory must be an https:// URL (RFC 8555 §6.1).`,
    );
  }
  return url;
}
