/**
 * The certificate state `lab status` (and its --json, the dashboard) shows
 * for a box, from its ACME record and last request on its own clock. Pure:
 * the table of cases is in certificate-state.test.ts.
 */
import { anchoredRenewalMoment, clockAheadShift, installedCertificate } from '../acme/scheduler.js';
import type { AcmeIssued, AcmeRequestStatus } from '../device/model.js';

/**
 * - none: no ACME certificate and no request;
 * - in-progress: a request runs;
 * - valid: a certificate, not yet in its renew window;
 * - expiring: in its renew window (a third of its lifetime left, or its
 *   renew-days) and not renewed yet, with no failure recorded;
 * - renewal-failing: in its renew window and its last renewal failed (the
 *   reason says why): it will expire unless the CA comes back;
 * - expired: past its expiry;
 * - failed: no certificate and the last request failed, or the lab's last
 *   operation never became a request (the CA refused at the TLS check, or
 *   silent: see Lab.fleet), with the reason;
 * - unknown: the box is not running (set by the lab).
 */
export type CertificateState =
  'none' | 'in-progress' | 'valid' | 'expiring' | 'renewal-failing' | 'expired' | 'failed' | 'unknown';

/**
 * The state of a box's certificate at `nowMs` (its clock), and the reason
 * for `failed` and `renewal-failing`. The renew window and the expiry are
 * the agent's (acme/scheduler.ts): a certificate installed while the box
 * clock ran ahead of its CA is judged on the same anchored timeline its
 * renewal is planned on, not as expired by the CA's dates.
 */
export function certificateState(
  issued: AcmeIssued | null,
  req: AcmeRequestStatus | null,
  nowMs: number,
  notStarted?: string,
): { state: CertificateState; reason?: string } {
  if (req?.status === 'In Progress') return { state: 'in-progress' };
  if (issued) {
    const c = installedCertificate(issued);
    if (issued.expiresMs + clockAheadShift(c) < nowMs) return { state: 'expired' };
    if (nowMs < anchoredRenewalMoment(c)) return { state: 'valid' };
    const lastFailed =
      req?.status === 'Failed' && (req.type === 'Renew' || req.type === 'Auto-Renew') ? req : undefined;
    if (issued.failedAttempts > 0 || lastFailed) {
      const reason = issued.lastFailureReason ?? lastFailed?.reason ?? undefined;
      return { state: 'renewal-failing', ...(reason ? { reason } : {}) };
    }
    return { state: 'expiring' };
  }
  // Newer than the last request (the box's next request clears it).
  if (notStarted !== undefined) return { state: 'failed', reason: notStarted };
  if (req?.status === 'Failed') return { state: 'failed', ...(req.reason ? { reason: req.reason } : {}) };
  return { state: 'none' };
}
