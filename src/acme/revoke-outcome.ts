/**
 * The revoke flow's outcomes (seeds/acme-certificates-page.txt: "The revoke
 * operation will internally perform a re-issue of new certificate first and
 * then it will initiate the revoke of old certificate. If the operation
 * fails, [the device] will fall back to default certificate."), as a pure
 * function of what happened, so each combination is one row of a table
 * test. The agent (agent.ts) runs the steps and acts on the answer.
 */
import type { RevocationReason } from '../device/ports.js';

/**
 * RFC 5280 §5.3.1 CRLReason of each reason an operator can give: the code
 * sent to the CA (RFC 8555 §7.6) and the name the certificate-revoked
 * notification carries. The one place the device's names become numbers.
 */
export const CRL_REASONS: Readonly<Record<RevocationReason, { code: number; name: string }>> = {
  superseded: { code: 4, name: 'superseded' },
  'key-compromise': { code: 1, name: 'keyCompromise' },
};

/** What happened in a revoke: each error is a one-line reason, undefined when the step succeeded. */
export interface RevokeSteps {
  /** Serial of the certificate being revoked (hex). */
  serial: string;
  /** Why the re-issue (new order, install) failed. */
  reissueError?: string | undefined;
  /** Why the revocation of the old certificate failed. */
  revokeError?: string | undefined;
}

/** What the box ends with. */
export interface RevokeOutcome {
  /** The certificate web serves: the re-issued one, or the default one (fallback). */
  web: 'new-certificate' | 'default-cert';
  /** Delete the old (revoked) ACME certificate and its record: it was revoked and nothing replaced it. */
  removeOldCertificate: boolean;
  /** Send certificate-revoked: the CA revoked the old certificate. */
  announceRevoked: boolean;
  status: 'Success' | 'Failed';
  /** The Failed reason `show crypto acme client info` prints; null on Success. */
  reason: string | null;
}

/** The outcome of a revoke from what its two steps did. Pure. */
export function revokeOutcome(s: RevokeSteps): RevokeOutcome {
  const reissued = s.reissueError === undefined;
  const revoked = s.revokeError === undefined;
  const web = reissued ? 'new-certificate' : 'default-cert';
  const base = { web, removeOldCertificate: revoked && !reissued, announceRevoked: revoked } as const;
  if (reissued && revoked) return { ...base, status: 'Success', reason: null };
  if (revoked) {
    return {
      ...base,
      status: 'Failed',
      reason: `re-issue failed (${s.reissueError}); serial ${s.serial} was revoked and web uses the default certificate`,
    };
  }
  if (reissued) {
    return {
      ...base,
      status: 'Failed',
      reason: `the new certificate is installed, but revoking serial ${s.serial} failed: ${s.revokeError}`,
    };
  }
  return {
    ...base,
    status: 'Failed',
    reason: `re-issue failed (${s.reissueError}) and revocation failed (${s.revokeError}); web uses the default certificate`,
  };
}
