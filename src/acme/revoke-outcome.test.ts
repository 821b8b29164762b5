// The revoke flow's outcomes, one row per combination of the two steps
// (seeds: re-issue first, then revoke the old one; on failure, fall back to
// the default certificate).
import t from 'tap';
import { CRL_REASONS, revokeOutcome, type RevokeOutcome, type RevokeSteps } from './revoke-outcome.js';

const rows: [string, Omit<RevokeSteps, 'serial'>, RevokeOutcome][] = [
  [
    're-issue ok, revoke ok',
    {},
    {
      web: 'new-certificate',
      removeOldCertificate: false,
      announceRevoked: true,
      status: 'Success',
      reason: null,
    },
  ],
  [
    're-issue ok, revoke failed',
    { revokeError: 'CA unreachable' },
    {
      web: 'new-certificate',
      removeOldCertificate: false,
      announceRevoked: false,
      status: 'Failed',
      reason: 'the new certificate is installed, but revoking serial 0A1B failed: CA unreachable',
    },
  ],
  [
    're-issue failed, revoke ok: fall back to the default certificate',
    { reissueError: 'challenge failed' },
    {
      web: 'default-cert',
      removeOldCertificate: true,
      announceRevoked: true,
      status: 'Failed',
      reason:
        're-issue failed (challenge failed); serial 0A1B was revoked and web uses the default certificate',
    },
  ],
  [
    're-issue failed, revoke failed: fall back to the default certificate',
    { reissueError: 'CA down', revokeError: 'CA down' },
    {
      web: 'default-cert',
      removeOldCertificate: false,
      announceRevoked: false,
      status: 'Failed',
      reason: 're-issue failed (CA down) and revocation failed (CA down); web uses the default certificate',
    },
  ],
];

for (const [name, steps, want] of rows) {
  t.test(name, async (t) => {
    t.same(revokeOutcome({ serial: '0A1B', ...steps }), want);
  });
}

t.test('reason names map to RFC 5280 codes once', async (t) => {
  t.same(CRL_REASONS.superseded, { code: 4, name: 'superseded' });
  t.same(CRL_REASONS['key-compromise'], { code: 1, name: 'keyCompromise' });
});
