/**
 * `show crypto acme client info` byte for byte against the CLI contract's
 * example (reference/cli.md, "Status output"), with a ManualClock. The dates
 * are local time: TZ is set before each rendering (Node re-reads it on
 * assignment), UTC for the contract's example and another zone to show that
 * the local time is used.
 */
import t from 'tap';
import type { AcmeIssued } from '../device/model.js';
import { ManualClock } from '../lib/clock.js';
import { generateKeyPair } from '../pki/keys.js';
import { createSelfSigned } from '../pki/self-signed.js';
import { makeTestBox, acmePortOf } from '../../test/harness/boxes.js';
import { renderAcmeInfo } from './commands/acme.js';
import { Session } from './session.js';
import { acmeIssued } from '../../test/harness/acme-issued.js';

const CONTRACT_EXAMPLE = `Box Id 4:
========== ACME Issued Certificate Info ============================
https:
  Domain                 : 10.60.95.2
  Cert Name              : acme-https.crt
  Acme-Server            : https://10.115.72.233:8080/acme/acme/directory
  First-Issued           : 2021/10/11 16:14:46
  Next Renewal           : 2021/12/10 23:26:47
  Expires                : 2022/01/09 16:14:48
  Renewal Days           : System Computed
  Last Succesful Renewal : n/a
  Last Failed Renewal    : n/a

Last Request Status Since Bootup
================================
  Domain                 : 10.60.95.2
  Acme-Server            : https://10.115.72.233:8080/acme/acme/directory
  Request-Status         : Success
  Type of Request        : Issue`;

const URL = 'https://10.115.72.233:8080/acme/acme/directory';
const originalTz = process.env.TZ;
t.teardown(() => {
  if (originalTz === undefined) delete process.env.TZ;
  else process.env.TZ = originalTz;
});

/** Box 4 with the contract example's ACME state, built the way the agent builds it. */
async function exampleBox() {
  const issuedAt = Date.UTC(2021, 9, 11, 16, 14, 46);
  const clock = new ManualClock(issuedAt - 60_000);
  const { box, cluster } = await makeTestBox({ boxId: 4, clock });
  const key = await generateKeyPair('prime256v1');
  const certPem = await createSelfSigned({
    privateKeyPem: key.privateKeyPem,
    keyAlgorithm: 'prime256v1',
    commonName: '10.60.95.2',
    altNames: ['10.60.95.2'],
    notBeforeMs: issuedAt,
    validDays: 90,
  });
  const issued: AcmeIssued = acmeIssued({
    domain: '10.60.95.2',
    directoryUrl: URL,
    firstIssuedMs: issuedAt,
    expiresMs: Date.UTC(2022, 0, 9, 16, 14, 48),
    serial: '01',
    nextRenewalMs: Date.UTC(2021, 11, 10, 23, 26, 47),
  });
  await acmePortOf(box).acmeBegin('Issue', '10.60.95.2', URL);
  clock.advance(60_000);
  await acmePortOf(box).installAcmeCertificate(certPem, key.privateKeyPem, issued);
  await acmePortOf(box).acmeFinish('Success');
  return { box, cluster, clock };
}

t.test('the contract example, byte for byte', async (t) => {
  process.env.TZ = 'UTC';
  const { box, cluster } = await exampleBox();
  t.equal(renderAcmeInfo(box).join('\n'), CONTRACT_EXAMPLE);
  // Through the CLI, from another box's session, in standard mode, with box-id.
  await makeTestBox({ boxId: 1, cluster });
  let out = '';
  const s = new Session({
    cluster,
    boxId: 1,
    user: 'mon',
    role: 'monitor',
    source: 't',
    interactive: true,
    write: (x) => (out += x),
    close: () => undefined,
  });
  s.input('show crypto acme client info box-id 4\r');
  await s.idle();
  t.equal(
    out,
    'show crypto acme client info box-id 4\r\n' + CONTRACT_EXAMPLE.replace(/\n/g, '\r\n') + '\r\nbox1 > ',
    'over a pty: CR LF, same bytes',
  );
  t.equal(
    await new Session({
      cluster,
      boxId: 4,
      user: 'admin',
      role: 'admin',
      source: 't',
      interactive: false,
      write: () => undefined,
      close: () => undefined,
    }).runOnce('show crypto acme client info'),
    CONTRACT_EXAMPLE + '\n',
    'without box-id: the own box',
  );
});

t.test('dates are local time', async (t) => {
  process.env.TZ = 'Asia/Kolkata';
  const { box } = await exampleBox();
  const out = renderAcmeInfo(box).join('\n');
  t.match(out, /^ {2}First-Issued {11}: 2021\/10\/11 21:44:46$/m, 'UTC+05:30');
  t.match(out, /^ {2}Expires {16}: 2022\/01\/09 21:44:48$/m);
  process.env.TZ = 'UTC';
});

t.test('other states', async (t) => {
  process.env.TZ = 'UTC';
  const { box, clock } = await exampleBox();
  const at = (ms: number) => new Date(ms).toISOString().replace('T', ' ').slice(0, 19).replace(/-/g, '/');
  await acmePortOf(box).updateAcmeIssued({
    renewDays: 30,
    lastSuccessfulRenewalMs: clock.now(),
    lastFailedRenewalMs: clock.now() + 1000,
  });
  await acmePortOf(box).acmeBegin('Auto-Renew', '10.60.95.2', URL);
  let lines = renderAcmeInfo(box);
  t.equal(lines[9], '  Renewal Days           : 30');
  t.equal(lines[10], `  Last Succesful Renewal : ${at(clock.now())}`);
  t.equal(lines[11], `  Last Failed Renewal    : ${at(clock.now() + 1000)}`);
  t.same(lines.slice(-2), [
    '  Request-Status         : In Progress',
    '  Type of Request        : Auto-Renew',
  ]);
  await acmePortOf(box).acmeFinish(
    'Failed',
    'urn:ietf:params:acme:error:connection: the CA could not reach 10.60.95.2:80',
  );
  lines = renderAcmeInfo(box);
  t.equal(
    lines.at(-2),
    '  Request-Status         : Failed: urn:ietf:params:acme:error:connection: the CA could not reach 10.60.95.2:80',
  );

  const fresh = (await makeTestBox({ boxId: 3 })).box;
  t.equal(
    renderAcmeInfo(fresh).join('\n'),
    `Box Id 3:
========== ACME Issued Certificate Info ============================
No ACME issued certificate.

Last Request Status Since Bootup
================================
  Domain                 : n/a
  Acme-Server            : n/a
  Request-Status         : n/a
  Type of Request        : n/a`,
  );
});
