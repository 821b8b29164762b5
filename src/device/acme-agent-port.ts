/**
 * What only the ACME agent may do to a box: mark requests In Progress and
 * finished, install, update and remove the ACME certificate, map web to the
 * default certificate, read the ACME certificate's key and the account keys.
 *
 * The port is a capability: Box.create() returns it beside the box, the
 * host hands it to the box's agent, and nothing else gets it. The Box
 * itself has none of these methods, so the CLI and the REST API, which hold
 * a Box, cannot reach them.
 */
import type { Box } from './box.js';
import { own, UNCHANGED, type BoxCore } from './box-core.js';
import { acmeBusy, busyError } from './box-acme.js';
import {
  ACME_CERT_NAME,
  DEFAULT_CERT_NAME,
  type AcmeAccountRecord,
  type AcmeIssued,
  type AcmeRequestStatus,
  type AcmeRequestType,
  type CertificateRecord,
} from './model.js';

export class AcmeAgentPort {
  /** The box this port acts on (its public surface: state, events, challenges). */
  readonly box: Box;
  readonly #core: BoxCore;

  /** Device-internal: Box.create() makes the one port of a box. */
  constructor(box: Box, core: BoxCore) {
    this.box = box;
    this.#core = core;
  }

  /** Record a new request as In Progress. Throws 'busy' if one runs (the agent's lock). */
  async acmeBegin(type: AcmeRequestType, domain: string, directoryUrl: string): Promise<void> {
    const core = this.#core;
    // The in-memory flag closes the window before the commit below lands (two callers at once).
    if (acmeBusy(core) || core.acmeStarting) throw busyError(core);
    core.acmeStarting = true;
    const req: AcmeRequestStatus = {
      domain,
      directoryUrl,
      type,
      status: 'In Progress',
      reason: null,
      startedMs: core.clock.now(),
      finishedMs: null,
    };
    try {
      await core.commit((d) => {
        d.acme.lastRequest = req;
      });
    } finally {
      core.acmeStarting = false;
    }
    core.events.emit('acme-request-started', { boxId: core.boxId, request: structuredClone(req) });
  }

  /**
   * Mark the running request Success or Failed (with a one-line reason) and
   * emit acme-request-finished. If the state cannot be written, the status
   * still changes in memory (see BoxCore.commit) and the storage error is thrown.
   */
  async acmeFinish(outcome: 'Success' | 'Failed', reason: string | null = null): Promise<void> {
    const core = this.#core;
    const cur = core.doc.acme.lastRequest;
    if (!cur) return;
    const done: AcmeRequestStatus = { ...cur, status: outcome, reason, finishedMs: core.clock.now() };
    try {
      await core.commit(
        (d) => {
          d.acme.lastRequest = done;
        },
        { keepInMemory: true },
      );
    } finally {
      core.events.emit('acme-request-finished', { boxId: core.boxId, request: done });
    }
  }

  /**
   * Store a new ACME certificate and key as acme-https.crt, map it to web and
   * update the issued record, in one write; then emit web-certificate-changed.
   *
   * With `succeed`, the same write also marks the running request Success
   * (one state write per certificate less than install + acmeFinish: each
   * write is a copy, a serialisation and an fsync), and after the web swap
   * `succeed` is called, then acme-request-finished is emitted, so that
   * listeners see the events in the order of the separate calls.
   */
  async installAcmeCertificate(
    certPem: string,
    keyPem: string,
    issued: AcmeIssued,
    succeed?: () => void,
  ): Promise<void> {
    const core = this.#core;
    const rec: CertificateRecord = {
      name: ACME_CERT_NAME,
      certPem,
      keyPem,
      origin: 'acme',
      addedAtMs: core.clock.now(),
    };
    let done: AcmeRequestStatus | undefined;
    await core.commit((d) => {
      d.crypto.certificates[ACME_CERT_NAME] = rec;
      d.crypto.webCert = ACME_CERT_NAME;
      d.acme.issued = issued;
      const cur = d.acme.lastRequest;
      if (succeed && cur) {
        done = { ...cur, status: 'Success', reason: null, finishedMs: core.clock.now() };
        d.acme.lastRequest = done;
      }
    });
    core.emitWebChange();
    if (succeed) {
      succeed();
      if (done) core.events.emit('acme-request-finished', { boxId: core.boxId, request: done });
    }
  }

  /** Update fields of the issued record (renewal schedule, failures). No-op without one. */
  async updateAcmeIssued(patch: Partial<AcmeIssued>): Promise<void> {
    if (!this.#core.doc.acme.issued) return;
    await this.#core.commit((d) => {
      if (!d.acme.issued) return UNCHANGED;
      Object.assign(d.acme.issued, patch);
    });
  }

  /**
   * The box clock went back by `-deltaMs` (a lab brings a box that it moved
   * ahead back to real time) and now reads `nowMs`: every ACME time stamped
   * while it was ahead (later than `nowMs`) moves back with it, so that no
   * "Last ..." time shows a future date. A failed renewal's retry moves with
   * the failure it follows (it stays the table's wait after it, not 61 real
   * days away). The renewal moment of a certificate is the agent's to
   * recompute from the moved install time. One write, none when nothing moved.
   */
  // EMULATION: ACME times stamped while a lab box's clock was ahead move back with it when it returns to real time.
  async moveBackAcmeTimes(nowMs: number, deltaMs: number): Promise<void> {
    if (!(deltaMs < 0)) return;
    const back = (ms: number): number => (ms > nowMs ? ms + deltaMs : ms);
    const backOrNull = (ms: number | null): number | null => (ms === null ? null : back(ms));
    await this.#core.commit((d) => {
      const before = JSON.stringify(d.acme);
      const i = d.acme.issued;
      if (i) {
        if (i.failedAttempts > 0 && i.lastFailedRenewalMs !== null && i.lastFailedRenewalMs > nowMs)
          i.nextRenewalMs = backOrNull(i.nextRenewalMs);
        i.firstIssuedMs = back(i.firstIssuedMs);
        i.lastSuccessfulRenewalMs = backOrNull(i.lastSuccessfulRenewalMs);
        i.lastFailedRenewalMs = backOrNull(i.lastFailedRenewalMs);
      }
      const r = d.acme.lastRequest;
      if (r) {
        r.startedMs = back(r.startedMs);
        r.finishedMs = backOrNull(r.finishedMs);
      }
      if (JSON.stringify(d.acme) === before) return UNCHANGED;
    });
  }

  /**
   * Remove the ACME certificate and key, map web to the default certificate
   * (clear, or a failed re-issue during revoke), in one write.
   */
  async removeAcmeCertificate(): Promise<void> {
    const core = this.#core;
    const wasOnWeb = core.doc.crypto.webCert === ACME_CERT_NAME;
    await core.commit((d) => {
      delete d.crypto.certificates[ACME_CERT_NAME];
      if (d.crypto.webCert === ACME_CERT_NAME) d.crypto.webCert = DEFAULT_CERT_NAME;
      d.acme.issued = null;
    });
    if (wasOnWeb) core.emitWebChange();
  }

  /** Keep the web on the default certificate but leave the issued record (revoke fallback keeps status). */
  async mapWebToDefault(): Promise<void> {
    await this.#core.commit((d) => {
      d.crypto.webCert = DEFAULT_CERT_NAME;
    });
    this.#core.emitWebChange();
  }

  /** The stored ACME certificate PEM and key, if any (secret). */
  acmeCertificate(): { certPem: string; keyPem: string } | undefined {
    const r = own(this.#core.doc.crypto.certificates, ACME_CERT_NAME);
    return r && r.keyPem ? { certPem: r.certPem, keyPem: r.keyPem } : undefined;
  }

  /** The account for a directory, if one was registered (its key is secret). */
  acmeAccount(directoryUrl: string): AcmeAccountRecord | undefined {
    return this.#core.doc.acme.accounts.find((a) => a.directoryUrl === directoryUrl);
  }

  /**
   * Create or replace the account record of a directory. It is current at
   * once and reaches the disk with the box's next state write: the end of the
   * running operation writes one, success or failure (one fsync per first
   * certificate less). A crash before that loses only the record: the next
   * operation registers a new account with the CA, as after a factory reset.
   */
  async saveAcmeAccount(rec: AcmeAccountRecord): Promise<void> {
    await this.#core.commit(
      (d) => {
        d.acme.accounts = [...d.acme.accounts.filter((a) => a.directoryUrl !== rec.directoryUrl), rec];
      },
      { write: false },
    );
  }
}
