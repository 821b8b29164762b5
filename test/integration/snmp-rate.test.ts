// 1000 traps to one receiver at the default pace: all 1000 arrive (UDP
// traps in a burst are lost on this machine: peers.md §5). The receiver's
// log is the judge.
import t from 'tap';
import { SystemClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { DEFAULT_RATE_PER_SEC, SnmpNotifier } from '../../src/snmp/notifier.js';
import { createNetSnmpSender } from '../../src/snmp/net-snmp-sender.js';
import { varbindValue } from '../../src/snmp/trapd-launcher.js';
import { makeTestBox } from '../harness/boxes.js';
import { startTrapReceiver } from '../harness/snmptrapd.js';
import { notifyTo } from '../harness/snmp-target.js';

const COUNT = 1000;

t.test(
  `${COUNT} v2c traps at the default pace (${DEFAULT_RATE_PER_SEC}/s) all reach snmptrapd`,
  async (t) => {
    const clock = new SystemClock();
    const { box } = await makeTestBox({ clock });
    const rx = await startTrapReceiver({ communities: ['public'] });
    const notifier = new SnmpNotifier({
      senderFactory: createNetSnmpSender,
      box,
      clock,
      logger: silentLogger,
    });
    t.teardown(async () => {
      notifier.stop();
      await rx.stop();
    });
    notifyTo(box, rx, 'traps', DEFAULT_RATE_PER_SEC);
    notifier.start();

    // All at once, as a burst of events would come: the queue paces them.
    for (let i = 0; i < COUNT; i++) {
      box.events.emit('certificate-issued', {
        boxId: 1,
        hostname: 'box1',
        domain: 'box1.lab.test',
        serial: `S${i}`,
        expiresMs: Date.UTC(2026, 6, 1),
      });
    }
    const started = performance.now();
    const got = await rx.waitForCount(
      COUNT,
      (n) => n.name === 'gvosSimCertIssued',
      (COUNT / DEFAULT_RATE_PER_SEC) * 1000 + 15_000,
    );
    const seconds = (performance.now() - started) / 1000;
    t.equal(
      new Set(got.map((n) => varbindValue(n, 'gvosSimCertSerial'))).size,
      COUNT,
      'every one arrived, none twice',
    );
    const c = notifier.counters()[0]!;
    t.same([c.sent, c.dropped], [COUNT, 0]);
    t.comment(
      `${COUNT} traps in ${seconds.toFixed(1)} s = ${(COUNT / seconds).toFixed(0)}/s reached snmptrapd, 0 lost`,
    );
  },
);
