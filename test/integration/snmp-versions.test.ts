// Every SNMP version and security level reaches a real snmptrapd with the
// right varbinds in RFC 3416 order; v1 is mapped per RFC 3584 §3.2. v3
// traps are accepted because the receiver's users are bound to the box's
// engineId() (createUser -e), and refused by a receiver bound to another.
import t, { type Test } from 'tap';
import type { SnmpTarget, SnmpUser } from '../../src/device/model.js';
import { SystemClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { SnmpNotifier } from '../../src/snmp/notifier.js';
import { createNetSnmpSender } from '../../src/snmp/net-snmp-sender.js';
import { isoUtc } from '../../src/snmp/varbinds.js';
import { trapdUserFor, varbindValue } from '../../src/snmp/trapd-launcher.js';
import { ADMIN, makeTestBox } from '../harness/boxes.js';
import { startTrapReceiver, type ReceivedNotification } from '../harness/snmptrapd.js';

const AUTH = 'auth-pass-123';
const PRIV = 'priv-pass-456';

interface Row {
  name: string;
  kind: SnmpTarget['kind'];
  version: SnmpTarget['version'];
  user?: Omit<SnmpUser, 'name'>;
  pdu: 'TRAP' | 'TRAP2' | 'INFORM';
}

const sha = (p: 'sha' | 'sha256' | 'sha512') => ({ protocol: p, password: AUTH });
const aes = (p: 'aes-128' | 'aes-256') => ({ protocol: p, password: PRIV });

const v3Levels: Omit<Row, 'kind' | 'pdu'>[] = [
  { name: 'noAuthNoPriv', version: '3', user: {} },
  { name: 'authNoPriv SHA', version: '3', user: { auth: sha('sha') } },
  { name: 'authNoPriv SHA-256', version: '3', user: { auth: sha('sha256') } },
  { name: 'authNoPriv SHA-512', version: '3', user: { auth: sha('sha512') } },
  { name: 'authPriv SHA AES-128', version: '3', user: { auth: sha('sha'), priv: aes('aes-128') } },
  { name: 'authPriv SHA AES-256', version: '3', user: { auth: sha('sha'), priv: aes('aes-256') } },
  { name: 'authPriv SHA-256 AES-128', version: '3', user: { auth: sha('sha256'), priv: aes('aes-128') } },
  { name: 'authPriv SHA-256 AES-256', version: '3', user: { auth: sha('sha256'), priv: aes('aes-256') } },
  { name: 'authPriv SHA-512 AES-128', version: '3', user: { auth: sha('sha512'), priv: aes('aes-128') } },
  { name: 'authPriv SHA-512 AES-256', version: '3', user: { auth: sha('sha512'), priv: aes('aes-256') } },
  {
    name: 'authPriv MD5 AES-128 (refused only in FIPS mode)',
    version: '3',
    user: { auth: { protocol: 'md5', password: AUTH }, priv: aes('aes-128') },
  },
];

const rows: Row[] = [
  { name: 'v1 trap', kind: 'traps', version: '1', pdu: 'TRAP' },
  { name: 'v2c trap', kind: 'traps', version: '2c', pdu: 'TRAP2' },
  { name: 'v2c inform', kind: 'informs', version: '2c', pdu: 'INFORM' },
  ...v3Levels.map((r): Row => ({ ...r, name: `v3 trap ${r.name}`, kind: 'traps', pdu: 'TRAP2' })),
  ...v3Levels.map((r): Row => ({ ...r, name: `v3 inform ${r.name}`, kind: 'informs', pdu: 'INFORM' })),
];

const userName = (i: number) => `user${i}`;

t.test('each version and security level arrives with the right varbinds', async (t) => {
  const clock = new SystemClock();
  const { box } = await makeTestBox({ clock, hostname: 'box7', boxId: 7 });
  const notifier = new SnmpNotifier({ senderFactory: createNetSnmpSender, box, clock, logger: silentLogger });
  box.attachSnmp(notifier);
  const engineId = notifier.engineId();
  // Trap users are bound to the box's engine ID; inform users are not (the receiver is authoritative).
  const users = rows.flatMap((r, i) =>
    r.version === '3'
      ? [trapdUserFor({ name: userName(i), ...r.user }, r.kind === 'traps' ? engineId : undefined)]
      : [],
  );
  const rx = await startTrapReceiver({ communities: ['public'], users });
  t.teardown(async () => {
    notifier.stop();
    await rx.stop();
  });
  box.snmpEnable(ADMIN, true);
  box.snmpNotifyEnable(ADMIN, true);
  notifier.start();

  for (const [i, row] of rows.entries()) {
    await t.test(row.name, async (t) => {
      for (const old of box.config.snmp.targets) box.snmpRemoveTarget(ADMIN, old.host, old.port);
      const target: SnmpTarget = {
        host: rx.host,
        port: rx.port,
        kind: row.kind,
        version: row.version,
        ratePerSec: 100,
      };
      if (row.version === '3') {
        box.snmpSetUser(ADMIN, { name: userName(i), ...row.user });
        target.user = userName(i);
      } else {
        target.community = 'public';
      }
      box.snmpSetTarget(ADMIN, target);
      const ackedBefore = notifier.counters()[0]!.acknowledged;
      const domain = `row${i}.lab.test`;
      const expiresMs = Date.UTC(2026, 5, 1, 12, 0, 0);
      box.events.emit('certificate-revoked', {
        boxId: 7,
        hostname: 'box7',
        domain,
        serial: `0A1B2C${i}`,
        expiresMs,
        reason: 'superseded',
      });
      const n = await rx.waitFor((n) => varbindValue(n, 'gvosSimDomain') === domain);
      t.equal(n.pdu, row.pdu, 'PDU type');
      t.equal(n.version, row.version);
      if (row.version === '3') t.equal(n.user, userName(i));
      else t.equal(n.community, 'public');
      t.equal(n.name, 'gvosSimCertRevoked', 'named by the MIB');
      t.ok(n.line.includes('GIGAMON-GVOS-SIM-MIB::gvosSimCertRevoked'), 'snmptrapd printed the MIB name');
      checkVarbinds(t, n, row.version, { domain, serial: `0A1B2C${i}`, expires: isoUtc(expiresMs) });
      if (row.kind === 'informs') {
        await waitUntil(() => notifier.counters()[0]!.acknowledged > ackedBefore);
        t.equal(notifier.counters()[0]!.acknowledged, ackedBefore + 1, 'inform acknowledged and counted');
      }
    });
  }
});

function checkVarbinds(
  t: Test,
  n: ReceivedNotification,
  version: string,
  want: { domain: string; serial: string; expires: string },
) {
  const names = n.varbinds.map((v) => v.name);
  const objects = [
    'gigamonSnmpNotifHardWareName.0',
    'gigamonSnmpNotifLevel.0',
    'gigamonSnmpNotifDescription.0',
    'gvosSimBoxId.0',
    'gvosSimHostname.0',
    'gvosSimDomain.0',
    'gvosSimCertSerial.0',
    'gvosSimCertExpiry.0',
    'gvosSimReason.0',
  ];
  if (version === '1') {
    t.same(names, objects, 'v1: the objects only, in MIB order');
    t.equal(n.enterprise, 'gvosSimMIB', 'v1 enterprise = gvosSimMIB (RFC 3584 §3.2)');
    t.equal(n.genericTrap, 6, 'v1 generic-trap enterpriseSpecific');
    t.equal(n.specificTrap, 'gvosSimCertRevoked', 'v1 specific-trap 4 maps back to the notification');
    t.equal(n.agentAddr, '127.0.0.1', 'v1 agent-addr is the box address');
  } else {
    t.same(
      names,
      ['sysUpTime.0', 'snmpTrapOID.0', ...objects],
      'sysUpTime.0, snmpTrapOID.0, then the objects (RFC 3416 §4.2.6)',
    );
    t.equal(n.varbinds[0]!.type, 'Timeticks');
  }
  t.equal(varbindValue(n, 'gigamonSnmpNotifHardWareName'), 'GigaVUE-HC2');
  t.equal(varbindValue(n, 'gigamonSnmpNotifLevel'), 'minor(2)');
  t.match(varbindValue(n, 'gigamonSnmpNotifDescription'), /revoked/);
  t.equal(varbindValue(n, 'gvosSimBoxId'), '7');
  t.equal(varbindValue(n, 'gvosSimHostname'), 'box7');
  t.equal(varbindValue(n, 'gvosSimCertSerial'), want.serial);
  t.equal(varbindValue(n, 'gvosSimCertExpiry'), want.expires);
  t.equal(varbindValue(n, 'gvosSimReason'), 'superseded');
}

t.test(
  'a v3 trap receiver bound to another engine ID drops the trap; bound to engineId() it accepts it',
  async (t) => {
    const clock = new SystemClock();
    const { box } = await makeTestBox({ clock });
    const notifier = new SnmpNotifier({
      senderFactory: createNetSnmpSender,
      box,
      clock,
      logger: silentLogger,
    });
    const user: SnmpUser = { name: 'bound', auth: sha('sha256'), priv: aes('aes-128') };
    const wrong = await startTrapReceiver({ users: [trapdUserFor(user, '800068f2040000000000')] });
    const right = await startTrapReceiver({ users: [trapdUserFor(user, notifier.engineId())] });
    t.teardown(async () => {
      notifier.stop();
      await Promise.all([wrong.stop(), right.stop()]);
    });
    box.snmpEnable(ADMIN, true);
    box.snmpNotifyEnable(ADMIN, true);
    box.snmpSetUser(ADMIN, user);
    for (const rx of [wrong, right]) {
      box.snmpSetTarget(ADMIN, {
        host: rx.host,
        port: rx.port,
        kind: 'traps',
        version: '3',
        user: 'bound',
        ratePerSec: 100,
      });
    }
    notifier.start();
    await notifier.sendTest();
    const n = await right.waitFor((n) => n.name === 'gvosSimTest');
    t.equal(n.user, 'bound');
    // Give the other receiver the same time it took, and more: nothing arrives.
    await new Promise((r) => setTimeout(r, 300));
    t.equal(wrong.count(), 0, 'wrong engine ID: silently dropped by snmptrapd');
    t.match(wrong.log(), /NET-SNMP version/);
  },
);

t.test(
  'engineBoots() reports the box counter; engineTime() moves with the clock; the engine ID is stable per box',
  async (t) => {
    const clock = new SystemClock();
    const a = await makeTestBox({ clock, boxId: 1 });
    const b = await makeTestBox({ clock, boxId: 2 });
    const na = new SnmpNotifier({
      senderFactory: createNetSnmpSender,
      box: a.box,
      clock,
      logger: silentLogger,
    });
    const na2 = new SnmpNotifier({
      senderFactory: createNetSnmpSender,
      box: a.box,
      clock,
      logger: silentLogger,
    });
    const nb = new SnmpNotifier({
      senderFactory: createNetSnmpSender,
      box: b.box,
      clock,
      logger: silentLogger,
    });
    t.equal(na.engineBoots(), a.box.snmpEngineBoots);
    t.ok(na.engineBoots() >= 1, 'counted by prepareBoot');
    t.equal(na.engineId(), na2.engineId(), 'same box, same engine ID');
    t.not(na.engineId(), nb.engineId(), 'another box, another engine ID');
    t.match(na.engineId(), /^800068f203[0-9a-f]{12}$/);
    const t0 = na.engineTime();
    clock.advance(90_000);
    t.equal(na.engineTime(), t0 + 90);
  },
);

async function waitUntil(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}
