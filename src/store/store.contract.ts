/**
 * The Store contract, run against every implementation (store.test.ts).
 * See store.ts for what it promises.
 */
import type { Test } from 'tap';
import type { BoxDocument } from '../device/model.js';
import type { Store } from './store.js';

/** A self-signed P-256 certificate (100 years) and its key, so that sample documents pass the state check. */
const SAMPLE_CERT = `-----BEGIN CERTIFICATE-----
MIIBeTCCAR+gAwIBAgIUGT+E7edODRSV+4cl5nv0lZaub1AwCgYIKoZIzj0EAwIw
ETEPMA0GA1UEAwwGc2FtcGxlMCAXDTI2MTIwNTA0MDUzNVoYDzIxMjYxMTExMDQw
NTM1WjARMQ8wDQYDVQQDDAZzYW1wbGUwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC
AASNdWC08CwrqqXXHcvGR0Bn0pbMiGrLZgT1JVYgBrdltR7fHA1jTqKmSDYI6ofx
Z43KvJJOg2nTU5hwXiZtftIBo1MwUTAdBgNVHQ4EFgQUc+2CRcIoYexoz3V5bbMz
PN0kbgcwHwYDVR0jBBgwFoAUc+2CRcIoYexoz3V5bbMzPN0kbgcwDwYDVR0TAQH/
BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEA7CHCmwkvFM/xrvm59n8UYx5zL22C
oWgHent6WaXgfPsCIDpD0Y0NEismjqkSiyU13PbRe4/g8g7u0HgD1aAcolmw
-----END CERTIFICATE-----
`;
const SAMPLE_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgeXh3Ry+0zB1FZpmV
6l48LjmvBP63lzoyrabZPa/S3GehRANCAASNdWC08CwrqqXXHcvGR0Bn0pbMiGrL
ZgT1JVYgBrdltR7fHA1jTqKmSDYI6ofxZ43KvJJOg2nTU5hwXiZtftIB
-----END PRIVATE KEY-----
`;

/** A small valid document; `n` makes documents distinguishable. */
export function sampleDocument(n: number): BoxDocument {
  return {
    schema: 1,
    identity: { boxId: 1, serial: `S${n}`, hostId: '02:00:00:00:00:01', model: 'GigaVUE-HC2' },
    config: {
      hostname: `box-${n}`,
      nameServers: [],
      domainList: [],
      users: { admin: { role: 'admin', passwordHash: 'scrypt$sample' } },
      cryptoMode: 'classic',
      snmp: { enabled: false, notifyEnabled: false, targets: [], users: [], events: [], expiringSoonDays: 7 },
    },
    crypto: {
      certificates: {
        'default-cert': {
          name: 'default-cert',
          certPem: SAMPLE_CERT,
          keyPem: SAMPLE_KEY,
          origin: 'default',
          addedAtMs: 0,
        },
      },
      caList: [],
      webCert: 'default-cert',
    },
    acme: { issued: null, lastRequest: null, accounts: [] },
    firmware: { running: '6.5.00', fetched: [], installed: null, nextBoot: null },
    snmpEngine: { boots: n },
    sshHostKey: SAMPLE_KEY,
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
