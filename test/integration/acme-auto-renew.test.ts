/**
 * Auto-renewal against a real Pebble, on the real clock:
 * - short lifetimes (Pebble's certificateValidityPeriod): the served serial
 *   changes at the renewal moment with no command given;
 * - the CA goes away during an auto-renewal and comes back: the old
 *   certificate serves throughout, failures are recorded and retried on the
 *   (shortened) backoff table, and the renewal succeeds once the CA answers,
 *   with nobody acting (Pebble forgot the account and made a new root).
 * Each test has its own Pebble and box address.
 */
import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { freePort } from '../../src/lib/net.js';
import { ADMIN } from '../harness/boxes.js';
import { nextEvent, startAcmeBox, startPebble } from '../harness/pebble.js';

t.test('real auto-renew of a 15-second certificate: the served serial changes with no command', async (t) => {
  const address = '127.0.0.21';
  const httpPort = await freePort(address);
  const pebble = await startPebble({ httpPort, validitySeconds: 15 });
  t.teardown(() => pebble.stop());
  const ab = await startAcmeBox(pebble, { address, httpPort, cryptoMode: 'secure-crypto' });
  t.teardown(() => ab.stop());
  const { box, agent } = ab;

  await box.acmeIssue(ADMIN, { domain: address, directoryUrl: pebble.directoryUrl });
  await agent.idle();
  const issued = box.acmeState().issued!;
  t.match(box.acmeState().lastRequest, { type: 'Issue', status: 'Success' });
  t.ok(issued.expiresMs - issued.notBeforeMs <= 15_000, 'a short-lived certificate');
  t.equal((await ab.served()).serial, issued.serial);

  const renewed = await nextEvent(box, 'certificate-renewed', 20_000);
  const at = Date.now();
  t.ok(at >= issued.nextRenewalMs!, 'not before the renewal moment');
  t.ok(at < issued.nextRenewalMs! + 2_000, 'promptly at it');
  t.equal(renewed.previousSerial, issued.serial);
  await agent.idle();
  t.match(box.acmeState().lastRequest, { type: 'Auto-Renew', status: 'Success' });
  const now = box.acmeState().issued!;
  t.equal(now.serial, renewed.serial);
  t.ok(now.lastSuccessfulRenewalMs, 'Last Succesful Renewal recorded');
  t.equal((await ab.served()).serial, now.serial, 'HTTPS serves the renewed certificate');
  t.equal(agent.nextWakeMs, now.nextRenewalMs!, 'the next renewal is armed');
  t.ok(now.nextRenewalMs! > now.notBeforeMs && now.nextRenewalMs! < now.expiresMs);
});

t.test('an auto-renewal of a certificate for a name and the address orders both again', async (t) => {
  const address = '127.0.0.23';
  const domain = 'renew23.lab.test';
  const httpPort = await freePort(address);
  const pebble = await startPebble({ httpPort, validitySeconds: 12 });
  t.teardown(() => pebble.stop());
  const ab = await startAcmeBox(pebble, { address, httpPort, cryptoMode: 'secure-crypto' });
  t.teardown(() => ab.stop());
  await pebble.addA(domain, address);
  const { box, agent } = ab;
  const both = `DNS:${domain}, IP Address:${address}`;
  const sans = async () => new X509Certificate((await ab.served()).chainPem[0]!).subjectAltName;

  await box.acmeIssue(ADMIN, { domain, address, directoryUrl: pebble.directoryUrl });
  await agent.idle();
  t.match(box.acmeState().issued, { domain, address });
  t.equal(await sans(), both, 'issued for both');
  const renewed = await nextEvent(box, 'certificate-renewed', 20_000);
  await agent.idle();
  t.match(box.acmeState().lastRequest, { type: 'Auto-Renew', status: 'Success' });
  t.equal((await ab.served()).serial, renewed.serial);
  t.equal(await sans(), both, 'the auto-renewed certificate names both again');
});

t.test(
  'the CA is down during an auto-renewal: the old certificate serves, retries back off, the renewal succeeds once the CA is back',
  async (t) => {
    const address = '127.0.0.22';
    const httpPort = await freePort(address);
    // Real time, as in production: a 20-second certificate renews about 13 s after issue.
    const pebble = await startPebble({ httpPort, validitySeconds: 20 });
    t.teardown(() => pebble.stop());
    const ab = await startAcmeBox(pebble, {
      address,
      httpPort,
      cryptoMode: 'classic',
      settings: { renewalRetryDelaysMs: [300, 600, 1_200], requestTimeoutMs: 2_000 },
    });
    t.teardown(() => ab.stop());
    const { box, agent } = ab;

    await box.acmeIssue(ADMIN, { domain: address, directoryUrl: pebble.directoryUrl });
    await agent.idle();
    const issued = box.acmeState().issued!;
    const rootBefore = await pebble.root();

    await pebble.stopCa();
    const f1 = await nextEvent(box, 'certificate-renewal-failed', 20_000);
    t.ok(Date.now() >= issued.nextRenewalMs!, 'the first attempt was at the renewal moment');
    t.match(f1, {
      serial: issued.serial,
      domain: address,
      reason: /Cannot reach the ACME server.*ECONNREFUSED/,
    });
    await agent.idle();
    let state = box.acmeState();
    t.match(state.lastRequest, { type: 'Auto-Renew', status: 'Failed', reason: /ECONNREFUSED/ });
    t.match(state.issued, { serial: issued.serial, failedAttempts: 1, lastFailureReason: /ECONNREFUSED/ });
    t.ok(state.issued!.lastFailedRenewalMs, 'Last Failed Renewal recorded');
    t.equal(
      state.issued!.nextRenewalMs,
      state.issued!.lastFailedRenewalMs! + 300,
      'first retry after the first table entry',
    );
    t.equal((await ab.served()).serial, issued.serial, 'the old certificate keeps serving');
    t.equal(box.webCertificateName, 'acme-https.crt');

    await nextEvent(box, 'certificate-renewal-failed', 10_000);
    await agent.idle();
    state = box.acmeState();
    t.equal(state.issued!.failedAttempts, 2, 'retried on the backoff');
    t.equal(
      state.issued!.nextRenewalMs,
      state.issued!.lastFailedRenewalMs! + 600,
      'the second wait is longer',
    );
    t.equal((await ab.served()).serial, issued.serial, 'still the old certificate');

    // The CA comes back with a new root and no memory of the account; nobody acts.
    const renewedEvent = nextEvent(box, 'certificate-renewed', 15_000);
    await pebble.startCa();
    const renewed = await renewedEvent;
    await agent.idle();
    t.not(await pebble.root(), rootBefore, 'Pebble made a new root');
    t.equal(renewed.previousSerial, issued.serial);
    state = box.acmeState();
    t.match(state.lastRequest, { type: 'Auto-Renew', status: 'Success' });
    t.match(state.issued, { serial: renewed.serial, failedAttempts: 0 });
    t.ok(state.issued!.lastFailedRenewalMs, 'the last failure stays on record');
    t.equal((await ab.served()).serial, renewed.serial, 'HTTPS serves the renewed certificate');
    t.match(await pebble.certStatus(renewed.serial), { Status: 'Valid' });
  },
);
