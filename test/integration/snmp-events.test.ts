// Every certificate event (emitted on box.events the way the ACME agent
// does), the boot notifications and send-test produce their named, decoded
// notification in a real snmptrapd's log. Expiring-soon is detected by the
// notifier from the box's ACME state on a ManualClock.
import t, { type Test } from 'tap';
import { createSelfSigned } from '../../src/pki/self-signed.js';
import { generateKeyPair } from '../../src/pki/keys.js';
import type { Box } from '../../src/device/box.js';
import type { AcmeIssued } from '../../src/device/model.js';
import { ManualClock, SystemClock, type Clock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { SnmpNotifier } from '../../src/snmp/notifier.js';
import { createNetSnmpSender } from '../../src/snmp/net-snmp-sender.js';
import { varbindValue } from '../../src/snmp/trapd-launcher.js';
import { isoUtc } from '../../src/snmp/varbinds.js';
import { ADMIN, makeTestBox, acmePortOf } from '../harness/boxes.js';
import { startTrapReceiver, type TrapReceiver } from '../harness/snmptrapd.js';
import { notifyTo } from '../harness/snmp-target.js';
import { acmeIssued } from '../harness/acme-issued.js';

const DAY_MS = 86_400_000;

async function boxWithReceiver(
  t: Test,
  clock: Clock,
  o: { hostname?: string; bootKind?: 'cold' | 'warm' } = {},
) {
  const { box } = await makeTestBox({ clock, hostname: o.hostname ?? 'box1' });
  const rx: TrapReceiver = await startTrapReceiver({ communities: ['public'] });
  const notifier = new SnmpNotifier({ senderFactory: createNetSnmpSender, box, clock, logger: silentLogger });
  box.attachSnmp(notifier);
  notifyTo(box, rx, 'informs', 100);
  notifier.start();
  t.teardown(async () => {
    notifier.stop();
    await rx.stop();
  });
  return { box, rx, notifier };
}

const expiresMs = Date.UTC(2026, 3, 1, 8, 30, 0);
const base = (box: Box) => ({
  boxId: box.boxId,
  hostname: box.hostname,
  domain: 'box1.lab.test',
  serial: '04A1B2',
  expiresMs,
});

// One row per certificate event: how the agent emits it, the MIB name, and what the receiver must decode.
const rows: {
  name: string;
  emit: (box: Box) => void;
  notification: string;
  level: string;
  extra: Record<string, string>;
}[] = [
  {
    name: 'issued',
    emit: (b) => b.events.emit('certificate-issued', base(b)),
    notification: 'gvosSimCertIssued',
    level: 'information(1)',
    extra: {},
  },
  {
    name: 'renewed',
    emit: (b) => b.events.emit('certificate-renewed', { ...base(b), previousSerial: '03FFFF' }),
    notification: 'gvosSimCertRenewed',
    level: 'information(1)',
    extra: { gvosSimCertPreviousSerial: '03FFFF' },
  },
  {
    name: 'renewal failed',
    emit: (b) =>
      b.events.emit('certificate-renewal-failed', {
        ...base(b),
        reason: 'urn:ietf:params:acme:error:connection: DNS lookup failed',
      }),
    notification: 'gvosSimCertRenewalFailed',
    level: 'major(3)',
    extra: { gvosSimReason: 'urn:ietf:params:acme:error:connection: DNS lookup failed' },
  },
  {
    name: 'revoked (the seed: a trap goes to the manager)',
    emit: (b) => b.events.emit('certificate-revoked', { ...base(b), reason: 'keyCompromise' }),
    notification: 'gvosSimCertRevoked',
    level: 'minor(2)',
    extra: { gvosSimReason: 'keyCompromise' },
  },
  {
    name: 'cleared',
    emit: (b) =>
      b.events.emit('certificate-cleared', { ...base(b), reason: 'crypto certificate acme clear' }),
    notification: 'gvosSimCertCleared',
    level: 'information(1)',
    extra: { gvosSimReason: 'crypto certificate acme clear' },
  },
  {
    name: 'expiring soon (emitted)',
    emit: (b) => b.events.emit('certificate-expiring-soon', { ...base(b), daysLeft: 5 }),
    notification: 'gvosSimCertExpiringSoon',
    level: 'major(3)',
    extra: { gvosSimCertDaysLeft: '5' },
  },
];

t.test('every certificate event produces its named, decoded notification', async (t) => {
  const { box, rx, notifier } = await boxWithReceiver(t, new SystemClock());
  for (const r of rows) {
    await t.test(r.name, async (t) => {
      r.emit(box);
      const n = await rx.waitFor((n) => n.name === r.notification);
      t.equal(n.pdu, 'INFORM');
      t.ok(
        n.line.includes(`OID: GIGAMON-GVOS-SIM-MIB::${r.notification}`),
        'the receiver printed the name from the MIB',
      );
      t.equal(varbindValue(n, 'gigamonSnmpNotifLevel'), r.level);
      t.equal(varbindValue(n, 'gigamonSnmpNotifHardWareName'), 'GigaVUE-HC2');
      t.equal(varbindValue(n, 'gvosSimHostname'), 'box1');
      t.equal(varbindValue(n, 'gvosSimDomain'), 'box1.lab.test');
      t.equal(varbindValue(n, 'gvosSimCertSerial'), '04A1B2');
      t.equal(varbindValue(n, 'gvosSimCertExpiry'), isoUtc(expiresMs));
      for (const [name, value] of Object.entries(r.extra)) t.equal(varbindValue(n, name), value, name);
      t.ok(
        n.varbinds.every((v) => !/^\.?1\.3\.6/.test(v.name) && !v.name.startsWith('iso.')),
        'every varbind named',
      );
    });
  }
  t.equal(notifier.counters()[0]!.sent, rows.length);
});

t.test('coldStart and warmStart on booted, named; send-test; a switched-off event is not sent', async (t) => {
  const { box, rx } = await boxWithReceiver(t, new SystemClock(), { hostname: 'edge-2' });
  box.events.emit('booted', { boxId: box.boxId, kind: 'cold', version: '6.10.00' });
  const cold = await rx.waitFor((n) => n.name === 'coldStart');
  t.equal(
    varbindValue(cold, 'snmpTrapEnterprise'),
    'GIGAMON-GVOS-SIM-MIB::gigamonSnmp.3.6',
    'sysObjectID of the HC2',
  );
  t.match(
    varbindValue(cold, 'gigamonSnmpNotifDescription'),
    /edge-2 \(box-id 1\) started \(cold start\), firmware 6\.10\.00/,
  );
  box.events.emit('booted', { boxId: box.boxId, kind: 'warm', version: '6.10.00' });
  await rx.waitFor((n) => n.name === 'warmStart');
  await box.snmpSendTest(ADMIN);
  const test = await rx.waitFor((n) => n.name === 'gvosSimTest');
  t.equal(varbindValue(test, 'gvosSimHostname'), 'edge-2');
  box.snmpSetEvent(ADMIN, 'cert-issued', false);
  box.events.emit('certificate-issued', base(box));
  await box.snmpSendTest(ADMIN); // the test notification acts as a fence: informs arrive in order
  await rx.waitForCount(2, (n) => n.name === 'gvosSimTest');
  t.equal(
    rx.count((n) => n.name === 'gvosSimCertIssued'),
    0,
    'cert-issued switched off',
  );
});

t.test(
  'expiring soon: detected from the ACME state when the clock reaches expiry minus the days',
  async (t) => {
    const clock = new ManualClock(Date.now());
    const { box, rx } = await boxWithReceiver(t, clock);
    box.snmpSetExpiringSoonDays(ADMIN, 7);
    const now = clock.now();
    const key = await generateKeyPair('prime256v1');
    const certPem = await createSelfSigned({
      privateKeyPem: key.privateKeyPem,
      keyAlgorithm: 'prime256v1',
      commonName: 'box1.lab.test',
      altNames: ['box1.lab.test'],
      notBeforeMs: now,
      validDays: 10,
    });
    const issued: AcmeIssued = acmeIssued({
      domain: 'box1.lab.test',
      directoryUrl: 'https://127.0.0.1:14000/dir',
      firstIssuedMs: now,
      expiresMs: now + 10 * DAY_MS,
      serial: '7E57',
      // renew 2 days before expiry: no renewal before the 7-day warning
      renewDays: 2,
      nextRenewalMs: now + 8 * DAY_MS,
    });
    // What the agent does at the end of an issue.
    await acmePortOf(box).acmeBegin('Issue', issued.domain, issued.directoryUrl);
    await acmePortOf(box).installAcmeCertificate(certPem, key.privateKeyPem, issued);
    await acmePortOf(box).acmeFinish('Success');
    box.events.emit('certificate-issued', { ...base(box), serial: '7E57', expiresMs: issued.expiresMs });
    await rx.waitFor((n) => n.name === 'gvosSimCertIssued');

    clock.advance(3 * DAY_MS - 60_000);
    await new Promise((r) => setTimeout(r, 200));
    t.equal(
      rx.count((n) => n.name === 'gvosSimCertExpiringSoon'),
      0,
      'not before expiry minus 7 days',
    );
    clock.advance(60_000);
    const n = await rx.waitFor((n) => n.name === 'gvosSimCertExpiringSoon');
    t.equal(varbindValue(n, 'gvosSimCertDaysLeft'), '7');
    t.equal(varbindValue(n, 'gvosSimCertSerial'), '7E57');
    t.match(varbindValue(n, 'gigamonSnmpNotifDescription'), /expires in 7 days/);
  },
);
