/**
 * ACME faults and refusals against a real Pebble: a CA that rejects half of
 * all nonces, a challenge nobody answers, an ACME server the CA list does not
 * trust (and trust that must not leak between boxes of one process), names
 * resolved only through the box's name server, every prerequisite message,
 * and a restart in the middle of an issue.
 *
 * Boxes use loopback addresses 127.0.0.31-49 and share one http port (the
 * port both Pebbles' VAs dial).
 */
import t from 'tap';
import { ConnectFaults } from '../../src/lib/connect-faults.js';
import { FaultBoard } from '../../src/lab/faults.js';
import { freePort } from '../../src/lib/net.js';
import type { Box } from '../../src/device/box.js';
import { ADMIN, OPERATOR, acmePortOf } from '../harness/boxes.js';
import { startAcmeBox, startPebble, type AcmeBox } from '../harness/pebble.js';

const HTTP_PORT = await freePort('127.0.0.31');
const pebble = await startPebble({ httpPort: HTTP_PORT });
t.teardown(() => pebble.stop());

let nextAddress = 31;
/** A box on its own loopback address, stopped at the end of the test. */
async function box(
  t: { teardown(fn: () => unknown): void },
  o: Omit<Parameters<typeof startAcmeBox>[1], 'address' | 'httpPort'> = {},
  p = pebble,
): Promise<AcmeBox & { address: string }> {
  const address = `127.0.0.${nextAddress++}`;
  const ab = await startAcmeBox(p, { address, httpPort: HTTP_PORT, ...o });
  t.teardown(() => ab.stop());
  return { ...ab, address };
}

t.test(
  'a CA that rejects 50 % of nonces (PEBBLE_WFE_NONCEREJECT=50): issue and renew still succeed',
  async (t) => {
    const rejecting = await startPebble({ httpPort: HTTP_PORT, nonceRejectPercent: 50 });
    t.teardown(() => rejecting.stop());
    const { box: b, agent, address, served } = await box(t, {}, rejecting);
    await b.acmeIssue(ADMIN, { domain: address, directoryUrl: rejecting.directoryUrl });
    await agent.idle();
    t.match(b.acmeState().lastRequest, { type: 'Issue', status: 'Success', reason: null });
    const first = b.acmeState().issued!.serial;
    await b.acmeRenew(ADMIN, address);
    await agent.idle();
    t.match(b.acmeState().lastRequest, { type: 'Renew', status: 'Success', reason: null });
    t.not(b.acmeState().issued!.serial, first);
    t.equal((await served()).serial, b.acmeState().issued!.serial);
    t.match(rejecting.log(), /reject 50% of good nonces/, 'Pebble really rejected nonces');
  },
);

t.test(
  "an authorization the CA reuses (PEBBLE_AUTHZREUSE=100) is skipped: no challenge answered; under the lab's challenge-wrong it is not",
  async (t) => {
    const reusing = await startPebble({ httpPort: HTTP_PORT, authzReusePercent: 100 });
    t.teardown(() => reusing.stop());
    const { box: b, agent, address } = await box(t, {}, reusing);
    const served: string[] = [];
    const set = b.challenges.set.bind(b.challenges);
    b.challenges.set = (token, keyAuthorization) => {
      served.push(token);
      set(token, keyAuthorization);
    };
    await b.acmeIssue(ADMIN, { domain: address, directoryUrl: reusing.directoryUrl });
    await agent.idle();
    t.equal(served.length, 1, 'the first order needs a challenge');
    await b.acmeRenew(ADMIN, address);
    await agent.idle();
    t.match(b.acmeState().lastRequest, { type: 'Renew', status: 'Success' });
    t.equal(served.length, 1, 'the renewal reused the valid authorization');

    // The lab's challenge-wrong fault must fail the renewal all the same: the box deactivates the
    // reused authorization and orders again, so that the CA asks a challenge the fault answers wrongly.
    const faults = new FaultBoard(
      () => new ConnectFaults(),
      () => b,
    );
    const wrongAnswers = () => faults.list([b.boxId]).find((f) => f.fault === 'challenge-wrong')!.count;
    const renewed = b.acmeState().issued!.serial;
    faults.set(b.boxId, 'challenge-wrong', true);
    await b.acmeRenew(ADMIN, address);
    await agent.idle();
    t.match(b.acmeState().lastRequest, {
      type: 'Renew',
      status: 'Failed',
      reason: /^http-01 challenge for .* failed: .*key authorization/,
    });
    t.equal(served.length, 2, 'a challenge was asked although the CA reuses authorizations');
    t.ok(wrongAnswers() > 0, 'wrong answers served and counted');
    t.equal(b.acmeState().issued!.serial, renewed, 'the certificate is kept');
    t.match(reusing.log(), /authz \S+ set INVALID/, "Pebble's VA refused the answer");

    faults.set(b.boxId, 'challenge-wrong', false);
    await b.acmeRenew(ADMIN, address);
    await agent.idle();
    t.match(b.acmeState().lastRequest, { type: 'Renew', status: 'Success' });
    // The fault deactivated the one valid authorization, so the CA asks again, and the right answer passes.
    t.equal(served.length, 3, 'off again: one challenge, answered right');
  },
);

t.test(
  'a challenge that cannot be reached: Failed with the reason, nothing installed, no token left',
  async (t) => {
    // No web server: nothing answers on the box's http port.
    const { box: b, agent, address } = await box(t, { web: false });
    await b.acmeIssue(ADMIN, { domain: address, directoryUrl: pebble.directoryUrl });
    await agent.idle();
    t.match(b.acmeState().lastRequest, {
      type: 'Issue',
      status: 'Failed',
      reason: new RegExp(
        `^http-01 challenge for ${address.replace(/\./g, '\\.')} failed: .*(refused|connect)`,
        'i',
      ),
    });
    t.equal(b.acmeState().issued, null);
    t.equal(b.webCertificateName, 'default-cert');
    t.equal(b.challenges.size, 0);
  },
);

t.test(
  "a dropped path to the CA (the lab's acme-drop): the box times out, never a reset; counted; off again it issues",
  async (t) => {
    const faults = new ConnectFaults();
    const {
      box: b,
      agent,
      address,
    } = await box(t, {
      faults,
      settings: { requestTimeoutMs: 500, dnsTimeoutMs: 300 },
    });
    faults.setDrop(true);
    await t.rejects(b.acmeIssue(ADMIN, { domain: address, directoryUrl: pebble.directoryUrl }), {
      code: 'precondition',
      message: /Cannot reach the ACME server .*: no answer from 127\.0\.0\.1:\d+ within 500 ms\.$/,
    });
    t.ok(faults.counters.dropped >= 1, 'counted');
    t.equal(faults.counters.refused, 0, 'nothing was reset');
    t.equal(b.acmeState().lastRequest, null, 'nothing started');
    faults.setDrop(false);
    await b.acmeIssue(ADMIN, { domain: address, directoryUrl: pebble.directoryUrl });
    await agent.idle();
    t.match(b.acmeState().lastRequest, { type: 'Issue', status: 'Success' });
  },
);

t.test('an untrusted ACME server certificate is refused, naming the CA to add to the CA list', async (t) => {
  const { box: b } = await box(t, { trustListenerCa: false });
  await t.rejects(b.acmeIssue(ADMIN, { domain: 'a.lab.test', directoryUrl: pebble.directoryUrl }), {
    code: 'precondition',
    message: new RegExp(
      `not trusted by the CA list \\(UNABLE_TO_VERIFY_LEAF_SIGNATURE\\)\\. The CA list is empty\\. Add the root certificate "${pebble.listenerCaName}": .*"crypto certificate ca-list default-ca-list name <name>"`,
    ),
  });
  t.equal(b.acmeState().lastRequest, null, 'nothing started');
  // A CA list with another CA (Pebble's issuing root) does not help either.
  await b.addPublicCertificate(ADMIN, 'pebble-root', await pebble.root());
  await b.addCaListEntry(ADMIN, 'pebble-root');
  await t.rejects(b.acmeIssue(ADMIN, { domain: 'a.lab.test', directoryUrl: pebble.directoryUrl }), {
    code: 'precondition',
    message: new RegExp(`not trusted by the CA list .*Add the root certificate "${pebble.listenerCaName}"`),
  });
  t.equal(b.acmeState().lastRequest, null);
});

t.test(
  "a host name the server's certificate does not name is refused (resolved through the box's name server)",
  async (t) => {
    const { box: b } = await box(t);
    await t.rejects(
      b.acmeIssue(ADMIN, { domain: 'a.lab.test', directoryUrl: pebble.directoryUrlFor('other.lab.test') }),
      {
        code: 'precondition',
        message: /certificate does not name other\.lab\.test \(ERR_TLS_CERT_ALTNAME_INVALID\)/,
      },
    );
  },
);

t.test(
  'trust is per box: box A trusts Pebble, box B does not; concurrently, B is refused while A succeeds',
  async (t) => {
    const a = await box(t);
    const b = await box(t, { trustListenerCa: false });
    const c = await box(t);
    const issue = (x: AcmeBox & { address: string }) =>
      x.box.acmeIssue(ADMIN, { domain: x.address, directoryUrl: pebble.directoryUrl });
    const [ra, rb, rc] = await Promise.allSettled([issue(a), issue(b), issue(c)]);
    t.equal(ra.status, 'fulfilled', 'A started');
    t.equal(rc.status, 'fulfilled', 'C started');
    t.match(
      rb,
      { status: 'rejected', reason: { code: 'precondition', message: /not trusted by the CA list/ } },
      'B refused',
    );
    await Promise.all([a.agent.idle(), c.agent.idle()]);
    t.match(a.box.acmeState().lastRequest, { status: 'Success' });
    t.match(c.box.acmeState().lastRequest, { status: 'Success' });
    // After A's success (and with A's connections still fresh), B is still refused, and still during A's renewal.
    const [rb2] = await Promise.allSettled([issue(b), a.box.acmeRenew(ADMIN, a.address)]);
    t.match(rb2, { status: 'rejected', reason: { code: 'precondition', message: /not trusted/ } });
    await a.agent.idle();
    t.match(a.box.acmeState().lastRequest, { type: 'Renew', status: 'Success' });
    t.equal(b.box.acmeState().lastRequest, null, 'B never started anything');
  },
);

t.test("names are resolved only through the box's name server", async (t) => {
  // A name server that does not answer: even "localhost" (which the host resolves) fails.
  const dead = `127.0.0.1:${await freePort('127.0.0.1', 'both')}`;
  const { box: b } = await box(t, { nameServer: dead, settings: { dnsTimeoutMs: 300 } });
  await t.rejects(
    b.acmeIssue(ADMIN, { domain: '127.0.0.1', directoryUrl: pebble.directoryUrlFor('localhost') }),
    {
      code: 'precondition',
      message: new RegExp(
        `Cannot resolve the ACME server: cannot resolve localhost through the box's name server\\(s\\) ${dead}`,
      ),
    },
  );
  // The same box with the mock DNS as its name server reaches Pebble by name and checks the domain.
  b.removeNameServer(ADMIN, dead);
  b.addNameServer(ADMIN, pebble.dnsServer);
  await b.acmeIssue(ADMIN, {
    domain: 'by-name.lab.test',
    directoryUrl: pebble.directoryUrlFor('pebble.lab.test'),
  });
  t.match(b.acmeState().lastRequest, { status: 'In Progress' });
});

t.test('every prerequisite message (box.acme* as admin)', async (t) => {
  const ready = await box(t, { cryptoMode: 'classic' });
  const url = pebble.directoryUrl;
  const rows: {
    name: string;
    run: (b: Box) => Promise<unknown>;
    code: string;
    message: RegExp;
    on?: () => Promise<AcmeBox>;
  }[] = [
    {
      name: 'operator may not issue',
      run: (b) => b.acmeIssue(OPERATOR, { domain: 'x.lab.test', directoryUrl: url }),
      code: 'permission-denied',
      message: /^Permission denied\.$/,
    },
    {
      name: 'firmware below 5.13.01',
      on: () => box(t, { firmware: '5.13.00' }),
      run: (b) => b.acmeIssue(ADMIN, { domain: 'x.lab.test', directoryUrl: url }),
      code: 'unsupported',
      message: /^ACME needs firmware 5\.13\.01 or later; this box runs 5\.13\.00/,
    },
    {
      name: 'no name server',
      on: () => box(t, { nameServer: null }),
      run: (b) => b.acmeIssue(ADMIN, { domain: 'x.lab.test', directoryUrl: url }),
      code: 'precondition',
      message: /^No name server configured; add one with "ip name-server <ip>"/,
    },
    {
      name: 'key algorithm not allowed in classic mode',
      run: (b) => b.acmeIssue(ADMIN, { domain: 'x.lab.test', directoryUrl: url, keyAlgorithm: 'prime256v1' }),
      code: 'bad-input',
      message: /^Key algorithm prime256v1 is not allowed in classic mode; use rsa-2048 or rsa-4096\.$/,
    },
    {
      name: 'key algorithm not allowed in secure-crypto mode',
      on: () => box(t, { cryptoMode: 'secure-crypto' }),
      run: (b) => b.acmeIssue(ADMIN, { domain: 'x.lab.test', directoryUrl: url, keyAlgorithm: 'rsa-4096' }),
      code: 'bad-input',
      message: /not allowed in secure-crypto mode; use prime256v1 or secp384r1/,
    },
    {
      name: 'more than one domain',
      run: (b) => b.acmeIssue(ADMIN, { domain: 'a.lab.test,b.lab.test', directoryUrl: url }),
      code: 'bad-input',
      message: /^Only one domain is allowed/,
    },
    {
      name: 'a wildcard',
      run: (b) => b.acmeIssue(ADMIN, { domain: '*.lab.test', directoryUrl: url }),
      code: 'bad-input',
      message: /^Wildcard domain/,
    },
    {
      name: 'renew-days 0',
      run: (b) => b.acmeIssue(ADMIN, { domain: 'x.lab.test', directoryUrl: url, renewDays: 0 }),
      code: 'bad-input',
      message: /^Invalid renew-days "0": give a whole number from 1 to 365\.$/,
    },
    {
      name: 'renew-days 366',
      run: (b) => b.acmeIssue(ADMIN, { domain: 'x.lab.test', directoryUrl: url, renewDays: 366 }),
      code: 'bad-input',
      message: /^Invalid renew-days "366"/,
    },
    {
      name: 'a directory that is not https',
      run: (b) => b.acmeIssue(ADMIN, { domain: 'x.lab.test', directoryUrl: url.replace('https:', 'http:') }),
      code: 'bad-input',
      message: /must be an https:\/\/ URL/,
    },
    {
      name: 'an unreachable ACME server',
      run: async (b) =>
        b.acmeIssue(ADMIN, {
          domain: 'x.lab.test',
          directoryUrl: `https://127.0.0.1:${await freePort()}/dir`,
        }),
      code: 'precondition',
      message:
        /^Cannot reach the ACME server https:\/\/127\.0\.0\.1:\d+\/dir: cannot connect to 127\.0\.0\.1:\d+ \(ECONNREFUSED\)\.$/,
    },
    {
      name: 'a URL that is not an ACME directory',
      run: (b) =>
        b.acmeIssue(ADMIN, { domain: 'x.lab.test', directoryUrl: url.replace('/dir', '/nothing-here') }),
      code: 'precondition',
      message: /is not an ACME directory \(HTTP 404\)/,
    },
    {
      name: 'a domain that does not resolve',
      on: () => box(t, { cryptoMode: 'classic', settings: { dnsTimeoutMs: 300 } }),
      run: async (b) => {
        b.removeNameServer(ADMIN, pebble.dnsServer);
        b.addNameServer(ADMIN, `127.0.0.1:${await freePort('127.0.0.1', 'both')}`);
        return b.acmeIssue(ADMIN, { domain: 'x.lab.test', directoryUrl: url });
      },
      code: 'precondition',
      message: /^Domain x\.lab\.test does not resolve through the box's name server\(s\)/,
    },
    {
      name: 'renew without an ACME certificate',
      run: (b) => b.acmeRenew(ADMIN, 'x.lab.test'),
      code: 'precondition',
      message: /^No ACME issued certificate to renew; issue one first\.$/,
    },
    {
      name: 'revoke without an ACME certificate',
      run: (b) => b.acmeRevoke(ADMIN, 'x.lab.test'),
      code: 'precondition',
      message: /^No ACME issued certificate to revoke/,
    },
    {
      name: 'clear without an ACME certificate',
      run: (b) => b.acmeClear(ADMIN),
      code: 'precondition',
      message: /^No ACME issued certificate to clear\.$/,
    },
  ];
  for (const r of rows) {
    const target = r.on ? await r.on() : ready;
    const before = target.box.acmeState().lastRequest;
    await t.rejects(r.run(target.box), { code: r.code, message: r.message }, r.name);
    t.same(target.box.acmeState().lastRequest, before, `${r.name}: nothing started`);
  }

  // With a certificate: another domain, and an operation already running.
  const { box: b, agent, address } = ready;
  await b.acmeIssue(ADMIN, { domain: address, directoryUrl: url });
  await t.rejects(
    b.acmeIssue(ADMIN, { domain: address, directoryUrl: url }),
    {
      code: 'busy',
      message:
        /^An ACME issue is already in progress on box 1; wait for it \("show crypto acme client info box-id 1"\)\.$/,
    },
    'busy: issue',
  );
  await agent.idle();
  t.match(b.acmeState().lastRequest, { status: 'Success' });
  await t.rejects(
    b.acmeRenew(ADMIN, 'other.lab.test'),
    {
      code: 'bad-input',
      message: /^Domain "other\.lab\.test" does not match the ACME certificate's domain "127\.0\.0\.\d+"\.$/,
    },
    'renew: another domain',
  );
  await t.rejects(
    b.acmeRevoke(ADMIN, 'other.lab.test'),
    { code: 'bad-input', message: /does not match/ },
    'revoke: another domain',
  );
  await b.acmeRenew(ADMIN, address);
  await t.rejects(
    b.acmeRevoke(ADMIN, address),
    { code: 'busy', message: /An ACME renew is already in progress/ },
    'busy: revoke while renewing',
  );
  await t.rejects(
    b.acmeClear(ADMIN),
    { code: 'busy', message: /An ACME renew is already in progress/ },
    'busy: clear while renewing',
  );
  await agent.idle();
  await t.rejects(
    b.setWebCertificate(ADMIN, 'default-cert'),
    { code: 'in-use', message: /clear it first with "crypto certificate acme clear"/ },
    'web certificate locked while ACME is on web',
  );
});

t.test(
  'revoke whose re-issue fails: web goes to the default certificate, the old one is still revoked and deleted',
  async (t) => {
    const { box: b, agent, address, served } = await box(t);
    const defaultSerial = (await served()).serial;
    await b.acmeIssue(ADMIN, { domain: address, directoryUrl: pebble.directoryUrl });
    await agent.idle();
    const issued = b.acmeState().issued!;
    // The box can no longer answer any challenge: the re-issue must fail.
    b.challenges.responders['http-01'] = false;
    b.challenges.responders['tls-alpn-01'] = false;
    const revoked = new Promise((r) => b.events.on('certificate-revoked', r));
    await b.acmeRevoke(ADMIN, address);
    await agent.idle();
    t.match(b.acmeState().lastRequest, {
      type: 'Revoke',
      status: 'Failed',
      reason: new RegExp(
        `^re-issue failed \\(.*box can answer only none\\); serial ${issued.serial} was revoked and web uses the default certificate$`,
      ),
    });
    t.match(await revoked, { serial: issued.serial, reason: 'superseded' });
    t.match(await pebble.certStatus(issued.serial), { Status: 'Revoked', Reason: 4 }, 'revoked at the CA');
    t.equal(b.webCertificateName, 'default-cert');
    t.equal((await served()).serial, defaultSerial, 'HTTPS serves the default certificate');
    t.equal(b.acmeState().issued, null, 'the revoked certificate is deleted');
    t.equal(acmePortOf(b).acmeCertificate(), undefined);
    t.equal(agent.nextWakeMs, undefined, 'no renewal of a revoked certificate');
  },
);

t.test(
  'a restart in the middle of an issue: "Failed: interrupted by restart", and the rebuilt box issues again',
  async (t) => {
    const first = await box(t);
    await first.box.acmeIssue(ADMIN, { domain: first.address, directoryUrl: pebble.directoryUrl });
    t.match(first.box.acmeState().lastRequest, { type: 'Issue', status: 'In Progress' });
    // The process dies: the agent stops without writing; the store still says In Progress.
    await first.stop();
    t.match((await first.store.load())!.acme.lastRequest, { status: 'In Progress' });

    const rebuilt = await startAcmeBox(pebble, {
      address: first.address,
      httpPort: HTTP_PORT,
      rebootFrom: first.store,
    });
    t.teardown(() => rebuilt.stop());
    t.match(rebuilt.box.acmeState().lastRequest, {
      type: 'Issue',
      status: 'Failed',
      reason: 'interrupted by restart',
    });
    t.equal(rebuilt.box.webCertificateName, 'default-cert');
    t.equal(rebuilt.agent.nextWakeMs, undefined, 'no certificate, no timer');

    await rebuilt.box.acmeIssue(ADMIN, { domain: first.address, directoryUrl: pebble.directoryUrl });
    await rebuilt.agent.idle();
    t.match(rebuilt.box.acmeState().lastRequest, { type: 'Issue', status: 'Success' });
    const issued = rebuilt.box.acmeState().issued!;

    // A second restart with a certificate: it keeps serving, and the timer comes back from the stored expiry.
    await rebuilt.stop();
    const again = await startAcmeBox(pebble, {
      address: first.address,
      httpPort: HTTP_PORT,
      rebootFrom: first.store,
    });
    t.teardown(() => again.stop());
    t.equal((await again.served()).serial, issued.serial, 'the certificate keeps serving');
    t.equal(again.agent.nextWakeMs, issued.nextRenewalMs, 'the renewal timer is recomputed');
    t.match(again.box.acmeState().lastRequest, { type: 'Issue', status: 'Success' });
  },
);
