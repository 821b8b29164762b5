// The shared MIB tree: every box-id walks in order to the end, and every
// ifIndex fits SNMP's Integer32 (a larger one cannot be encoded: the box
// would not answer at all).
import t from 'tap';
import { compareOids, mibTreeFor, zeroAgentCounters, type AgentBoxView, type MibContext } from './mib.js';

function ctx(boxId: number): MibContext {
  const box: AgentBoxView = {
    boxId,
    identity: { boxId, serial: 'S1', hostId: '52:54:00:00:00:01', model: 'GigaVUE-HC2' },
    hostname: `b${boxId}`,
    config: {
      snmp: { enabled: true, notifyEnabled: false, targets: [], users: [], events: [], expiringSoonDays: 7 },
    },
    image: { version: '6.5.00', buildId: '#1', buildDate: '2023-01-01 00:00:00' },
    uptimeMs: () => 1000,
    acmeState: () => ({ issued: null, lastRequest: null }),
  };
  return {
    box,
    engineIdHex: '8000',
    engineBoots: 1,
    engineTime: 1,
    counters: zeroAgentCounters(),
    contact: '',
    location: '',
  };
}

for (const boxId of [1, 127, 128, 255, 256, 1000, 65535]) {
  t.test(`box ${boxId}: a walk is ordered, ends, and ifIndex is an Integer32`, async (t) => {
    const tree = mibTreeFor('GigaVUE-HC2');
    const c = ctx(boxId);
    let oid = [1, 3];
    let count = 0;
    let ifIndexes = 0;
    for (;;) {
      const n = tree.next(oid, c);
      if (!n) break;
      const next = n.oid.split('.').map(Number);
      if (compareOids(next, oid) <= 0) t.fail(`not increasing at ${n.oid}`);
      if (n.oid.startsWith('1.3.6.1.2.1.2.2.1.1.')) {
        ifIndexes++;
        t.ok(
          (n.value.value as number) >= 1 && (n.value.value as number) <= 2147483647,
          `ifIndex ${String(n.value.value)}`,
        );
        t.same(tree.get(next, c), n.value, 'GET of a walked OID gives the same value');
      }
      oid = next;
      if (++count > 10_000) break;
    }
    t.equal(ifIndexes, 24, 'the 24 traffic ports');
    t.ok(count > 300 && count < 10_000, `${count} instances, then endOfMibView`);
  });
}
