/**
 * SNMP during a real ACME flow: a box with the real ACME agent against a real
 * Pebble and the real notifier pointed at a real snmptrapd. Issue, renew,
 * revoke and clear each produce their named notification in the receiver's
 * log, with the domain and the certificate's serial (the seed: a revocation
 * sends a trap to the manager).
 */
import t from 'tap';
import { freePort } from '../../src/lib/net.js';
import { SnmpNotifier } from '../../src/snmp/notifier.js';
import { createNetSnmpSender } from '../../src/snmp/net-snmp-sender.js';
import { silentLogger } from '../../src/lib/logger.js';
import { ADMIN } from '../harness/boxes.js';
import { startAcmeBox, startPebble } from '../harness/pebble.js';
import { TrapReceiver, type ReceivedNotification } from '../harness/snmptrapd.js';
import { notifyTo } from '../harness/snmp-target.js';

const ADDRESS = '127.0.0.71';
const DOMAIN = 'snmp-flow.lab.test';

t.test('issue, renew, revoke and clear each reach snmptrapd as named notifications', async (t) => {
  const httpPort = await freePort(ADDRESS);
  const pebble = await startPebble({ httpPort, defaultIPv4: ADDRESS });
  t.teardown(() => pebble.stop());
  const rx = await TrapReceiver.start({ communities: ['public'] });
  t.teardown(() => rx.stop());
  const ab = await startAcmeBox(pebble, { address: ADDRESS, httpPort });
  t.teardown(() => ab.stop());
  const { box, clock } = ab;
  const notifier = new SnmpNotifier({ senderFactory: createNetSnmpSender, box, clock, logger: silentLogger });
  box.attachSnmp(notifier);
  notifier.start();
  t.teardown(() => notifier.stop());
  notifyTo(box, rx, 'traps', 100);

  const finished = () =>
    new Promise<void>((resolve, reject) => {
      const off = box.events.on('acme-request-finished', (e) => {
        off();
        if (e.request.status === 'Success') resolve();
        else reject(new Error(`ACME ${e.request.type} failed: ${e.request.reason}`));
      });
    });
  const named = (name: string) => (n: ReceivedNotification) =>
    n.name === name && JSON.stringify(n).includes(DOMAIN);

  let done = finished();
  await box.acmeIssue(ADMIN, { domain: DOMAIN, directoryUrl: pebble.directoryUrl });
  await done;
  const first = box.acmeState().issued!.serial;
  const issued = await rx.waitFor(named('gvosSimCertIssued'), 10_000);
  t.match(JSON.stringify(issued), first, 'the issued notification carries the serial');

  done = finished();
  await box.acmeRenew(ADMIN, DOMAIN);
  await done;
  const second = box.acmeState().issued!.serial;
  t.not(second, first);
  t.match(JSON.stringify(await rx.waitFor(named('gvosSimCertRenewed'), 10_000)), second);

  done = finished();
  await box.acmeRevoke(ADMIN, DOMAIN);
  await done;
  const revoked = await rx.waitFor(named('gvosSimCertRevoked'), 10_000);
  t.match(JSON.stringify(revoked), second, 'the revoked notification names the old serial');
  t.equal((await pebble.certStatus(second)).Status, 'Revoked', 'and Pebble agrees');

  await box.acmeClear(ADMIN);
  await rx.waitFor(named('gvosSimCertCleared'), 10_000);
  t.equal(box.webCertificateName, 'default-cert');
});
