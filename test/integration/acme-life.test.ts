/**
 * The whole life of an ACME certificate on one box against a real Pebble:
 * issue, manual renew, revoke, clear; for an IP and for a DNS name, with
 * each key algorithm in its crypto mode. The box serves http-01 and HTTPS
 * through the web feature's WebServer; what a new TLS connection is served
 * is checked after every step.
 *
 * Four boxes share one Pebble: each listens on its own loopback address
 * (127.0.0.11-14) with the same http port, the port Pebble's VA dials.
 */
import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { plainVerifications } from '../../src/acme/verify.js';
import { freePort } from '../../src/lib/net.js';
import type { KeyAlgorithm } from '../../src/device/key-algorithms.js';
import type { CryptoMode } from '../../src/device/model.js';
import { ADMIN, acmePortOf } from '../harness/boxes.js';
import { nextEvent, opensslVerify, startAcmeBox, startPebble, type Pebble } from '../harness/pebble.js';

const HTTP_PORT = await freePort('127.0.0.11');
const pebble: Pebble = await startPebble({ httpPort: HTTP_PORT });
t.teardown(() => pebble.stop());

const rows: {
  name: string;
  address: string;
  cryptoMode: CryptoMode;
  keyAlgorithm: KeyAlgorithm;
  /** The domain to issue for: the box's IP, or a DNS name challtestsrv maps to it. */
  domain: string;
  /** Reach the ACME server by a DNS name, resolved through the box's name server. */
  directoryByName?: boolean;
  revokeReason: 'superseded' | 'key-compromise';
  keyType: { type: string; size: number };
  renewDays?: number;
}[] = [
  {
    name: 'classic, rsa-2048, IP identifier, renew-days 30',
    address: '127.0.0.11',
    cryptoMode: 'classic',
    keyAlgorithm: 'rsa-2048',
    domain: '127.0.0.11',
    revokeReason: 'superseded',
    keyType: { type: 'RSA', size: 2048 },
    renewDays: 30,
  },
  {
    name: 'classic, rsa-4096, DNS name',
    address: '127.0.0.12',
    cryptoMode: 'classic',
    keyAlgorithm: 'rsa-4096',
    domain: 'box12.lab.test',
    revokeReason: 'key-compromise',
    keyType: { type: 'RSA', size: 4096 },
  },
  {
    name: 'secure-crypto, prime256v1, DNS name, ACME server by name',
    address: '127.0.0.13',
    cryptoMode: 'secure-crypto',
    keyAlgorithm: 'prime256v1',
    domain: 'box13.lab.test',
    directoryByName: true,
    revokeReason: 'superseded',
    keyType: { type: 'EC (prime256v1)', size: 256 },
  },
  {
    name: 'secure-crypto, secp384r1, IP identifier',
    address: '127.0.0.14',
    cryptoMode: 'secure-crypto',
    keyAlgorithm: 'secp384r1',
    domain: '127.0.0.14',
    revokeReason: 'superseded',
    keyType: { type: 'EC (secp384r1)', size: 384 },
  },
];

for (const r of rows) {
  t.test(`the life of a certificate: ${r.name}`, async (t) => {
    const ab = await startAcmeBox(pebble, {
      address: r.address,
      httpPort: HTTP_PORT,
      cryptoMode: r.cryptoMode,
    });
    t.teardown(() => ab.stop());
    const { box, agent } = ab;
    if (!/^[0-9.]+$/.test(r.domain)) await pebble.addA(r.domain, r.address);
    const directoryUrl = r.directoryByName ? pebble.directoryUrlFor('pebble.lab.test') : pebble.directoryUrl;
    const defaultServed = await ab.served();

    // ---- issue
    const plainBefore = plainVerifications.accepted;
    const issuedEvent = nextEvent(box, 'certificate-issued');
    await box.acmeIssue(ADMIN, {
      domain: r.domain,
      directoryUrl,
      keyAlgorithm: r.keyAlgorithm,
      renewDays: r.renewDays,
    });
    t.match(
      box.acmeState().lastRequest,
      { type: 'Issue', status: 'In Progress', domain: r.domain },
      'In Progress at once',
    );
    await agent.idle();
    t.match(box.acmeState().lastRequest, { type: 'Issue', status: 'Success', reason: null });
    // Pebble's VA asks in the one form the http port's front answers itself (http-front.ts).
    t.ok(ab.web!.fastChallengeAnswers >= 1, "Pebble's http-01 fetches answered by the http port's front");
    // Pebble's certificate is of the plain form: checked without an X509Certificate (verify.ts).
    t.equal(plainVerifications.accepted, plainBefore + 1, "Pebble's certificate checked on the plain path");
    const issued = box.acmeState().issued!;
    t.match(issued, {
      domain: r.domain,
      directoryUrl,
      keyAlgorithm: r.keyAlgorithm,
      certName: 'acme-https.crt',
      renewDays: r.renewDays ?? null,
      failedAttempts: 0,
    });
    if (r.renewDays)
      t.equal(
        issued.nextRenewalMs,
        issued.expiresMs - r.renewDays * 86_400_000,
        'renewal renew-days before expiry',
      );
    else
      t.equal(
        issued.nextRenewalMs,
        issued.expiresMs - Math.floor((issued.expiresMs - issued.notBeforeMs) / 3),
        'renewal at a third of the lifetime left',
      );
    t.equal(agent.nextWakeMs, issued.nextRenewalMs, 'the renewal timer is armed');
    t.match(await issuedEvent, {
      boxId: box.boxId,
      domain: r.domain,
      serial: issued.serial,
      expiresMs: issued.expiresMs,
    });
    t.equal(box.webCertificateName, 'acme-https.crt');
    const view = box.certificate('acme-https.crt');
    t.same(
      { type: view.facts.keyType, size: view.facts.keySize },
      r.keyType,
      'the key of the chosen algorithm',
    );
    t.same(
      view.facts.subjectAltNames,
      [/^[0-9.]+$/.test(r.domain) ? `IP:${r.domain}` : `DNS:${r.domain}`],
      'exactly the one domain',
    );
    let served = await ab.served();
    t.equal(served.serial, issued.serial, 'HTTPS serves the ACME certificate');
    t.ok(served.chainPem.length >= 2, 'with its intermediate');
    t.match(
      await opensslVerify(served.chainPem, await pebble.root(), r.domain),
      /: OK$/,
      "the served chain verifies against Pebble's root (openssl verify)",
    );
    t.match(await pebble.certStatus(issued.serial), { Status: 'Valid' }, 'Pebble knows it');
    t.equal(box.challenges.size, 0, 'no challenge token left behind');

    // ---- manual renew
    const renewedEvent = nextEvent(box, 'certificate-renewed');
    await box.acmeRenew(ADMIN, r.domain);
    await agent.idle();
    t.match(box.acmeState().lastRequest, { type: 'Renew', status: 'Success', reason: null });
    const renewed = box.acmeState().issued!;
    t.not(renewed.serial, issued.serial, 'a new serial');
    t.equal(renewed.firstIssuedMs, issued.firstIssuedMs, 'First-Issued unchanged');
    t.equal(renewed.renewDays, issued.renewDays, 'renew-days kept');
    t.ok(renewed.lastSuccessfulRenewalMs, 'Last Succesful Renewal recorded');
    t.match(await renewedEvent, { serial: renewed.serial, previousSerial: issued.serial });
    const oldKey = new X509Certificate(served.chainPem[0]!).publicKey.export({ type: 'spki', format: 'der' });
    served = await ab.served();
    t.equal(served.serial, renewed.serial, 'HTTPS serves the renewed certificate');
    t.notOk(
      new X509Certificate(served.chainPem[0]!).publicKey
        .export({ type: 'spki', format: 'der' })
        .equals(oldKey),
      'with a new key',
    );

    // ---- revoke: re-issue and install first, then revoke the old one
    const revokedEvent = nextEvent(box, 'certificate-revoked');
    await box.acmeRevoke(ADMIN, r.domain, r.revokeReason);
    await agent.idle();
    t.match(box.acmeState().lastRequest, { type: 'Revoke', status: 'Success' });
    const after = box.acmeState().issued!;
    t.not(after.serial, renewed.serial, 'a re-issued certificate');
    const reasonCode = r.revokeReason === 'key-compromise' ? 1 : 4;
    t.match(
      await pebble.certStatus(renewed.serial),
      { Status: 'Revoked', Reason: reasonCode },
      'Pebble shows the old serial revoked',
    );
    t.match(await pebble.certStatus(after.serial), { Status: 'Valid' }, 'and the new one valid');
    t.match(await revokedEvent, {
      serial: renewed.serial,
      domain: r.domain,
      reason: reasonCode === 1 ? 'keyCompromise' : 'superseded',
    });
    served = await ab.served();
    t.equal(served.serial, after.serial, 'HTTPS serves the new certificate');
    t.ok(
      acmePortOf(box)
        .acmeCertificate()!
        .certPem.startsWith(new X509Certificate(served.chainPem[0]!).toString().trim().slice(0, 60)),
      'the old one is gone from the store',
    );

    // ---- clear
    const clearedEvent = nextEvent(box, 'certificate-cleared');
    await box.acmeClear(ADMIN);
    t.match(box.acmeState(), { issued: null, lastRequest: { type: 'Clear', status: 'Success' } });
    t.equal(box.webCertificateName, 'default-cert');
    t.equal(acmePortOf(box).acmeCertificate(), undefined, 'certificate and key deleted');
    t.equal(agent.nextWakeMs, undefined, 'the renewal timer is cancelled');
    t.match(await clearedEvent, { serial: after.serial, domain: r.domain });
    t.equal((await ab.served()).serial, defaultServed.serial, 'HTTPS serves the default certificate again');
  });
}
