/**
 * In-process boxes for unit and integration tests: a Box on a MemoryStore
 * with the real firmware catalog. No listeners; see box-process.ts for a real
 * box process.
 */
import type { AcmeAgentPort } from '../../src/device/acme-agent-port.js';
import { Box, type BoxOptions } from '../../src/device/box.js';
import { Cluster } from '../../src/device/cluster.js';
import { createFirstBootDocument, prepareBoot } from '../../src/device/first-boot.js';
import type { CryptoMode } from '../../src/device/model.js';
import { hashPasswordAsync } from '../../src/device/passwords.js';
import type { Actor } from '../../src/device/roles.js';
import { FileFirmwareCatalog } from '../../src/firmware/catalog.js';
import { ManualClock, type Clock } from '../../src/lib/clock.js';
import { silentLogger } from '../../src/lib/logger.js';
import { MemoryStore } from '../../src/store/memory-store.js';
import { FileUrlConfigTransfer } from '../../src/store/config-file-url.js';

export const ADMIN: Actor = { user: 'admin', role: 'admin', source: 'test' };
export const OPERATOR: Actor = { user: 'op', role: 'operator', source: 'test' };
export const MONITOR: Actor = { user: 'mon', role: 'monitor', source: 'test' };
export const TEST_PASSWORD = 'Adm1n-test-pw';

export interface TestBoxOptions {
  boxId?: number;
  hostname?: string;
  cryptoMode?: CryptoMode;
  firmware?: string;
  model?: string;
  clock?: Clock;
  address?: string;
  cluster?: Cluster;
}

export interface TestBox {
  box: Box;
  store: MemoryStore;
  clock: Clock;
  cluster: Cluster;
}

const catalog = new FileFirmwareCatalog();

/** The ACME agent port of each box made here: tests stand in for the agent, or hand the port to a real one. */
const ports = new WeakMap<Box, AcmeAgentPort>();

/** A box and its agent port (Box.create), the port kept for acmePortOf(). */
export function createTestBox(o: BoxOptions): Box {
  const { box, acmePort } = Box.create(o);
  ports.set(box, acmePort);
  return box;
}

/** The ACME agent port of a box made by this harness. */
export function acmePortOf(box: Box): AcmeAgentPort {
  const port = ports.get(box);
  if (!port) throw new Error(`box ${box.boxId} was not made by test/harness/boxes.ts`);
  return port;
}

/**
 * TEST_PASSWORD's stored hash, made once per process and handed to every box
 * made here (first boot's adminPasswordHash, as a cluster does for its boxes):
 * scrypt costs ~50 ms of CPU a hash, and a test file makes up to ~50 boxes
 * without being about the hash. Logins still verify against it with scrypt.
 */
let testPasswordHash: Promise<string> | undefined;

/** A booted box on a MemoryStore, added to `cluster` (a new one by default). */
export async function makeTestBox(o: TestBoxOptions = {}): Promise<TestBox> {
  const clock = o.clock ?? new ManualClock();
  const boxId = o.boxId ?? 1;
  const address = o.address ?? '127.0.0.1';
  const doc = await createFirstBootDocument({
    boxId,
    hostname: o.hostname ?? `box${boxId}`,
    model: o.model ?? 'GigaVUE-HC2',
    firmware: o.firmware ?? catalog.latest().version,
    cryptoMode: o.cryptoMode ?? 'secure-crypto',
    adminPassword: TEST_PASSWORD,
    adminPasswordHash: await (testPasswordHash ??= hashPasswordAsync(TEST_PASSWORD)),
    address,
    nowMs: clock.now(),
    seed: 'test',
  });
  const store = new MemoryStore();
  const booted = prepareBoot(doc, clock.now());
  await store.save(booted);
  const cluster = o.cluster ?? new Cluster('test');
  const box = createTestBox({
    doc: booted,
    persistence: store,
    clock,
    logger: silentLogger,
    firmware: catalog,
    address,
    bootKind: 'cold',
    clusterName: cluster.name,
    configTransfer: new FileUrlConfigTransfer(),
  });
  cluster.set(box);
  return { box, store, clock, cluster };
}
