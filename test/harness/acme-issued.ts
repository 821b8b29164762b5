/**
 * The ACME certificate record (AcmeIssued) the unit and integration tests
 * install on a box, with the fields every one of them spelt the same way
 * filled in once.
 */
import type { AcmeIssued } from '../../src/device/model.js';

/**
 * A record as the agent stores it after a first issue: the facts given; by
 * default a P-256 key, the certificate named acme-https.crt, valid from its
 * first issue (notBeforeMs = firstIssuedMs), the default renewal period
 * (renewDays null) and no renewal tried yet.
 */
export function acmeIssued(
  o: Pick<
    AcmeIssued,
    'domain' | 'directoryUrl' | 'firstIssuedMs' | 'expiresMs' | 'serial' | 'nextRenewalMs'
  > &
    Partial<AcmeIssued>,
): AcmeIssued {
  return {
    keyAlgorithm: 'prime256v1',
    certName: 'acme-https.crt',
    notBeforeMs: o.firstIssuedMs,
    renewDays: null,
    lastSuccessfulRenewalMs: null,
    lastFailedRenewalMs: null,
    lastFailureReason: null,
    failedAttempts: 0,
    ...o,
  };
}
