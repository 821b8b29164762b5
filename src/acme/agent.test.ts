/**
 * The agent's schedule on a fake clock: resume() from the stored
 * certificate, failed auto-renewals retried on the backoff table until
 * expiry while the certificate keeps serving, a renewal that falls due while
 * the box is busy, clear and stop. The CA is an address where nothing
 * listens, so every attempt fails fast (the happy paths run against Pebble
 * in test/integration/).
 */
import t from 'tap';
import { Box } from '../device/box.js';
import type { DeviceEvents } from '../device/events.js';
import type { AcmeIssued } from '../device/model.js';
import { ManualClock } from '../lib/clock.js';
import { silentLogger } from '../lib/logger.js';
import { generateKeyPair } from '../pki/keys.js';
import { createSelfSigned } from '../pki/self-signed.js';
import { ADMIN, makeTestBox, acmePortOf } from '../../test/harness/boxes.js';
import { renderAcmeInfo } from '../cli/commands/acme.js';
import { AcmeAgent } from './agent.js';
import { freePort } from '../lib/net.js';
import { DAY_MS, MINUTE_MS, renewalMoment, SECOND_MS } from './scheduler.js';

const T0 = Date.UTC(2026, 5, 1);

async function setup(o: { lifetimeMs?: number; patch?: Partial<AcmeIssued> } = {}) {
  const clock = new ManualClock(T0);
  const { box } = await makeTestBox({ clock, address: '127.0.0.1' });
  box.addNameServer(ADMIN, '127.0.0.1');
  const directoryUrl = `https://127.0.0.1:${await freePort()}/dir`;
  const key = await generateKeyPair('prime256v1');
  const lifetimeMs = o.lifetimeMs ?? 90 * DAY_MS;
  const certPem = await createSelfSigned({
    privateKeyPem: key.privateKeyPem,
    keyAlgorithm: 'prime256v1',
    commonName: 'box1.lab.test',
    altNames: ['box1.lab.test'],
    notBeforeMs: T0,
    validDays: lifetimeMs / DAY_MS,
  });
  const issued: AcmeIssued = {
    domain: 'box1.lab.test',
    directoryUrl,
    keyAlgorithm: 'prime256v1',
    certName: 'acme-https.crt',
    firstIssuedMs: T0,
    notBeforeMs: T0,
    expiresMs: T0 + lifetimeMs,
    serial: 'AB01',
    renewDays: null,
    nextRenewalMs: 0,
    lastSuccessfulRenewalMs: null,
    lastFailedRenewalMs: null,
    lastFailureReason: null,
    failedAttempts: 0,
    ...o.patch,
  };
  await acmePortOf(box).installAcmeCertificate(certPem, key.privateKeyPem, issued);
  const agent = new AcmeAgent({
    port: acmePortOf(box),
    clock,
    logger: silentLogger,
    settings: { requestTimeoutMs: 2000 },
  });
  box.attachAcme(agent);
  t.teardown(() => agent.stop());
  return { clock, box, agent, issued };
}

function next<K extends keyof DeviceEvents>(box: Box, event: K): Promise<DeviceEvents[K]> {
  return new Promise((resolve) => {
    const off = box.events.on(event, (p) => {
      off();
      resolve(p);
    });
  });
}

t.test('resume() arms the timer at the renewal moment computed from the stored certificate', async (t) => {
  const { agent, box, issued } = await setup();
  agent.resume();
  const moment = renewalMoment(issued.notBeforeMs, issued.expiresMs, null, issued.notBeforeMs);
  t.equal(moment, T0 + 60 * DAY_MS);
  t.equal(agent.nextWakeMs, moment);
  await box.flush();
  t.equal(box.acmeState().issued!.nextRenewalMs, moment, 'and stores it');
});

t.test('failed auto-renewals: the certificate keeps serving, retries follow the backoff table', async (t) => {
  const { agent, box, clock, issued } = await setup();
  agent.resume();
  const served = box.webCredentials().certPem;
  clock.advance(60 * DAY_MS);
  const waits: number[] = [];
  for (let i = 1; i <= 4; i++) {
    const failed = next(box, 'certificate-renewal-failed');
    clock.advance(0);
    const ev = await failed;
    await agent.idle();
    const s = box.acmeState();
    t.match(ev, {
      serial: issued.serial,
      domain: 'box1.lab.test',
      reason: /Cannot reach the ACME server .*ECONNREFUSED/,
    });
    t.match(s.lastRequest, { type: 'Auto-Renew', status: 'Failed', reason: /ECONNREFUSED/ });
    t.match(s.issued, {
      failedAttempts: i,
      lastFailedRenewalMs: clock.now(),
      lastFailureReason: /ECONNREFUSED/,
    });
    t.equal(box.webCredentials().certPem, served, 'the current certificate keeps serving');
    waits.push(s.issued!.nextRenewalMs! - clock.now());
    t.equal(agent.nextWakeMs, s.issued!.nextRenewalMs!);
    clock.advance(s.issued!.nextRenewalMs! - clock.now() - 1);
    t.equal(box.acmeState().issued!.failedAttempts, i, 'nothing before the retry moment');
    clock.advance(1);
  }
  t.same(
    waits,
    [1, 2, 5, 10].map((m) => m * MINUTE_MS),
    'minutes at first, growing',
  );
});

t.test('retries stop at the last chance before expiry', async (t) => {
  const { agent, box, clock, issued } = await setup({ patch: { failedAttempts: 9 } });
  // Stored mid-backoff, 3 h before expiry: the 6 h step is pulled in to 1 min before expiry.
  const stored = issued.expiresMs - 3 * 60 * MINUTE_MS;
  await acmePortOf(box).updateAcmeIssued({ nextRenewalMs: stored });
  clock.jumpTo(stored);
  agent.resume();
  t.equal(agent.nextWakeMs, stored, 'while failing, resume keeps the stored retry moment');
  let failed = next(box, 'certificate-renewal-failed');
  clock.advance(0);
  await failed;
  await agent.idle();
  t.equal(box.acmeState().issued!.nextRenewalMs, issued.expiresMs - MINUTE_MS, 'the last chance');
  failed = next(box, 'certificate-renewal-failed');
  clock.advance(issued.expiresMs - MINUTE_MS - clock.now());
  await failed;
  await agent.idle();
  t.equal(agent.nextWakeMs, undefined, 'no retry after the last chance');
  t.equal(box.acmeState().issued!.failedAttempts, 11);
  t.equal(box.acmeState().issued!.nextRenewalMs, null, 'no renewal planned is stored as such');
  t.match(renderAcmeInfo(box).join('\n') + '\n', /Next Renewal\s+: n\/a\n/, 'and shown as n/a');
  agent.resume();
  t.equal(agent.nextWakeMs, undefined, 'a later boot plans none either');
});

t.test('a renewal that falls due while another operation runs waits and tries again', async (t) => {
  const { agent, box, clock } = await setup();
  agent.resume();
  await acmePortOf(box).acmeBegin('Revoke', 'box1.lab.test', 'https://x/dir');
  clock.advance(60 * DAY_MS);
  t.equal(agent.nextWakeMs, clock.now() + MINUTE_MS, 're-armed after busyRetryMs');
  t.match(
    box.acmeState().lastRequest,
    { type: 'Revoke', status: 'In Progress' },
    'the running operation is untouched',
  );
});

t.test('stop() writes nothing: an interrupted renewal stays In Progress for the next boot', async (t) => {
  const { agent, box, clock } = await setup();
  agent.resume();
  clock.advance(60 * DAY_MS);
  await new Promise((r) => setImmediate(r));
  t.match(box.acmeState().lastRequest, { type: 'Auto-Renew', status: 'In Progress' });
  agent.stop();
  await agent.idle();
  t.match(box.acmeState().lastRequest, { type: 'Auto-Renew', status: 'In Progress' });
  t.equal(box.acmeState().issued!.failedAttempts, 0, 'no failure recorded');
  t.equal(agent.nextWakeMs, undefined);
  await t.rejects(
    agent.start({
      type: 'Renew',
      domain: 'box1.lab.test',
      directoryUrl: 'https://x/dir',
      keyAlgorithm: 'prime256v1',
      renewDays: null,
    }),
    { code: 'unsupported' },
  );
});

t.test('clear cancels the timer, removes the certificate, emits certificate-cleared', async (t) => {
  const { agent, box, issued } = await setup();
  agent.resume();
  const cleared = next(box, 'certificate-cleared');
  await box.acmeClear(ADMIN);
  t.match(await cleared, {
    serial: issued.serial,
    domain: 'box1.lab.test',
    reason: 'cleared by the operator',
  });
  t.equal(agent.nextWakeMs, undefined);
  t.match(box.acmeState(), { issued: null, lastRequest: { type: 'Clear', status: 'Success' } });
  t.equal(box.webCertificateName, 'default-cert');
});

t.test(
  'a certificate installed while the box clock ran 84 d ahead of its CA is not due at once',
  async (t) => {
    // Stored as the agent stores a certificate it got while `lab time advance 84d --keep` held the clock ahead.
    const ahead = 84 * DAY_MS;
    const { agent, box, clock } = await setup({ patch: { firstIssuedMs: T0 + ahead } });
    clock.jumpTo(T0 + ahead + MINUTE_MS);
    agent.resume();
    t.equal(agent.nextWakeMs, T0 + ahead + 60 * DAY_MS, 'renewal 60 d of box time after the install');
    clock.advance(10 * MINUTE_MS);
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    await agent.idle();
    t.equal(box.acmeState().lastRequest, null, 'no renewal started in the next 10 minutes');
  },
);

t.test('auto-renewals are rate-limited per box: at most one a minute of real time', async (t) => {
  // A retry table of 1 s stands for anything that makes a renewal due again at once.
  const { agent, box, clock } = await setup();
  const fast = new AcmeAgent({
    port: acmePortOf(box),
    clock,
    logger: silentLogger,
    settings: { requestTimeoutMs: 2000, renewalRetryDelaysMs: [SECOND_MS] },
  });
  agent.stop();
  box.attachAcme(fast);
  t.teardown(() => fast.stop());
  fast.resume();
  const starts: number[] = [];
  box.events.on('acme-request-finished', (e) => starts.push(e.request.startedMs));
  clock.advance(60 * DAY_MS);
  for (let s = 0; s < 5 * 60; s++) {
    await new Promise((r) => setImmediate(r));
    await fast.idle();
    clock.advance(SECOND_MS);
  }
  await fast.idle();
  t.ok(
    starts.length >= 4 && starts.length <= 6,
    `about one attempt a minute over 5 minutes (${starts.length})`,
  );
  const gaps = starts.slice(1).map((s, i) => s - starts[i]!);
  t.ok(
    gaps.every((g) => g >= MINUTE_MS),
    `a minute or more between attempts (${gaps.map((g) => g / 1000).join(', ')} s)`,
  );
});

t.test(
  'the clock comes back after an advance: the failed renewal and its retry come back with it',
  async (t) => {
    // `lab time advance 61d` (no --keep): the renewal falls due, fails at once, then the box returns to real time.
    const { agent, box, clock } = await setup();
    agent.resume();
    const failed = next(box, 'certificate-renewal-failed');
    clock.jumpTo(T0 + 61 * DAY_MS);
    clock.advance(0);
    await failed;
    await agent.idle();
    t.equal(box.acmeState().issued!.lastFailedRenewalMs, T0 + 61 * DAY_MS, 'failed while ahead');
    clock.jumpTo(T0 + 20);
    await new Promise((r) => setImmediate(r));
    await box.flush();
    await agent.idle();
    const s = box.acmeState();
    const now = clock.now();
    t.ok(s.issued!.lastFailedRenewalMs! <= now, 'Last Failed Renewal is not in the future');
    t.equal(
      s.issued!.nextRenewalMs,
      s.issued!.lastFailedRenewalMs! + MINUTE_MS,
      'the retry: a minute after it',
    );
    t.equal(agent.nextWakeMs, s.issued!.nextRenewalMs, 'and armed there');
    t.ok(
      s.lastRequest!.startedMs <= now && s.lastRequest!.finishedMs! <= now,
      'the last request is not in the future',
    );
    t.match(
      renderAcmeInfo(box).join('\n'),
      new RegExp(`Last Failed Renewal\\s+: ${new Date(T0).toISOString().slice(0, 10).replace(/-/g, '/')}`),
      'show crypto acme client info shows today',
    );
    // That it then runs: the RenewalTimer tests (a fake clock's timers stay where a backward jump left them,
    // so the rate limit's real-time gap cannot be shown on it; the lab test does it on real time).
  },
);
