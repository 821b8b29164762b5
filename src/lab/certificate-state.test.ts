/**
 * `lab status`'s certificate states, one row per case: a box whose renewal
 * fails inside its renew window is `renewal-failing` (it said `valid`),
 * one inside it with no failure is `expiring`, and a certificate installed
 * while the box clock ran ahead of its CA is judged on its anchored timeline.
 */
import t from 'tap';
import { DAY_MS } from '../acme/scheduler.js';
import type { AcmeIssued, AcmeRequestStatus } from '../device/model.js';
import { certificateState } from './certificate-state.js';

const T0 = Date.UTC(2026, 5, 1);
const issued = (p: Partial<AcmeIssued> = {}): AcmeIssued => ({
  domain: 'gigavue-1.lab.test',
  directoryUrl: 'https://ca/dir',
  keyAlgorithm: 'prime256v1',
  certName: 'acme-https.crt',
  firstIssuedMs: T0,
  notBeforeMs: T0,
  expiresMs: T0 + 90 * DAY_MS,
  serial: 'AB01',
  renewDays: null,
  nextRenewalMs: T0 + 60 * DAY_MS,
  lastSuccessfulRenewalMs: null,
  lastFailedRenewalMs: null,
  lastFailureReason: null,
  failedAttempts: 0,
  ...p,
});
const request = (
  type: AcmeRequestStatus['type'],
  status: AcmeRequestStatus['status'],
  reason: string | null = null,
) => ({
  domain: 'gigavue-1.lab.test',
  directoryUrl: 'https://ca/dir',
  type,
  status,
  reason,
  startedMs: T0,
  finishedMs: T0,
});
const FAILING = {
  failedAttempts: 3,
  lastFailedRenewalMs: T0 + 85 * DAY_MS,
  lastFailureReason: 'ECONNREFUSED',
};

const rows: {
  name: string;
  issued: AcmeIssued | null;
  req: AcmeRequestStatus | null;
  atDays: number;
  /** Why the lab's last operation never became a request. */
  notStarted?: string;
  want: ReturnType<typeof certificateState>;
}[] = [
  { name: 'nothing yet', issued: null, req: null, atDays: 0, want: { state: 'none' } },
  {
    name: 'an issue runs',
    issued: null,
    req: request('Issue', 'In Progress'),
    atDays: 0,
    want: { state: 'in-progress' },
  },
  {
    name: 'issue failed',
    issued: null,
    req: request('Issue', 'Failed', 'no DNS'),
    atDays: 0,
    want: { state: 'failed', reason: 'no DNS' },
  },
  {
    name: "the lab's issue never became a request (the CA silent, or its TLS refused): failed with why, not none",
    issued: null,
    req: null,
    atDays: 0,
    notStarted: 'the CA at https://127.0.0.1:14000 has answered nothing for 15 s; 700 boxes not started',
    want: {
      state: 'failed',
      reason: 'the CA at https://127.0.0.1:14000 has answered nothing for 15 s; 700 boxes not started',
    },
  },
  {
    name: 'not started after an earlier failed request: the newer reason',
    issued: null,
    req: request('Issue', 'Failed', 'no DNS'),
    atDays: 0,
    notStarted: 'CA silent',
    want: { state: 'failed', reason: 'CA silent' },
  },
  {
    name: 'a revoke not started keeps a valid certificate valid (the fleet result says why)',
    issued: issued(),
    req: request('Issue', 'Success'),
    atDays: 1,
    notStarted: 'CA silent',
    want: { state: 'valid' },
  },
  { name: 'fresh', issued: issued(), req: request('Issue', 'Success'), atDays: 1, want: { state: 'valid' } },
  {
    name: 'a day before the renew window',
    issued: issued(),
    req: null,
    atDays: 59,
    want: { state: 'valid' },
  },
  {
    name: 'in the window, not renewed',
    issued: issued(),
    req: null,
    atDays: 61,
    want: { state: 'expiring' },
  },
  {
    name: 'the issue: renewal failing, 5 days left',
    issued: issued(FAILING),
    req: request('Auto-Renew', 'Failed', 'ECONNREFUSED'),
    atDays: 85,
    want: { state: 'renewal-failing', reason: 'ECONNREFUSED' },
  },
  {
    name: 'a manual renew failed in the window',
    issued: issued(),
    req: request('Renew', 'Failed', 'CA said no'),
    atDays: 70,
    want: { state: 'renewal-failing', reason: 'CA said no' },
  },
  {
    name: 'a manual renew failed early: still valid',
    issued: issued(),
    req: request('Renew', 'Failed', 'x'),
    atDays: 10,
    want: { state: 'valid' },
  },
  { name: 'expired', issued: issued(FAILING), req: null, atDays: 91, want: { state: 'expired' } },
  {
    name: 'installed 84 d ahead of the CA (time advance --keep): valid on its anchored timeline',
    issued: issued({ firstIssuedMs: T0 + 84 * DAY_MS }),
    req: request('Auto-Renew', 'Success'),
    atDays: 95,
    want: { state: 'valid' },
  },
  {
    name: 'a renewal runs while failing',
    issued: issued(FAILING),
    req: request('Auto-Renew', 'In Progress'),
    atDays: 86,
    want: { state: 'in-progress' },
  },
];
for (const r of rows) {
  t.test(r.name, async (t) => {
    t.same(certificateState(r.issued, r.req, T0 + r.atDays * DAY_MS, r.notStarted), r.want);
  });
}
