// Four boxes, each on its own loopback address, send v1, v2c and v3 traps
// and a v2c inform to one real snmptrapd: every notification arrives from
// its box's address (snmptrapd's %b), as a receiver that files v2c/v3
// notifications by UDP source (LibreNMS, Zabbix) needs; `show snmp host`
// names that address. Between notifications no box holds a UDP socket
// (`ss` lists none on the boxes' addresses): a socket per box and target
// would not fit 10,000 boxes in one process's open files.
import { execFileSync } from 'node:child_process';
import t from 'tap';
import type { Box } from '../../src/device/box.js';
import { Cluster } from '../../src/device/cluster.js';
import { SystemClock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { renderSnmpHosts } from '../../src/cli/commands/snmp.js';
import { SnmpNotifier } from '../../src/snmp/notifier.js';
import { createNetSnmpSender } from '../../src/snmp/net-snmp-sender.js';
import { trapdUserFor } from '../../src/snmp/trapd-launcher.js';
import { ADMIN, makeTestBox } from '../harness/boxes.js';
import { startTrapReceiver } from '../harness/snmptrapd.js';
import { v2cTargetAt } from '../harness/snmp-target.js';

const user = {
  name: 'u3',
  auth: { protocol: 'sha256' as const, password: 'auth-pass-123' },
  priv: { protocol: 'aes-128' as const, password: 'priv-pass-456' },
};

/** The UDP sockets this process holds on any of `addresses`, as `ss` lists them. */
function udpSocketsOn(addresses: readonly string[]): string[] {
  const out = execFileSync('ss', ['-uanpH'], { encoding: 'utf8' });
  return out
    .split('\n')
    .filter((l) => l.includes(`pid=${process.pid},`) && addresses.some((a) => l.includes(` ${a}:`)));
}

t.test('each box traps from its own address, every version', async (t) => {
  const clock = new SystemClock();
  const cluster = new Cluster('src');
  const boxes: { box: Box; notifier: SnmpNotifier; address: string }[] = [];
  for (let id = 1; id <= 4; id++) {
    const address = `127.0.0.${110 + id}`;
    const { box } = await makeTestBox({ clock, boxId: id, hostname: `src${id}`, address, cluster });
    const notifier = new SnmpNotifier({
      senderFactory: createNetSnmpSender,
      box,
      clock,
      logger: silentLogger,
    });
    box.attachSnmp(notifier);
    boxes.push({ box, notifier, address });
  }
  const rx = await startTrapReceiver({
    communities: ['public'],
    users: boxes.map((b) => trapdUserFor(user, b.notifier.engineId())),
  });
  t.teardown(async () => {
    for (const b of boxes) b.notifier.stop();
    await rx.stop();
  });
  for (const { box, notifier } of boxes) {
    box.snmpEnable(ADMIN, true);
    box.snmpNotifyEnable(ADMIN, true);
    box.snmpSetUser(ADMIN, user);
    notifier.start();
  }
  for (const { box } of boxes) {
    box.snmpSetTarget(ADMIN, v2cTargetAt(rx, 'informs', 100));
  }
  // Targets are keyed by host, port and kind: each round replaces the trap target with the next version.
  for (const version of ['1', '2c', '3'] as const) {
    for (const { box } of boxes) {
      box.snmpSetTarget(ADMIN, {
        host: rx.host,
        port: rx.port,
        kind: 'traps',
        version,
        ...(version === '3' ? { user: 'u3' } : { community: 'public' }),
        ratePerSec: 100,
      });
      await box.snmpSendTest(ADMIN);
    }
  }
  // 4 boxes x 3 rounds x (one trap + one inform).
  const got = await rx.waitForCount(24, (n) => n.name === 'gvosSimTest', 15_000);
  // The last informs' responses may still be on their way back: wait (bounded) for them to be counted.
  const addresses = boxes.map((b) => b.address);
  const informsAcked = () =>
    boxes.every(({ notifier }) => notifier.counters().some((c) => c.acknowledged >= 3));
  for (let i = 0; i < 100 && !informsAcked(); i++) await new Promise((r) => setTimeout(r, 50));
  t.ok(informsAcked(), 'every box counted its three informs acknowledged');
  t.same(udpSocketsOn(addresses), [], 'no box holds a UDP socket once its notifications are out (ss)');
  for (const { box, address } of boxes) {
    const mine = got.filter((n) => n.varbinds.some((v) => v.value.includes(`src${box.boxId}`)));
    t.ok(mine.length >= 6, `box ${box.boxId}: its notifications arrived (${mine.length})`);
    for (const n of mine) {
      t.match(
        n.transport,
        new RegExp(`^UDP: \\[${address.replace(/\./g, '\\.')}\\]:\\d+->`),
        `${n.version} ${n.pdu} from ${address}`,
      );
    }
    t.same(
      new Set(mine.map((n) => `${n.version}/${n.pdu}`)),
      new Set(['1/TRAP', '2c/INFORM', '2c/TRAP2', '3/TRAP2']),
    );
    const show = renderSnmpHosts(box).join('\n');
    t.match(show, /Source/, 'show snmp host has a Source column');
    t.match(
      show,
      new RegExp(`${rx.host}\\s+${rx.port}\\s+${address.replace(/\./g, '\\.')}\\s`),
      'and names the address',
    );
  }
});
