/**
 * The ACME client of one box (seed: "The ACME Client is installed in the
 * devices and takes care of automatic issue/renew/revoke of the HTTPS
 * certification"). It implements the device's AcmeController port: the Box
 * checks roles and inputs, then calls start()/clear(); the agent does the
 * network part against the CA, stores results through the Box's
 * agent-facing methods and emits the certificate events on box.events.
 *
 * Guarantees:
 * - One operation at a time per box (its own lock, taken synchronously, plus
 *   the Box's In Progress status). start() resolves once the work has
 *   begun; the result shows in the status ("In Progress", then "Success" or
 *   "Failed: <reason>").
 * - Trust and DNS are per box: every request goes through a BoxTransport
 *   built from this box's CA list and name servers (transport.ts). Nothing
 *   process-wide is read or written.
 * - A failed renewal never touches the certificate being served.
 * - stop() writes nothing: work cut by a shutdown stays "In Progress" in the
 *   store, and the next boot's prepareBoot marks it "Failed: interrupted by
 *   restart".
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { orderIdentifiers } from '../device/acme-identifiers.js';
import { DeviceError, isDeviceError } from '../device/errors.js';
import type { GateMap } from '../lib/gate.js';
import type { ConnectFaults } from '../lib/connect-faults.js';
import type { AcmeAgentPort } from '../device/acme-agent-port.js';
import type { Box } from '../device/box.js';
import type { CertificateEvent, DeviceEvents } from '../device/events.js';
import { ACME_CERT_NAME, type AcmeIssued, type AcmeRequestType } from '../device/model.js';
import type { AcmeController, AcmeRequest } from '../device/ports.js';
import type { Clock, TimerHandle } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { generateKeyPair, generatePrivateKey } from '../pki/keys.js';
import {
  anchoredRenewalMoment,
  AUTO_RENEWAL_MIN_GAP_MS,
  clockAheadShift,
  LAST_CHANCE_BEFORE_EXPIRY_MS,
  MINUTE_MS,
  nextRetryMoment,
  RENEWAL_RETRY_DELAYS_MS,
  RenewalTimer,
  installedCertificate,
} from './scheduler.js';
import {
  AcmeSession,
  createTlsAlpnCertificate,
  messageOf,
  type ChallengeResponder,
  type ChallengeToAnswer,
  type ChallengeType,
  type SessionTuning,
} from './session.js';
import { BoxTransport, inspectServerChain, isTrustFailure, resolves, TransportError } from './transport.js';
import { CRL_REASONS, revokeOutcome } from './revoke-outcome.js';
import { TrustCache } from './trust-cache.js';
import { parseAnchors, verifyIssuedCertificate, type VerifiedCertificate } from './verify.js';

/** Tunables of the agent. Every field is optional; defaults suit a real CA. All durations in ms. */
export interface AcmeAgentSettings {
  /** Status polling of challenges and orders (default 50 / 1000 / 40: peers.md §2, acme-client's 5 s minimum makes every pending poll slow). */
  pollMinMs?: number;
  pollMaxMs?: number;
  pollAttempts?: number;
  /** Per HTTP request to the CA (default 30 s). */
  requestTimeoutMs?: number;
  /** Per DNS query to the box's name servers (default 3 s). */
  dnsTimeoutMs?: number;
  /** Retries of a request answered 429/5xx (default 3), delay without Retry-After (default 1 s, doubling), longest Retry-After honoured (default 60 s). */
  serverErrorRetries?: number;
  serverErrorDelayMs?: number;
  maxRetryAfterMs?: number;
  /** badNonce retries per request (default 20; Pebble may reject 50 %). */
  badNonceRetries?: number;
  /** Waits between failed auto-renewals (default RENEWAL_RETRY_DELAYS_MS: 1 min ... 6 h). */
  renewalRetryDelaysMs?: readonly number[];
  /** The last retry happens this long before expiry (default 1 min). */
  lastChanceBeforeExpiryMs?: number;
  /** When an auto-renewal falls due while another operation runs, look again after this (default 1 min). */
  busyRetryMs?: number;
  /** The fewest real ms between two auto-renewals of the box (default AUTO_RENEWAL_MIN_GAP_MS, 1 min); a renewal due sooner waits. */
  autoRenewalMinGapMs?: number;
  /**
   * URLs of the CA's own root certificates, fetched over the box's verified
   * transport after each issuance and added to the CA list's anchors for the
   * chain check only (e.g. Pebble's https://<mgmt>/roots/0, regenerated on
   * every Pebble start). Default: none, the chain must lead to the CA list.
   */
  caRootUrls?: (directoryUrl: string) => string[];
  /** Challenge types in order of preference (default http-01, then tls-alpn-01); only those box.challenges.responders has on are used. */
  challengeTypes?: ChallengeType[];
  /** The User-Agent of every request (RFC 8555 §6.1). */
  userAgent?: string;
}

type Resolved = Required<Omit<AcmeAgentSettings, 'caRootUrls'>> & Pick<AcmeAgentSettings, 'caRootUrls'>;

const DEFAULTS: Resolved = {
  pollMinMs: 50,
  pollMaxMs: 1000,
  pollAttempts: 40,
  requestTimeoutMs: 30_000,
  dnsTimeoutMs: 3_000,
  serverErrorRetries: 3,
  serverErrorDelayMs: 1_000,
  maxRetryAfterMs: 60_000,
  badNonceRetries: 20,
  renewalRetryDelaysMs: RENEWAL_RETRY_DELAYS_MS,
  lastChanceBeforeExpiryMs: LAST_CHANCE_BEFORE_EXPIRY_MS,
  busyRetryMs: MINUTE_MS,
  autoRenewalMinGapMs: AUTO_RENEWAL_MIN_GAP_MS,
  caRootUrls: undefined,
  challengeTypes: ['http-01', 'tls-alpn-01'],
  userAgent: 'gvos-sim (acme-client/5.4.0)',
};

/** What the constructor takes. */
export interface AcmeAgentOptions {
  /** The box's agent port (Box.create()); the agent reads the box through port.box. */
  port: AcmeAgentPort;
  clock: Clock;
  logger: Logger;
  settings?: AcmeAgentSettings;
  /**
   * Trust material derived from CA lists; pass one cache to every agent of a
   * process (the cluster runner does) to build it once per distinct list.
   * Default: the agent's own.
   */
  trust?: TrustCache;
  /** Bounds on requests in flight per ACME server, shared with other boxes (see BoxTransportOptions.gates). */
  gates?: GateMap;
  /** Faults injected on this box's path to the ACME server (a lab's); kept across operations. */
  faults?: ConnectFaults;
}

/** A status reason is one line; this keeps it readable in `show crypto acme client info`. */
const MAX_REASON = 300;

/** An issued record with its renewal planned (every fresh certificate has one). */
type Scheduled = AcmeIssued & { nextRenewalMs: number };

/** The work of one operation: its cancel switch and the network path it owns. */
interface Work {
  type: AcmeRequestType;
  abort: AbortController;
  transport: BoxTransport;
  /** The directory fetched by the prerequisite check, if any. */
  directory?: Record<string, unknown>;
  done: Promise<void>;
}

export class AcmeAgent implements AcmeController {
  private readonly box: Box;
  /** What only the agent may do to the box. */
  private readonly port: AcmeAgentPort;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly s: Resolved;
  private readonly timer: RenewalTimer;
  /** The agent's lock: set synchronously before any await, so two callers can never both pass. */
  private lock: AcmeRequestType | undefined;
  private work: Work | undefined;
  private stopped = false;
  private readonly trust: TrustCache;
  private readonly gates: GateMap | undefined;
  private readonly faults: ConnectFaults | undefined;
  /** The account key last parsed from the store (OpenSSL 3 takes ~0.4 ms per PEM decode). */
  private accountKey: { pem: string; key: KeyObject } | undefined;
  /**
   * Set for autoRenewalMinGapMs after an auto-renewal starts: a plain timer
   * of the clock, so real time in a lab (a box clock's jump does not end it).
   */
  private coolDown: TimerHandle | undefined;
  /** A renewal fell due during the cool-down: it starts when the cool-down ends. */
  private dueAfterCoolDown = false;
  private readonly offJump: () => void;

  constructor(o: AcmeAgentOptions) {
    this.port = o.port;
    this.box = o.port.box;
    this.clock = o.clock;
    this.log = o.logger.child({ feature: 'acme' });
    this.s = { ...DEFAULTS, ...stripUndefined(o.settings ?? {}) };
    this.timer = new RenewalTimer(o.clock, () => this.autoRenewDue());
    this.trust = o.trust ?? new TrustCache(4);
    this.gates = o.gates;
    this.faults = o.faults;
    this.offJump = o.clock.onJump((deltaMs) => {
      if (deltaMs < 0) this.clockWentBack(deltaMs);
    });
  }

  // ------------------------------------------------------------------ lifecycle

  /**
   * After boot: arm the renewal timer from the stored certificate. The
   * moment is recomputed from notBefore, expiry and renew-days; while
   * renewals are failing, the stored retry moment is kept. A moment already
   * past renews at the next tick. Writes the recomputed moment if it changed.
   */
  resume(): void {
    if (this.stopped) return;
    const issued = this.box.acmeState().issued;
    if (!issued) return;
    const next = issued.failedAttempts > 0 ? issued.nextRenewalMs : this.momentOf(issued);
    if (next !== issued.nextRenewalMs) {
      this.port
        .updateAcmeIssued({ nextRenewalMs: next })
        .catch((e) => this.log.warn('could not store the renewal moment', { err: messageOf(e) }));
    }
    if (next === null) {
      this.log.warn('no renewal planned: auto-renewal gave up', { domain: issued.domain });
      return;
    }
    this.timer.arm(next);
    this.log.info('renewal timer armed', {
      domain: issued.domain,
      nextRenewal: new Date(next).toISOString(),
    });
  }

  /** Stop timers and cancel running work without writing anything (shutdown, reload). Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.timer.dispose();
    this.offJump();
    this.clock.clearTimer(this.coolDown);
    this.coolDown = undefined;
    this.work?.abort.abort();
    this.work?.transport.close();
  }

  /** The armed renewal deadline (epoch ms), if any (tests, lab). */
  get nextWakeMs(): number | undefined {
    return this.timer.deadlineMs;
  }

  /** Resolves when the running operation (if any) has finished (tests, benchmarks). */
  async idle(): Promise<void> {
    while (this.work) await this.work.done;
  }

  // ------------------------------------------------------------------ AcmeController

  /**
   * Check what needs the network, then begin. Refuses, with nothing started,
   * when another operation runs, when the directory cannot be reached or is
   * not an ACME directory, when the server's TLS chain is not trusted by the
   * CA list (naming the CA to add), or when a DNS domain does not resolve
   * through the box's name servers.
   */
  async start(req: AcmeRequest): Promise<void> {
    if (this.stopped)
      throw new DeviceError('unsupported', 'The ACME client is shutting down; retry after the box is up.');
    this.takeLock(req.type);
    const abort = new AbortController();
    const transport = this.openTransport(abort.signal);
    let directory: Record<string, unknown>;
    try {
      directory = await this.checkServer(req.directoryUrl, transport);
      if (!isIP(req.domain)) await this.checkDomain(req.domain, transport);
      await this.port.acmeBegin(req.type, req.domain, req.directoryUrl);
    } catch (e) {
      transport.close();
      this.lock = undefined;
      throw isDeviceError(e) ? e : new DeviceError('precondition', clipReason(messageOf(e)));
    }
    if (this.stopped) {
      // Shut down during the checks: leave the request In Progress for the next boot to mark interrupted.
      transport.close();
      return;
    }
    this.log.info('ACME request started', {
      type: req.type,
      domain: req.domain,
      directoryUrl: req.directoryUrl,
    });
    this.launch(req, abort, transport, directory);
  }

  /**
   * `crypto certificate acme clear`: cancel the timer and any running work,
   * remove the ACME certificate and key and map web to the default
   * certificate (one write), emit certificate-cleared, and record a Clear
   * request in the status.
   */
  async clear(): Promise<void> {
    if (this.work) {
      this.work.abort.abort();
      await this.work.done;
    }
    this.takeLock('Clear');
    try {
      this.timer.cancel();
      const issued = this.box.acmeState().issued;
      await this.port.acmeBegin('Clear', issued?.domain ?? '', issued?.directoryUrl ?? '');
      try {
        await this.port.removeAcmeCertificate();
      } catch (e) {
        await this.port.acmeFinish('Failed', clipReason(messageOf(e))).catch(() => undefined);
        throw e;
      }
      if (issued)
        this.emit('certificate-cleared', issued, issued.serial, { reason: 'cleared by the operator' });
      await this.port.acmeFinish('Success');
      this.log.info('ACME certificate cleared', { domain: issued?.domain });
    } finally {
      this.lock = undefined;
    }
  }

  // ------------------------------------------------------------------ prerequisites

  private takeLock(type: AcmeRequestType): void {
    const running = this.lock ?? (this.box.acmeBusy ? this.box.acmeState().lastRequest?.type : undefined);
    if (running) {
      const id = this.box.boxId;
      throw new DeviceError(
        'busy',
        `An ACME ${running.toLowerCase()} is already in progress on box ${id}; wait for it ("show crypto acme client info box-id ${id}").`,
      );
    }
    this.lock = type;
  }

  private openTransport(signal: AbortSignal): BoxTransport {
    const caPems = this.box.caListPems().map((c) => c.pem);
    return new BoxTransport({
      caPems,
      trustContext: this.trust.context(caPems),
      nameServers: [...this.box.config.nameServers],
      requestTimeoutMs: this.s.requestTimeoutMs,
      dnsTimeoutMs: this.s.dnsTimeoutMs,
      signal,
      userAgent: this.s.userAgent,
      ...(this.gates ? { gates: this.gates } : {}),
      ...(this.faults ? { faults: this.faults } : {}),
    });
  }

  /**
   * GET the directory (RFC 8555 §7.1.1) over the box's transport. Throws
   * DeviceError('precondition') with what to do; for an untrusted server,
   * names the CA that is missing from the CA list.
   */
  private async checkServer(directoryUrl: string, transport: BoxTransport): Promise<Record<string, unknown>> {
    const directories = transport.directories;
    // Held, or being fetched by another box of the pool: this box's own check is then the probe.
    // No await unless there is something to wait for: boxes starting in one tick must see the first one's fetch.
    let cached = directories.get(directoryUrl);
    const pending = cached ? undefined : directories.pending(directoryUrl);
    if (pending) cached = await pending;
    if (cached) {
      if (await this.probe(directoryUrl, cached, transport)) return cached;
      directories.forget(directoryUrl);
    }
    const fetch = this.fetchDirectory(directoryUrl, transport);
    directories.track(
      directoryUrl,
      fetch.catch(() => undefined),
    );
    return fetch;
  }

  /** GET the directory and check it is one; kept in the pool's cache. Throws like checkServer. */
  private async fetchDirectory(
    directoryUrl: string,
    transport: BoxTransport,
  ): Promise<Record<string, unknown>> {
    let resp;
    try {
      resp = await transport.request(directoryUrl, 'get');
    } catch (e) {
      throw await this.unreachable(directoryUrl, transport, e);
    }
    const d = resp.data as Record<string, unknown> | undefined;
    const ok =
      resp.status === 200 &&
      d &&
      typeof d === 'object' &&
      ['newNonce', 'newAccount', 'newOrder'].every((k) => typeof d[k] === 'string');
    if (!ok) {
      throw new DeviceError(
        'precondition',
        `${directoryUrl} is not an ACME directory (HTTP ${resp.status}); give the directory URL of the CA's ACME server.`,
      );
    }
    transport.directories.keep(directoryUrl, d);
    return d;
  }

  /**
   * The server check when the box's pool already holds the directory: one
   * GET of its newNonce (RFC 8555 §7.2) instead of the directory, over the
   * same verified path, so an unreachable or untrusted server is refused as
   * before, while the nonce it hands out saves the first signed request's
   * own newNonce (it goes to the pool). False when the answer is not a
   * nonce: the caller forgets the directory and GETs it again, which says
   * what is wrong. Throws like the directory GET when no answer arrives.
   */
  private async probe(
    directoryUrl: string,
    directory: Record<string, unknown>,
    transport: BoxTransport,
  ): Promise<boolean> {
    const url = directory['newNonce'] as string;
    let resp;
    try {
      resp = await transport.request(url, 'get');
    } catch (e) {
      transport.directories.forget(directoryUrl);
      throw await this.unreachable(directoryUrl, transport, e);
    }
    const nonce = resp.headers['replay-nonce'];
    if (resp.status < 200 || resp.status > 299 || !nonce) return false;
    // The session takes nonces by the directory's origin (session.ts); a nonce from elsewhere is not kept.
    const origin = new URL(directoryUrl).origin;
    if (new URL(url).origin === origin) transport.nonces.keep(origin, nonce);
    return true;
  }

  /** The refusal for a directory (or newNonce) request that got no answer. */
  private async unreachable(directoryUrl: string, transport: BoxTransport, e: unknown): Promise<DeviceError> {
    if (isTrustFailure(e)) return this.untrusted(directoryUrl, transport, e);
    if (e instanceof TransportError && e.kind === 'dns') {
      return new DeviceError(
        'precondition',
        `Cannot resolve the ACME server: ${e.message}; check "ip name-server".`,
      );
    }
    return new DeviceError('precondition', `Cannot reach the ACME server ${directoryUrl}: ${messageOf(e)}.`);
  }

  /** The refusal for a server whose chain the CA list does not trust: which certificate to add, and how. */
  private async untrusted(url: string, transport: BoxTransport, e: TransportError): Promise<DeviceError> {
    const host = new URL(url).hostname;
    if (e.code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
      return new DeviceError(
        'precondition',
        `The ACME server's certificate does not name ${host} (${e.code}); use a host name or address that its certificate names in acme-server.`,
      );
    }
    let missing = 'the CA that issued it';
    try {
      const report = await inspectServerChain(
        url,
        this.box.caListPems().map((c) => c.pem),
        transport.boxLookup,
        this.s.requestTimeoutMs,
      );
      const top = report.chain[report.chain.length - 1];
      if (top)
        missing = `"${top.issuer}"` + (top.issuer === top.subject ? ' (the server presents it itself)' : '');
    } catch {
      // Keep the generic wording; the first error already says what failed.
    }
    const empty = this.box.caListPems().length === 0 ? ' The CA list is empty.' : '';
    return new DeviceError(
      'precondition',
      `The ACME server's TLS certificate is not trusted by the CA list (${e.code}).${empty} Add the root certificate ${missing}: "crypto certificate name <name> public-cert pem ..." then "crypto certificate ca-list default-ca-list name <name>".`,
    );
  }

  /** Seed: "devices will perform DNS look up for fetching the DNS name": the domain must resolve through the box's name servers. */
  private async checkDomain(domain: string, transport: BoxTransport): Promise<void> {
    const found = await resolves(transport.boxLookup, domain);
    if (!found) {
      throw new DeviceError(
        'precondition',
        `Domain ${domain} does not resolve through the box's name server(s) ${transport.nameServers.join(', ')}; add a DNS record for it or issue for the box's IP address.`,
      );
    }
  }

  // ------------------------------------------------------------------ background work

  private launch(
    req: AcmeRequest,
    abort: AbortController,
    transport: BoxTransport,
    directory?: Record<string, unknown>,
  ): void {
    const work: Work = { type: req.type, abort, transport, directory, done: Promise.resolve() };
    work.done = (async () => {
      try {
        if (req.type === 'Issue') await this.runIssue(req, work);
        else if (req.type === 'Revoke') await this.runRevoke(req, work);
        else await this.runRenew(req, work);
      } catch (e) {
        // A store write failed (installing, or recording a failure): say so in the status if it can
        // be written at all, so the box is not left busy; else the next boot marks it interrupted.
        this.log.error('ACME request could not record its result', { type: req.type, err: messageOf(e) });
        if (!this.stopped)
          await this.port.acmeFinish('Failed', clipReason(messageOf(e))).catch(() => undefined);
      } finally {
        transport.close();
        if (this.work === work) this.work = undefined;
        if (this.lock === req.type) this.lock = undefined;
      }
    })();
    this.work = work;
  }

  /** Record the outcome, unless the box is shutting down (then the next boot marks it interrupted). */
  private async finish(
    work: Work,
    outcome: 'Success' | 'Failed',
    reason: string | null = null,
  ): Promise<void> {
    if (this.stopped) return;
    await this.port.acmeFinish(outcome, reason === null ? null : clipReason(reason));
    this.logFinished(work, outcome, reason);
  }

  private logFinished(work: Work, outcome: 'Success' | 'Failed', reason: string | null = null): void {
    this.log.info('ACME request finished', { type: work.type, outcome, reason });
  }

  private async runIssue(req: AcmeRequest, work: Work): Promise<void> {
    let got: VerifiedCertificate & { keyPem: string };
    try {
      got = await this.withSession(req.directoryUrl, work, (session) => this.obtain(req, session, work));
    } catch (e) {
      return this.finish(work, 'Failed', this.reason(e, work));
    }
    if (this.stopped) return;
    const f = got.facts;
    const issued: Scheduled = {
      domain: req.domain,
      ...(req.address ? { address: req.address } : {}),
      directoryUrl: req.directoryUrl,
      keyAlgorithm: req.keyAlgorithm,
      certName: ACME_CERT_NAME,
      firstIssuedMs: this.clock.now(),
      notBeforeMs: f.notBefore,
      expiresMs: f.notAfter,
      serial: f.serial,
      renewDays: req.renewDays,
      nextRenewalMs: 0,
      lastSuccessfulRenewalMs: null,
      lastFailedRenewalMs: null,
      lastFailureReason: null,
      failedAttempts: 0,
    };
    issued.nextRenewalMs = this.momentOf(issued);
    await this.port.installAcmeCertificate(got.certPem, got.keyPem, issued, () => {
      this.timer.arm(issued.nextRenewalMs);
      this.emit('certificate-issued', issued, issued.serial);
      this.logFinished(work, 'Success');
    });
  }

  /** Renew and Auto-Renew: a new key and certificate; on failure the current one keeps serving. */
  private async runRenew(req: AcmeRequest, work: Work): Promise<void> {
    const before = this.box.acmeState().issued;
    if (!before) return this.finish(work, 'Failed', 'no ACME issued certificate (it was cleared)');
    let got: VerifiedCertificate & { keyPem: string };
    try {
      if (req.type === 'Auto-Renew') await this.checkServerForWork(req.directoryUrl, work);
      got = await this.withSession(req.directoryUrl, work, (session) => this.obtain(req, session, work));
    } catch (e) {
      if (this.stopped) return;
      // Cancelled by clear: not a renewal failure, clear records its own request.
      if (work.abort.signal.aborted) return this.finish(work, 'Failed', 'cancelled');
      return this.renewalFailed(req, work, before, this.reason(e, work));
    }
    if (this.stopped) return;
    const issued = this.renewedRecord(before, got);
    await this.port.installAcmeCertificate(got.certPem, got.keyPem, issued, () => {
      this.timer.arm(issued.nextRenewalMs);
      this.emit('certificate-renewed', issued, issued.serial, { previousSerial: before.serial });
      this.logFinished(work, 'Success');
    });
  }

  private renewedRecord(before: AcmeIssued, got: VerifiedCertificate): Scheduled {
    const f = got.facts;
    const issued: Scheduled = {
      ...before,
      notBeforeMs: f.notBefore,
      expiresMs: f.notAfter,
      serial: f.serial,
      nextRenewalMs: 0,
      lastSuccessfulRenewalMs: this.clock.now(),
      failedAttempts: 0,
    };
    issued.nextRenewalMs = this.momentOf(issued);
    return issued;
  }

  /**
   * Record a failed renewal: Last Failed Renewal and the reason, the event,
   * and (Auto-Renew) the next retry on the backoff table, never past expiry.
   * A manual Renew that fails keeps the automatic schedule as it was.
   */
  private async renewalFailed(
    req: AcmeRequest,
    work: Work,
    before: AcmeIssued,
    reason: string,
  ): Promise<void> {
    const now = this.clock.now();
    let patch: Partial<AcmeIssued> = { lastFailedRenewalMs: now, lastFailureReason: clipReason(reason) };
    let next: number | null = before.nextRenewalMs;
    if (req.type === 'Auto-Renew') {
      const failedAttempts = before.failedAttempts + 1;
      // The bound moves with the moment: a box ahead of its CA keeps retrying on its own timeline.
      next = nextRetryMoment(
        failedAttempts,
        now,
        before.expiresMs + clockAheadShift(installedCertificate(before)),
        this.s.renewalRetryDelaysMs,
        this.s.lastChanceBeforeExpiryMs,
      );
      patch = { ...patch, failedAttempts, nextRenewalMs: next };
    }
    await this.port.updateAcmeIssued(patch);
    if (next !== null) this.timer.arm(next);
    else
      this.log.warn('giving up auto-renewal: the certificate expires before another retry', {
        domain: before.domain,
      });
    this.emit('certificate-renewal-failed', before, before.serial, { reason: clipReason(reason) });
    await this.finish(work, 'Failed', reason);
  }

  /**
   * Revoke (seed): re-issue and install first, so web never serves a revoked
   * certificate; then revoke the old one with the account key (RFC 8555
   * §7.6); the old one leaves the store because installation replaced it.
   * If the re-issue fails: web goes to the default certificate, the old one
   * is still revoked and then deleted.
   */
  private async runRevoke(req: AcmeRequest, work: Work): Promise<void> {
    const before = this.box.acmeState().issued;
    const old = this.port.acmeCertificate();
    if (!before || !old) return this.finish(work, 'Failed', 'no ACME issued certificate (it was cleared)');
    const crl = CRL_REASONS[req.revocationReason ?? 'superseded'];
    let reissueError: string | undefined;
    let revokeError: string | undefined;
    try {
      await this.withSession(req.directoryUrl, work, async (session) => {
        try {
          const got = await this.obtain(req, session, work);
          if (this.stopped) return;
          const issued = this.renewedRecord(before, got);
          await this.port.installAcmeCertificate(got.certPem, got.keyPem, issued);
          this.timer.arm(issued.nextRenewalMs);
          this.emit('certificate-renewed', issued, issued.serial, { previousSerial: before.serial });
        } catch (e) {
          if (this.stopped) return;
          reissueError = this.reason(e, work);
          this.timer.cancel();
          await this.port.mapWebToDefault();
        }
        if (this.stopped) return;
        try {
          await session.revoke(old.certPem, crl.code);
        } catch (e) {
          revokeError = this.reason(e, work);
        }
      });
    } catch (e) {
      // The session could not even be opened (CA down, account refused).
      if (this.stopped) return;
      const why = this.reason(e, work);
      reissueError ??= why;
      revokeError ??= why;
    }
    if (this.stopped) return;
    const outcome = revokeOutcome({ serial: before.serial, reissueError, revokeError });
    // The fallback: a failed re-issue inside the session mapped web away already; here the session never opened.
    if (
      outcome.web === 'default-cert' &&
      this.box.webCertificateName === ACME_CERT_NAME &&
      this.port.acmeCertificate()?.certPem === old.certPem
    ) {
      this.timer.cancel();
      await this.port.mapWebToDefault();
    }
    if (outcome.removeOldCertificate) await this.port.removeAcmeCertificate();
    if (outcome.announceRevoked)
      this.emit('certificate-revoked', before, before.serial, { reason: crl.name });
    return this.finish(work, outcome.status, outcome.reason);
  }

  /**
   * The auto-renewal timer fired: begin an Auto-Renew unless another
   * operation runs, or unless the last one began less than
   * autoRenewalMinGapMs ago (then it begins when that gap has passed).
   */
  private autoRenewDue(): void {
    if (this.stopped) return;
    const issued = this.box.acmeState().issued;
    if (!issued) return;
    if (this.coolDown) {
      if (!this.dueAfterCoolDown) this.log.warn('auto-renewal due again within the minimum gap; it waits');
      this.dueAfterCoolDown = true;
      return;
    }
    try {
      this.takeLock('Auto-Renew');
    } catch {
      this.timer.arm(this.clock.now() + this.s.busyRetryMs);
      return;
    }
    this.startCoolDown();
    const abort = new AbortController();
    const transport = this.openTransport(abort.signal);
    const req: AcmeRequest = {
      type: 'Auto-Renew',
      domain: issued.domain,
      ...(issued.address ? { address: issued.address } : {}),
      directoryUrl: issued.directoryUrl,
      keyAlgorithm: issued.keyAlgorithm,
      renewDays: issued.renewDays,
    };
    this.port.acmeBegin('Auto-Renew', issued.domain, issued.directoryUrl).then(
      () => {
        if (this.stopped) {
          transport.close();
          return;
        }
        this.log.info('auto-renewal started', { domain: issued.domain, serial: issued.serial });
        this.launch(req, abort, transport);
      },
      (e) => {
        transport.close();
        if (this.lock === 'Auto-Renew') this.lock = undefined;
        this.log.warn('auto-renewal could not begin; retrying later', { err: messageOf(e) });
        if (!this.stopped) this.timer.arm(this.clock.now() + this.s.busyRetryMs);
      },
    );
  }

  private startCoolDown(): void {
    if (this.s.autoRenewalMinGapMs <= 0) return;
    this.coolDown = this.clock.setTimer(() => {
      this.coolDown = undefined;
      if (!this.dueAfterCoolDown || this.stopped) return;
      this.dueAfterCoolDown = false;
      // From the stored plan: an operator's renew or clear meanwhile has replaced or removed it.
      const next = this.box.acmeState().issued?.nextRenewalMs;
      if (next !== null && next !== undefined && this.timer.deadlineMs === undefined) this.timer.arm(next);
    }, this.s.autoRenewalMinGapMs);
  }

  /**
   * The box clock went back (a lab returns a box it moved ahead to real
   * time): once the running operation (if any) has ended, move back what was
   * stamped while it was ahead (the port does, in one write), then plan the
   * renewal again from the moved times, so a failed renewal's retry stays
   * minutes away and not as far as the jump.
   */
  private clockWentBack(deltaMs: number): void {
    if (this.stopped) return;
    void (async () => {
      try {
        // First let an operation that ran while ahead end: its last write stores the request it
        // stamped ahead (startedMs) and would put a moved time forward again. Times stamped after
        // the return read the real clock, at or before the `now` of the move, so they stay.
        await this.idle();
        await this.port.moveBackAcmeTimes(this.clock.now(), deltaMs);
        this.resume();
      } catch (e) {
        this.log.warn('could not move the ACME times back', { err: messageOf(e) });
      }
    })();
  }

  /** The network prerequisite, inside background work: a failure becomes the renewal's reason. */
  private async checkServerForWork(directoryUrl: string, work: Work): Promise<void> {
    try {
      work.directory = await this.checkServer(directoryUrl, work.transport);
    } catch (e) {
      throw new Error(messageOf(e).replace(/\.$/, ''));
    }
  }

  // ------------------------------------------------------------------ ACME protocol steps

  /**
   * {@link openSession} and `fn` in it; when either fails, the pool's cached
   * directory is forgotten (an error answer may mean the CA's URLs moved), so
   * the next operation fetches it again.
   */
  private async withSession<T>(
    directoryUrl: string,
    work: Work,
    fn: (s: AcmeSession) => Promise<T>,
  ): Promise<T> {
    try {
      return await this.openSession(directoryUrl, work, fn);
    } catch (e) {
      work.transport.directories.forget(directoryUrl);
      throw e;
    }
  }

  /** Open an ACME session with this box's account for the directory (registered, or registered again, on the way). */
  private async openSession<T>(
    directoryUrl: string,
    work: Work,
    fn: (s: AcmeSession) => Promise<T>,
  ): Promise<T> {
    const stored = this.port.acmeAccount(directoryUrl);
    let keyPem: string;
    let key: KeyObject;
    if (stored) {
      keyPem = stored.accountKeyPem;
      if (this.accountKey?.pem !== keyPem) this.accountKey = { pem: keyPem, key: createPrivateKey(keyPem) };
      key = this.accountKey.key;
    } else {
      ({ privateKeyPem: keyPem, key } = await generatePrivateKey('prime256v1'));
      this.accountKey = { pem: keyPem, key };
    }
    // A URL registered again mid-session (the CA had forgotten the account) is stored at once.
    const saveAgain: Array<Promise<void>> = [];
    const { session, accountUrl } = await AcmeSession.open({
      directoryUrl,
      account: { keyPem, key, url: stored?.accountUrl ?? null },
      transport: work.transport,
      tuning: this.tuning(),
      signal: work.abort.signal,
      directory: work.directory,
      onAccountUrl: (url) => {
        this.log.info('ACME account registered again (the CA had forgotten it)', { directoryUrl });
        saveAgain.push(this.port.saveAcmeAccount({ directoryUrl, accountKeyPem: keyPem, accountUrl: url }));
      },
    });
    if (!stored || stored.accountUrl !== accountUrl)
      await this.port.saveAcmeAccount({ directoryUrl, accountKeyPem: keyPem, accountUrl });
    try {
      return await fn(session);
    } finally {
      await Promise.all(saveAgain);
    }
  }

  private tuning(): SessionTuning {
    return {
      pollMinMs: this.s.pollMinMs,
      pollMaxMs: this.s.pollMaxMs,
      pollAttempts: this.s.pollAttempts,
      serverErrorRetries: this.s.serverErrorRetries,
      serverErrorDelayMs: this.s.serverErrorDelayMs,
      maxRetryAfterMs: this.s.maxRetryAfterMs,
      badNonceRetries: this.s.badNonceRetries,
    };
  }

  /** New key of the request's algorithm, order, challenges, finalize, download, verify (verify.ts). */
  private async obtain(
    req: AcmeRequest,
    session: AcmeSession,
    work: Work,
  ): Promise<VerifiedCertificate & { keyPem: string }> {
    const key = await generatePrivateKey(req.keyAlgorithm);
    const identifiers = orderIdentifiers(req.domain, req.address);
    const chainPem = await session.obtain(identifiers, key.key, this.responder());
    const anchors = [
      ...this.trust.anchors(this.box.caListPems().map((c) => c.pem)),
      ...parseAnchors(await this.fetchCaRoots(req.directoryUrl, work)),
    ];
    const verified = verifyIssuedCertificate({
      chainPem,
      keyPem: key.key,
      identifiers,
      anchors,
      nowMs: this.clock.now(),
    });
    return { ...verified, keyPem: key.privateKeyPem };
  }

  /** The CA's roots from settings.caRootUrls, over the same verified transport; failures only log (the CA list may suffice). */
  private async fetchCaRoots(directoryUrl: string, work: Work): Promise<string[]> {
    const urls = this.s.caRootUrls?.(directoryUrl) ?? [];
    const out: string[] = [];
    for (const url of urls) {
      try {
        const r = await work.transport.request(url, 'get');
        if (r.status === 200 && typeof r.data === 'string') out.push(r.data);
        else this.log.warn('CA root not fetched', { url, status: r.status });
      } catch (e) {
        this.log.warn('CA root not fetched', { url, err: messageOf(e) });
      }
    }
    return out;
  }

  /** Answers challenges through box.challenges: http-01 tokens, tls-alpn-01 certificates. */
  private responder(): ChallengeResponder {
    const challenges = this.box.challenges;
    return {
      types: () => this.s.challengeTypes.filter((t) => challenges.responders[t]),
      revalidate: () => challenges.revalidate,
      present: async (c: ChallengeToAnswer) => {
        if (c.type === 'http-01') {
          challenges.set(c.token, c.keyAuthorization);
          return;
        }
        const key = await generateKeyPair('prime256v1');
        const certPem = await createTlsAlpnCertificate(c.identifier, c.keyAuthorization, key.privateKeyPem);
        challenges.setAlpnCertificate(c.identifier.value, { certPem, keyPem: key.privateKeyPem });
      },
      remove: (c: ChallengeToAnswer) => {
        if (c.type === 'http-01') challenges.delete(c.token);
        else challenges.deleteAlpnCertificate(c.identifier.value);
      },
    };
  }

  // ------------------------------------------------------------------ helpers

  /** The renewal moment of the stored certificate, anchored on the box clock at its install. */
  private momentOf(i: AcmeIssued): number {
    return anchoredRenewalMoment(installedCertificate(i));
  }

  /** A one-line reason for the status, naming the CA to add when the server's TLS is not trusted. */
  private reason(e: unknown, work: Work): string {
    if (work.abort.signal.aborted) return 'cancelled';
    if (isTrustFailure(e))
      return `the ACME server's TLS certificate is not trusted by the CA list (${e.code})`;
    return messageOf(e);
  }

  private emit<
    K extends
      | 'certificate-issued'
      | 'certificate-renewal-failed'
      | 'certificate-revoked'
      | 'certificate-cleared'
      | 'certificate-renewed',
  >(
    event: K,
    issued: AcmeIssued,
    serial: string,
    extra: Omit<DeviceEvents[K], keyof CertificateEvent> & { reason?: string } = {} as never,
  ): void {
    const payload = {
      boxId: this.box.boxId,
      hostname: this.box.hostname,
      domain: issued.domain,
      serial,
      expiresMs: issued.expiresMs,
      ...extra,
    } as DeviceEvents[K];
    this.box.events.emit(event, payload);
  }
}

function clipReason(s: string): string {
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > MAX_REASON ? one.slice(0, MAX_REASON - 3) + '...' : one;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
