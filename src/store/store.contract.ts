/**
 * The Store contract, run against every implementation (store.test.ts).
 * See store.ts for what it promises.
 */
import type { Test } from 'tap';
import type { BoxDocument } from '../device/model.js';
import type { Store } from './store.js';

/** A small valid document; `n` makes documents distinguishable. */
export function sampleDocument(n: number): BoxDocument {
  return {
    schema: 1,
    identity: { boxId: 1, serial: `S${n}`, hostId: '02:00:00:00:00:01', model: 'GigaVUE-HC2' },
    config: {
      hostname: `box-${n}`,
      nameServers: [],
      domainList: [],
      users: {},
      cryptoMode: 'classic',
      snmp: { enabled: false, notifyEnabled: false, targets: [], users: [], events: [], expiringSoonDays: 7 },
    },
    crypto: { certificates: {}, caList: [], webCert: 'default-cert' },
    acme: { issued: null, lastRequest: null, accounts: [] },
    firmware: { running: '6.5.00', fetched: [], installed: null, nextBoot: null },
    snmpEngine: { boots: n },
    sshHostKey: 'k',
  };
}

/** Run the contract; `make` returns a fresh, empty store each call. */
export function storeContract(t: Test, name: string, make: () => Promise<Store>): void {
  t.test(`${name}: a fresh store loads nothing`, async (t) => {
    const s = await make();
    t.equal(await s.load(), undefined);
  });
  t.test(`${name}: load returns the last save`, async (t) => {
    const s = await make();
    await s.save(sampleDocument(1));
    await s.save(sampleDocument(2));
    t.same(await s.load(), sampleDocument(2));
  });
  t.test(`${name}: a saved document is a copy, later changes to the object are not stored`, async (t) => {
    const s = await make();
    const d = sampleDocument(3);
    await s.save(d);
    d.config.hostname = 'changed';
    t.equal((await s.load())!.config.hostname, 'box-3');
  });
}
