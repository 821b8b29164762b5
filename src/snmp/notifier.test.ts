import t from 'tap';
import type { Box } from '../device/box.js';
import type { SnmpTarget } from '../device/model.js';
import { ManualClock } from '../lib/clock.js';
import { JsonLogger, silentLogger } from '../lib/logger.js';
import { ADMIN, makeTestBox, acmePortOf } from '../../test/harness/boxes.js';
import type { SenderSpec } from './sender-spec.js';
import { SnmpNotifier } from './notifier.js';
import { NOTIFICATIONS, OBJECTS } from './oids.js';
import type { TargetSender } from './target-queue.js';
import type { Notification } from './varbinds.js';
import { acmeIssued } from '../../test/harness/acme-issued.js';

const DAY_MS = 86_400_000;

/** Records every sender made and every notification each one sent. */
class FakeWire {
  readonly made: SenderSpec[] = [];
  readonly sent: { port: number; n: Notification }[] = [];
  closed = 0;
  factory = (spec: SenderSpec): TargetSender => {
    this.made.push(spec);
    return {
      trap: async (n) => void this.sent.push({ port: spec.target.port, n }),
      inform: async (n) => void this.sent.push({ port: spec.target.port, n }),
      close: () => void this.closed++,
    };
  };
  kinds(port?: number): string[] {
    return this.sent.filter((s) => port === undefined || s.port === port).map((s) => s.n.kind);
  }
}

const target = (port: number, o: Partial<SnmpTarget> = {}): SnmpTarget => ({
  host: '127.0.0.1',
  port,
  kind: 'traps',
  version: '2c',
  community: 'public',
  ratePerSec: 1000,
  ...o,
});

async function setup(o: { enable?: boolean; logger?: JsonLogger } = {}) {
  const clock = new ManualClock();
  const { box } = await makeTestBox({ clock });
  const wire = new FakeWire();
  const notifier = new SnmpNotifier({
    box,
    clock,
    logger: o.logger ?? silentLogger,
    senderFactory: wire.factory,
  });
  box.attachSnmp(notifier);
  if (o.enable ?? true) {
    box.snmpEnable(ADMIN, true);
    box.snmpNotifyEnable(ADMIN, true);
  }
  box.snmpSetTarget(ADMIN, target(1001));
  box.snmpSetTarget(ADMIN, target(1002, { kind: 'informs' }));
  notifier.start();
  return { clock, box, wire, notifier };
}

/** Let queued promise callbacks run. */
const flush = () => new Promise<void>((r) => setImmediate(r));

function certEvent(box: Box) {
  return {
    boxId: box.boxId,
    hostname: box.hostname,
    domain: 'box1.lab.test',
    serial: '0A',
    expiresMs: Date.UTC(2026, 5, 1),
  };
}

const eventRows: {
  name: string;
  emit: (box: Box) => void;
  kind: keyof typeof NOTIFICATIONS;
  also?: (keyof typeof NOTIFICATIONS)[];
}[] = [
  {
    name: 'certificate-issued',
    emit: (b) => b.events.emit('certificate-issued', certEvent(b)),
    kind: 'cert-issued',
  },
  {
    name: 'certificate-renewed',
    emit: (b) => b.events.emit('certificate-renewed', { ...certEvent(b), previousSerial: '09' }),
    kind: 'cert-renewed',
  },
  {
    name: 'certificate-renewal-failed',
    emit: (b) => b.events.emit('certificate-renewal-failed', { ...certEvent(b), reason: 'CA down' }),
    kind: 'cert-renewal-failed',
  },
  {
    name: 'certificate-revoked',
    emit: (b) => b.events.emit('certificate-revoked', { ...certEvent(b), reason: 'superseded' }),
    kind: 'cert-revoked',
  },
  {
    name: 'certificate-cleared',
    emit: (b) => b.events.emit('certificate-cleared', certEvent(b)),
    kind: 'cert-cleared',
  },
  {
    name: 'certificate-expiring-soon',
    emit: (b) => b.events.emit('certificate-expiring-soon', { ...certEvent(b), daysLeft: 3 }),
    kind: 'cert-expiring-soon',
  },
  {
    name: 'booted cold',
    emit: (b) => b.events.emit('booted', { boxId: b.boxId, kind: 'cold', version: '6.10' }),
    kind: 'cold-start',
    also: ['reset'],
  },
  {
    name: 'booted warm',
    emit: (b) => b.events.emit('booted', { boxId: b.boxId, kind: 'warm', version: '6.10' }),
    kind: 'warm-start',
    also: ['reset'],
  },
  {
    name: 'login-failed',
    emit: (b) =>
      b.events.emit('login-failed', {
        boxId: b.boxId,
        user: 'mallory',
        address: '127.0.0.9',
        source: 'ssh 127.0.0.9:4000',
        transport: 'ssh',
      }),
    kind: 'auth-fail',
  },
  {
    name: 'config-saved',
    emit: (b) => b.events.emit('config-saved', { boxId: b.boxId, user: 'admin', fileName: 'initial' }),
    kind: 'config-save',
  },
  {
    name: 'firmware-changed',
    emit: (b) =>
      b.events.emit('firmware-changed', { boxId: b.boxId, previous: '5.13.00', version: '6.5.00' }),
    kind: 'firmware-change',
  },
];
for (const r of eventRows) {
  t.test(`${r.name} -> ${NOTIFICATIONS[r.kind].name} to every target`, async (t) => {
    const { box, wire, clock } = await setup();
    r.emit(box);
    await flush();
    // A second notification leaves one pacing interval later.
    clock.advance(10);
    await flush();
    t.same(wire.kinds(1001), [r.kind, ...(r.also ?? [])]);
    t.same(wire.kinds(1002), [r.kind, ...(r.also ?? [])]);
    t.equal(wire.sent[0]!.n.trapOid, NOTIFICATIONS[r.kind].oid);
  });
  t.test(`${r.name} is not sent when its event is switched off`, async (t) => {
    const { box, wire } = await setup();
    box.snmpSetEvent(ADMIN, r.kind, false);
    r.emit(box);
    await flush();
    t.same(
      wire.sent.filter((s) => s.n.kind === r.kind),
      [],
    );
  });
}

const gateRows: { name: string; enabled: boolean; notify: boolean; sent: boolean }[] = [
  { name: 'enabled and notify enabled: sent', enabled: true, notify: true, sent: true },
  { name: 'snmp-server enable off: nothing', enabled: false, notify: true, sent: false },
  { name: 'notify off: nothing', enabled: true, notify: false, sent: false },
];
for (const r of gateRows) {
  t.test(`running config is read at send time: ${r.name}`, async (t) => {
    const { box, wire } = await setup();
    box.snmpEnable(ADMIN, r.enabled);
    box.snmpNotifyEnable(ADMIN, r.notify);
    box.events.emit('certificate-issued', certEvent(box));
    await flush();
    t.equal(wire.sent.length > 0, r.sent);
  });
}

t.test('the notification carries the event facts and the running hostname', async (t) => {
  const { box, wire } = await setup();
  box.events.emit('certificate-revoked', { ...certEvent(box), hostname: 'renamed', reason: 'keyCompromise' });
  await flush();
  const vb = (oid: string) => wire.sent[0]!.n.varbinds.find((v) => v.oid === oid)?.value;
  t.equal(vb(OBJECTS.hostname), 'renamed');
  t.equal(vb(OBJECTS.reason), 'keyCompromise');
  t.equal(vb(OBJECTS.hardwareName), box.identity.model);
  t.equal(vb(OBJECTS.boxId), box.boxId);
});

t.test('senders get the target, the v3 user, the engine and the v1 agent address', async (t) => {
  const { box, wire, notifier } = await setup();
  box.snmpSetUser(ADMIN, { name: 'u', auth: { protocol: 'sha256', password: 'authpass1' } });
  box.snmpSetTarget(ADMIN, target(1003, { version: '3', user: 'u', community: undefined }));
  await notifier.sendTest();
  const spec = wire.made.find((s) => s.target.port === 1003)!;
  t.equal(spec.user?.name, 'u');
  t.equal(spec.engine.engineId(), notifier.engineId());
  t.equal(spec.agentAddr, '127.0.0.1');
});

t.test(
  'an unusable target (DES user) counts drops and logs once, never throws; an unknown user is refused',
  async (t) => {
    const lines: string[] = [];
    const logger = new JsonLogger('warn', {}, (l) => lines.push(l));
    const { clock, box, wire, notifier } = await setup({ logger });
    box.snmpSetUser(ADMIN, {
      name: 'old',
      auth: { protocol: 'sha', password: 'authpass1' },
      priv: { protocol: 'des', password: 'privpass1' },
    });
    box.snmpSetTarget(ADMIN, target(1003, { version: '3', user: 'old' }));
    t.throws(() => box.snmpSetTarget(ADMIN, target(1004, { version: '3', user: 'nobody' })), {
      code: 'not-found',
    });
    for (let i = 0; i < 3; i++) box.events.emit('certificate-issued', certEvent(box));
    clock.advance(100); // the paced queue lets one leave per millisecond at 1000/s
    await flush();
    const c = (port: number) => notifier.counters().find((x) => x.target.port === port)!;
    t.equal(c(1003).dropped, 3);
    t.equal(c(1001).sent, 3, 'the good targets are served');
    t.notOk(
      wire.made.some((s) => s.target.port === 1003 || s.target.port === 1004),
      'no session for them',
    );
    t.equal(lines.filter((l) => l.includes('DES')).length, 1, 'DES reason logged once');
    t.notOk(
      lines.some((l) => l.includes('privpass1') || l.includes('authpass1')),
      'no secrets in logs',
    );
  },
);

t.test('a sender factory that throws is a counted drop, not an exception in the event path', async (t) => {
  const clock = new ManualClock();
  const { box } = await makeTestBox({ clock });
  const notifier = new SnmpNotifier({
    box,
    clock,
    logger: silentLogger,
    senderFactory: () => {
      throw new Error('boom');
    },
  });
  box.snmpEnable(ADMIN, true);
  box.snmpNotifyEnable(ADMIN, true);
  box.snmpSetTarget(ADMIN, target(1001));
  notifier.start();
  t.doesNotThrow(() => box.events.emit('certificate-issued', certEvent(box)));
  t.equal(notifier.counters()[0]!.dropped, 1);
  notifier.stop();
});

t.test('counters(): every configured target in config order, zeros until used', async (t) => {
  const { box, notifier } = await setup();
  box.events.emit('certificate-issued', certEvent(box));
  await flush();
  const c = notifier.counters();
  t.same(
    c.map((x) => [x.target.port, x.target.kind, x.sent, x.acknowledged]),
    [
      [1001, 'traps', 1, 0],
      [1002, 'informs', 1, 1],
    ],
  );
  box.snmpSetTarget(ADMIN, target(1009));
  t.same(notifier.counters()[2], {
    target: target(1009),
    sent: 0,
    acknowledged: 0,
    retried: 0,
    timedOut: 0,
    dropped: 0,
  });
});

t.test(
  'sendTest() goes to every target whatever the events list; resolves when each is handled',
  async (t) => {
    const { clock, box, wire, notifier } = await setup();
    for (const e of ['cert-issued', 'cold-start']) box.snmpSetEvent(ADMIN, e, false);
    await notifier.sendTest();
    t.same(wire.kinds(), ['test', 'test']);
    const viaBox = box.snmpSendTest(ADMIN);
    clock.advance(10); // the next one leaves one pace later
    await viaBox;
    t.equal(wire.sent.length, 4, 'through the box command too');
  },
);

t.test('a changed target definition gets a new session; the old one is closed; counters stay', async (t) => {
  const { clock, box, wire } = await setup();
  box.events.emit('certificate-issued', certEvent(box));
  await flush();
  const made = wire.made.length;
  box.snmpSetTarget(ADMIN, target(1001, { community: 'other' }));
  t.equal(wire.closed, 1, 'old session closed on config-changed');
  box.events.emit('certificate-issued', certEvent(box));
  clock.advance(10);
  await flush();
  t.equal(wire.made.length, made + 1);
  t.equal(wire.made.at(-1)!.target.community, 'other');
  t.equal(box.snmpStatus()!.counters()[0]!.sent, 2, 'counted on host|port|kind');
});

t.test('expiring soon: detected from the ACME state, emitted as a device event, then sent', async (t) => {
  const { clock, box, wire } = await setup();
  const emitted: number[] = [];
  box.events.on('certificate-expiring-soon', (e) => emitted.push(e.daysLeft));
  const now = clock.now();
  await acmePortOf(box).installAcmeCertificate(
    'CERT',
    'KEY',
    acmeIssued({
      domain: 'box1.lab.test',
      directoryUrl: 'https://ca.lab.test/dir',
      firstIssuedMs: now,
      expiresMs: now + 10 * DAY_MS,
      serial: '0B',
      renewDays: 2,
      nextRenewalMs: now + 8 * DAY_MS,
    }),
  );
  // The agent ends its request: the notifier re-arms (renewal due after the warning time).
  box.events.emit('acme-request-finished', {
    boxId: box.boxId,
    request: {
      domain: 'box1.lab.test',
      directoryUrl: '',
      type: 'Issue',
      status: 'Success',
      reason: null,
      startedMs: now,
      finishedMs: now,
    },
  });
  clock.advance(3 * DAY_MS - 1);
  await flush();
  t.same(emitted, []);
  clock.advance(1);
  await flush();
  t.same(emitted, [7]);
  t.same(wire.kinds(1001), ['cert-expiring-soon']);
  const days = wire.sent[0]!.n.varbinds.find((v) => v.oid === OBJECTS.certDaysLeft)?.value;
  t.equal(days, 7);
});

t.test('stop(): unsubscribes, closes sessions, leaves no timer', async (t) => {
  const { clock, box, wire, notifier } = await setup();
  box.events.emit('certificate-issued', certEvent(box));
  await flush();
  notifier.stop();
  t.equal(wire.closed, 2);
  t.equal(clock.pendingTimers, 0);
  box.events.emit('certificate-issued', certEvent(box));
  await flush();
  t.equal(wire.sent.length, 2, 'nothing after stop');
});
