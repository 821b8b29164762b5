// Informs against a real snmptrapd: acknowledged and counted; with the
// receiver stopped they are retried with backoff, then counted as timed
// out, while the box keeps answering at once.
import t, { type Test } from 'tap';
import type { SnmpTarget } from '../../src/device/model.js';
import { SystemClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { SnmpNotifier, type SnmpNotifierOptions } from '../../src/snmp/notifier.js';
import { createNetSnmpSender } from '../../src/snmp/net-snmp-sender.js';
import { trapdUserFor } from '../../src/snmp/trapd-launcher.js';
import { ADMIN, makeTestBox } from '../harness/boxes.js';
import { startTrapReceiver } from '../harness/snmptrapd.js';

const user = {
  name: 'informer',
  auth: { protocol: 'sha512' as const, password: 'authpass-1' },
  priv: { protocol: 'aes-256' as const, password: 'privpass-1' },
};

/** Short timings so a dead receiver costs ~1 s per inform: 3 attempts of 200 ms, pauses 100 + 200 ms. */
const FAST: SnmpNotifierOptions['settings'] = {
  informTimeoutMs: 200,
  informRetries: 2,
  informBackoff: { initialMs: 100, factor: 2, maxMs: 400 },
};

async function setup(t: Test, version: '2c' | '3', settings?: SnmpNotifierOptions['settings']) {
  const clock = new SystemClock();
  const { box } = await makeTestBox({ clock });
  const rx = await startTrapReceiver({ communities: ['public'], users: [trapdUserFor(user)] });
  const notifier = new SnmpNotifier({
    senderFactory: createNetSnmpSender,
    box,
    clock,
    logger: silentLogger,
    ...(settings ? { settings } : {}),
  });
  box.attachSnmp(notifier);
  box.snmpEnable(ADMIN, true);
  box.snmpNotifyEnable(ADMIN, true);
  box.snmpSetUser(ADMIN, user);
  const target: SnmpTarget = { host: rx.host, port: rx.port, kind: 'informs', version, ratePerSec: 100 };
  if (version === '3') target.user = user.name;
  else target.community = 'public';
  box.snmpSetTarget(ADMIN, target);
  notifier.start();
  t.teardown(async () => {
    notifier.stop();
    await rx.stop();
  });
  return { box, rx, notifier };
}

const cert = {
  boxId: 1,
  hostname: 'box1',
  domain: 'box1.lab.test',
  serial: '01',
  expiresMs: Date.UTC(2026, 6, 1),
};

for (const version of ['2c', '3'] as const) {
  t.test(`v${version} informs are acknowledged and counted`, async (t) => {
    const { box, rx, notifier } = await setup(t, version);
    for (let i = 0; i < 5; i++)
      box.events.emit('certificate-renewed', { ...cert, serial: `0${i}`, previousSerial: 'FF' });
    await box.snmpSendTest(ADMIN); // resolves when its inform is answered; informs of one target leave in order
    await rx.waitForCount(6);
    const c = notifier.counters()[0]!;
    t.same([c.sent, c.acknowledged, c.retried, c.timedOut, c.dropped], [6, 6, 0, 0, 0]);
    t.ok(rx.notifications().every((n) => n.pdu === 'INFORM' && n.version === version));
  });

  t.test(
    `v${version}: receiver stopped -> retried with backoff, then timed out; the box stays responsive`,
    async (t) => {
      const { box, rx, notifier } = await setup(t, version, FAST);
      await box.snmpSendTest(ADMIN); // one answered first (v3: the receiver's engine is discovered)
      t.equal(notifier.counters()[0]!.acknowledged, 1);
      await rx.stop();

      const emitStarted = performance.now();
      for (let i = 0; i < 3; i++) box.events.emit('certificate-revoked', { ...cert, reason: 'superseded' });
      const emitMs = performance.now() - emitStarted;
      t.ok(emitMs < 250, `emitting returns at once (${emitMs.toFixed(1)} ms): fire-and-forget`);

      // While the informs wait for answers that never come, the box answers.
      const callStarted = performance.now();
      box.setHostname(ADMIN, 'still-here');
      await box.writeMemory(ADMIN);
      const callMs = performance.now() - callStarted;
      t.ok(callMs < 1000, `a box command answered in ${callMs.toFixed(1)} ms`);
      t.equal(box.hostname, 'still-here');

      // Three revocations and the write memory's config-save notification (raised by the box itself
      // since issue 12): four informs, each sent once and retried twice, then timed out.
      await waitUntil(() => notifier.counters()[0]!.timedOut === 4, 10_000);
      const c = notifier.counters()[0]!;
      t.same(
        {
          sent: c.sent,
          acknowledged: c.acknowledged,
          retried: c.retried,
          timedOut: c.timedOut,
          dropped: c.dropped,
        },
        { sent: 5, acknowledged: 1, retried: 8, timedOut: 4, dropped: 0 },
        '2 retries each, then timed out',
      );
    },
  );
}

t.test(
  'default inform policy (1500 ms x 4 attempts, backoff 0.5/1/2 s) against a dead receiver: sendTest resolves after ~9.5 s',
  async (t) => {
    const { box, rx, notifier } = await setup(t, '2c');
    await rx.stop();
    const started = performance.now();
    // Box timers (SystemClock) are unref'd, and so is an idle net-snmp socket:
    // between retries nothing of the box holds the event loop, by design (a box
    // never keeps its host alive). A real host has its listeners; the test holds it.
    const hold = setInterval(() => {}, 1000);
    await box.snmpSendTest(ADMIN);
    clearInterval(hold);
    const elapsed = performance.now() - started;
    const c = notifier.counters()[0]!;
    t.same([c.sent, c.retried, c.timedOut, c.acknowledged], [1, 3, 1, 0]);
    t.ok(elapsed >= 9000, `took ${elapsed.toFixed(0)} ms`);
  },
);

async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}
