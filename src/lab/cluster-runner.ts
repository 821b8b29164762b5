/**
 * Many boxes in one process: one Cluster (so a CLI session on any box reaches
 * the others by box-id), one lab clock, and per box a BoxHost with its own
 * address, data directory and identity (serial, host id, keys) derived from
 * the lab's seed and the box-id, so a lab is reproducible.
 *
 * Addressing (issue 5): every box gets its own loopback address, base +
 * offset + box-id (127.0.0.103 for box 3; carried into the third octet past
 * .255, so box 1000 is 127.0.4.76) and listens on the standard ports
 * 22/23/443/80, so `ssh admin@127.0.0.103` reaches box 3. Where that cannot be bound (not
 * root, or an OS that has only 127.0.0.1, or a port taken on every address)
 * the lab falls back to one address with port offsets: port = base + box-id.
 *
 * Contract:
 * - add/start/stop/kill/reload/remove act on one box; the others keep
 *   serving. They may run concurrently for different boxes; calls for the
 *   same box are serialised.
 * - kill is abrupt: from that moment no state write reaches the disk (as if
 *   the power went), listeners and sessions close; start() boots the box
 *   again from what was stored before.
 * - stopAll() stops every running box and resolves when every port is free.
 *
 * First boots at scale (bench/scale.ts, a thousand boxes in one process):
 * - the admin password is hashed once for the lab (every box gets the same
 *   stored hash, salt included) instead of ~50 ms of scrypt per box;
 * - EMULATION: the classic-mode boxes of one lab share one RSA-2048 key for
 *   their default certificates (each box still signs its own certificate:
 *   its CN, SANs and serial). A fresh RSA-2048 key costs ~90 ms of CPU on
 *   two cores: a thousand classic boxes would keep a person waiting 90 s for
 *   placeholder certificates that ACME replaces anyway. A box alone
 *   (`gvos-sim box`) still makes its own key. P-256 keys (secure-crypto,
 *   fips: the lab's default) cost 0.4 ms and stay per box.
 */
import { listenProblem } from '../lib/net.js';
import { rm } from 'node:fs/promises';
import { Cluster } from '../device/cluster.js';
import type { Box } from '../device/box.js';
import { Gate, GateMap } from '../lib/gate.js';
import type { ConnectFaults } from '../lib/connect-faults.js';
import type { BoxDocument, CryptoMode } from '../device/model.js';
import type { FirmwareCatalog } from '../device/firmware.js';
import type { SystemClock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { AcmeAgentSettings } from '../acme/agent.js';
import { BoxHost, boxDataDir, type BoxPorts } from '../host/box-host.js';
import { ListenerPool } from '../host/listener-pool.js';
import { BOX_ID_MAX, isBoxId, PORT_MAX, SNMP_AGENT_PORT } from '../device/limits.js';
import type { Store } from '../store/store.js';
import { LowdbStore } from '../store/lowdb-store.js';
import { BoxClock } from './box-clock.js';
import { TrustCache } from '../acme/trust-cache.js';
import { hashPasswordAsync } from '../device/passwords.js';
import { generateKeyPair } from '../pki/keys.js';

/** What a box of the lab is made of (first boot; the stored state wins later). */
export interface LabBoxSpec {
  boxId: number;
  hostname: string;
  model: string;
  firmware: string;
  cryptoMode: CryptoMode;
  /** The agent's sysObjectID instead of the model's (topology `sys-object-id`; first boot). */
  sysObjectId?: string;
  /** Explicit address; default from the lab's addressing. */
  address?: string;
  /** The lab's only (the runner ignores it): this box's certificate names its address too; absent = the topology's on-start default. */
  addressInCertificate?: boolean;
  /** Explicit ports (any subset); the rest from the lab's addressing. */
  ports?: Partial<BoxPorts>;
}

/** How boxes get their address and ports. */
export interface Addressing {
  /**
   * addresses: one loopback address per box, standard ports;
   * ports: one shared address, port = base + box-id.
   */
  mode: 'addresses' | 'ports';
  /** IPv4 base of per-box addresses: box N gets base + offset + N. */
  addressBase: string;
  addressOffset: number;
  /** The shared address in ports mode. */
  sharedAddress: string;
  /** Standard ports (addresses mode). */
  standardPorts: BoxPorts;
  /** Port bases (ports mode): port = base + box-id. */
  portBase: BoxPorts;
}

/** The default addressing: 127.0.0.(100+N) on 22/23/443/80 and UDP 161; fallback 127.0.0.1 with 2200/2300/4400/8000/16100 + N. */
export const DEFAULT_ADDRESSING: Addressing = {
  mode: 'addresses',
  addressBase: '127.0.0.0',
  addressOffset: 100,
  sharedAddress: '127.0.0.1',
  standardPorts: { ssh: 22, cli: 23, https: 443, http: 80, snmp: SNMP_AGENT_PORT },
  portBase: { ssh: 2200, cli: 2300, https: 4400, http: 8000, snmp: 16100 },
};

/** The state of one box as the runner sees it. */
export type LabBoxState = 'starting' | 'running' | 'stopping' | 'stopped' | 'killed' | 'failed';

/** One box of the lab: its spec, where it listens, its state and last error. */
export interface LabBoxInfo {
  spec: LabBoxSpec;
  address: string;
  ports: BoxPorts;
  state: LabBoxState;
  error?: string;
}

/** What a runner is built from; the same seed and box-id give the same box identity. */
export interface ClusterRunnerOptions {
  clusterName: string;
  /** The lab's directory; box N keeps its state in <labDir>/box-N. */
  labDir: string;
  seed: string;
  /** First boot only (every box of the lab gets the same admin password). */
  adminPassword: string;
  clock: SystemClock;
  logger: Logger;
  catalog: FirmwareCatalog;
  addressing: Addressing;
  acmeSettings?: AcmeAgentSettings;
  /** The faults of each box's path to its ACME server (one object per box-id, kept across restarts). */
  acmeFaults?: (boxId: number) => ConnectFaults;
  /**
   * Put the boxes' TCP listening sockets in listener processes holding at
   * most `perProcess` each (src/host/listener-pool.ts), for a lab larger than
   * this process's open-files limit allows (lab/open-files.ts decides).
   * Default: every box listens in this process.
   */
  listenerProcesses?: { perProcess: number };
  /**
   * The breaker of the boxes' gate to each ACME server (lib/gate.ts): when
   * the requests in flight to it have had no answer for this long (ms), the
   * boxes still waiting fail at once. 0 or absent: no breaker.
   */
  caSilenceMs?: number;
}

/**
 * The Cluster of a lab, which also tells the runner when a box object comes
 * up (first boot, start, reload): the lab re-applies its faults and
 * subscriptions to the new object, since a reload replaces it.
 */
export class LabCluster extends Cluster {
  private readonly listeners = new Set<(box: Box) => void>();

  override set(box: Box): void {
    super.set(box);
    for (const l of [...this.listeners]) l(box);
  }

  /** Call `listener` each time a box object joins (boot, start, reload); returns an unsubscribe function. */
  onBoxUp(listener: (box: Box) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** A Store that can lose power: after cut(), writes fail and nothing more reaches the disk. */
class CuttableStore implements Store {
  private cutOff = false;
  constructor(private readonly inner: Store) {}
  get location(): string {
    return this.inner.location;
  }
  load(): Promise<BoxDocument | undefined> {
    return this.inner.load();
  }
  async save(doc: BoxDocument): Promise<void> {
    if (this.cutOff) throw new Error('the box was killed; the write was lost');
    await this.inner.save(doc);
  }
  cut(): void {
    this.cutOff = true;
  }
}

interface Slot {
  spec: LabBoxSpec;
  address: string;
  ports: BoxPorts;
  state: LabBoxState;
  error?: string;
  host?: BoxHost;
  store?: CuttableStore;
  clock: BoxClock;
  /** Serialises operations on this box. */
  queue: Promise<unknown>;
}

/**
 * Requests in flight to one ACME server from all the boxes of a lab. Enough
 * to keep a CA on two cores busy (a P-256 certificate costs Pebble ~4 ms of
 * CPU), few enough that a thousand boxes issuing at once queue here instead
 * of in the CA's accept queue and locks. Measured (bench scale, 1000 boxes):
 * with 64, Pebble 2.4.0 stalled at the start of 3 of 6 runs; with 16, 3 of
 * 3 passed, at the same certificates per second (fleet-issuance 107/s).
 */
const ACME_REQUESTS_PER_SERVER = 16;

/**
 * Boxes booting at once. A boot is mostly CPU (two cores keep busy with a
 * few), but each one holds files open meanwhile (its state file, its temp
 * copy): 10,000 boxes started together would open them all at once beside
 * the running boxes' sockets and meet the open-files limit (EMFILE).
 */
const BOOTS_AT_ONCE = 64;

/** The boxes of one lab in this process (see the file comment for the contract). */
export class ClusterRunner {
  readonly cluster: LabCluster;
  private readonly slots = new Map<number, Slot>();
  /**
   * Box-ids by the address they listen on: a notification is told apart by
   * the address it came from, a lookup per trap, so not a scan of the lab
   * (10,000 boxes each sending one at start made that quadratic).
   */
  private readonly byAddress = new Map<string, Set<number>>();
  private readonly log: Logger;
  private readonly stateListeners = new Set<(boxId: number, state: LabBoxState, error?: string) => void>();
  /** One for all boxes: the CA lists of a lab's boxes are the same, so the ACME trust material is built once. */
  private readonly trustCache = new TrustCache();
  /**
   * One for all boxes: at most ACME_REQUESTS_PER_SERVER requests in flight
   * to one ACME server from the lab (see src/lib/gate.ts for why), and its
   * silence breaker (options.caSilenceMs).
   */
  readonly acmeGates: GateMap;
  /** At most BOOTS_AT_ONCE boxes booting (first boot, start, not reload). */
  private readonly boots = new Gate(BOOTS_AT_ONCE);
  /** The admin password hashed once for every first boot (scrypt costs ~50 ms per hash). */
  private passwordHash: Promise<string> | undefined;
  /**
   * The RSA-2048 key of the default certificates of the lab's classic-mode
   * boxes, made on the first such first boot. See the file comment.
   */
  private defaultRsaKey: Promise<string> | undefined;
  /** The listener processes, when the options ask for them. */
  readonly listenerPool: ListenerPool | undefined;

  constructor(private readonly o: ClusterRunnerOptions) {
    this.cluster = new LabCluster(o.clusterName);
    this.log = o.logger;
    this.acmeGates = new GateMap(ACME_REQUESTS_PER_SERVER, { silenceMs: o.caSilenceMs ?? 0 });
    if (o.listenerProcesses)
      this.listenerPool = new ListenerPool({ perProcess: o.listenerProcesses.perProcess, logger: o.logger });
  }

  get addressing(): Addressing {
    return this.o.addressing;
  }

  /**
   * Call `listener` each time a box reaches running, stopped, killed or
   * failed (not the passing starting/stopping); returns the unsubscribe
   * function. The lab's event bus is fed from it.
   */
  onStateChange(listener: (boxId: number, state: LabBoxState, error?: string) => void): () => void {
    this.stateListeners.add(listener);
    return () => void this.stateListeners.delete(listener);
  }

  private settled(slot: Slot): void {
    for (const l of [...this.stateListeners]) {
      try {
        l(slot.spec.boxId, slot.state, slot.error);
      } catch (err) {
        this.log.error('box state listener failed', { boxId: slot.spec.boxId, err });
      }
    }
  }

  /** Box-ids of the lab (running or not), ascending. */
  ids(): number[] {
    return [...this.slots.keys()].sort((a, b) => a - b);
  }

  has(boxId: number): boolean {
    return this.slots.has(boxId);
  }

  /** The lowest box-id of the lab that listens on `address` (several in ports mode), or undefined. */
  boxIdAt(address: string): number | undefined {
    let lowest: number | undefined;
    for (const id of this.byAddress.get(address) ?? []) if (lowest === undefined || id < lowest) lowest = id;
    return lowest;
  }

  private index(boxId: number, address: string, on: boolean): void {
    let ids = this.byAddress.get(address);
    if (on) {
      if (!ids) this.byAddress.set(address, (ids = new Set()));
      ids.add(boxId);
    } else if (ids) {
      ids.delete(boxId);
      if (ids.size === 0) this.byAddress.delete(address);
    }
  }

  /** Where box `boxId` listens and in what state it is. Throws for an unknown box-id. */
  info(boxId: number): LabBoxInfo {
    const s = this.slot(boxId);
    // A reload runs inside the host: between its stop and its boot the box is not running.
    const state: LabBoxState = s.state === 'running' && s.host && !s.host.running ? 'starting' : s.state;
    return {
      spec: { ...s.spec },
      address: s.address,
      ports: { ...s.ports },
      state,
      ...(s.error ? { error: s.error } : {}),
    };
  }

  /** Every box, by box-id. */
  list(): LabBoxInfo[] {
    return this.ids().map((id) => this.info(id));
  }

  /** The running Box object (replaced on reload: look it up each time), or undefined. */
  box(boxId: number): Box | undefined {
    const h = this.slots.get(boxId)?.host;
    return h?.running ? h.box : undefined;
  }

  /** The host of a running box (tests: session counts). */
  host(boxId: number): BoxHost | undefined {
    return this.slots.get(boxId)?.host;
  }

  /** The clock of box `boxId` (kept across restarts). */
  clock(boxId: number): BoxClock {
    return this.slot(boxId).clock;
  }

  /** Add a box and start it. Rejects for a box-id in use or when it cannot start (nothing left running then). */
  async add(spec: LabBoxSpec): Promise<LabBoxInfo> {
    if (!isBoxId(spec.boxId)) {
      throw new Error(`box-id must be a whole number from 1 to ${BOX_ID_MAX}, got ${spec.boxId}`);
    }
    if (this.slots.has(spec.boxId)) throw new Error(`box-id ${spec.boxId} is already in the lab`);
    const { address, ports } = endpointFor(spec, this.o.addressing);
    const slot: Slot = {
      spec: { ...spec },
      address,
      ports,
      state: 'stopped',
      clock: new BoxClock(this.o.clock),
      queue: Promise.resolve(),
    };
    this.slots.set(spec.boxId, slot);
    this.index(spec.boxId, address, true);
    try {
      await this.enqueue(slot, () => this.boot(slot));
    } catch (err) {
      this.slots.delete(spec.boxId);
      this.index(spec.boxId, address, false);
      throw err;
    }
    return this.info(spec.boxId);
  }

  /** Start a stopped or killed box from its stored state (no-op when running). */
  start(boxId: number): Promise<void> {
    const slot = this.slot(boxId);
    return this.enqueue(slot, async () => {
      if (slot.state === 'running') return;
      await this.boot(slot);
    });
  }

  /** Stop a box cleanly: sessions and listeners close, the state is flushed (no-op when not running). */
  stop(boxId: number): Promise<void> {
    const slot = this.slot(boxId);
    return this.enqueue(slot, async () => {
      if (!slot.host) return;
      slot.state = 'stopping';
      await slot.host.stop();
      slot.host = undefined;
      slot.store = undefined;
      slot.state = 'stopped';
      this.settled(slot);
    });
  }

  /** Kill a box abruptly (see the class contract); start() brings it back from its stored state. */
  kill(boxId: number): Promise<void> {
    const slot = this.slot(boxId);
    // Cut the power before queueing: writes already waiting behind a stop are lost too.
    slot.store?.cut();
    return this.enqueue(slot, async () => {
      if (!slot.host) return;
      slot.store?.cut();
      await slot.host.stop();
      slot.host = undefined;
      slot.store = undefined;
      slot.state = 'killed';
      this.settled(slot);
    });
  }

  /** `reload` of one box (its host restarts it in place from the saved state); the others keep serving. */
  reload(boxId: number): Promise<void> {
    const slot = this.slot(boxId);
    return this.enqueue(slot, async () => {
      if (!slot.host) throw new Error(`box ${boxId} is not running; start it instead`);
      await slot.host.reload();
      if (!slot.host.running) {
        slot.state = 'failed';
        slot.error = 'reload failed; see the log';
        this.settled(slot);
      }
    });
  }

  /** Stop a box and delete its state directory: the box-id is free again. */
  async remove(boxId: number): Promise<void> {
    await this.stop(boxId);
    this.cluster.forget(boxId);
    const slot = this.slots.get(boxId);
    if (slot) this.index(boxId, slot.address, false);
    this.slots.delete(boxId);
    await rm(boxDataDir(this.o.labDir, boxId), { recursive: true, force: true });
  }

  /** Stop every box (concurrently); resolves when all listeners are closed (and the listener processes ended). */
  async stopAll(): Promise<void> {
    await Promise.all(
      this.ids().map((id) => this.stop(id).catch((err) => this.log.error('stop failed', { boxId: id, err }))),
    );
    await this.listenerPool?.stop();
  }

  private slot(boxId: number): Slot {
    const s = this.slots.get(boxId);
    if (!s)
      throw new Error(`no box with box-id ${boxId} in the lab (box-ids: ${this.ids().join(', ') || 'none'})`);
    return s;
  }

  private enqueue<T>(slot: Slot, fn: () => Promise<T>): Promise<T> {
    const p = slot.queue.then(fn, fn);
    slot.queue = p.catch(() => undefined);
    return p;
  }

  private async boot(slot: Slot): Promise<void> {
    slot.state = 'starting';
    slot.error = undefined;
    const release = await this.boots.acquire();
    try {
      await this.bootNow(slot);
    } finally {
      release();
    }
  }

  private async bootNow(slot: Slot): Promise<void> {
    const dataDir = boxDataDir(this.o.labDir, slot.spec.boxId);
    const store = new CuttableStore(new LowdbStore(dataDir));
    try {
      slot.host = await BoxHost.start({
        boxId: slot.spec.boxId,
        hostname: slot.spec.hostname,
        address: slot.address,
        ports: slot.ports,
        dataDir,
        adminPassword: this.o.adminPassword,
        adminPasswordHash: await (this.passwordHash ??= hashPasswordAsync(this.o.adminPassword)),
        defaultRsaKeyPem: () =>
          (this.defaultRsaKey ??= generateKeyPair('rsa-2048').then((k) => k.privateKeyPem)),
        trustCache: this.trustCache,
        acmeGates: this.acmeGates,
        ...(this.o.acmeFaults ? { acmeFaults: this.o.acmeFaults(slot.spec.boxId) } : {}),
        firmware: slot.spec.firmware,
        model: slot.spec.model,
        ...(slot.spec.sysObjectId ? { sysObjectId: slot.spec.sysObjectId } : {}),
        cryptoMode: slot.spec.cryptoMode,
        seed: this.o.seed,
        clock: slot.clock,
        logger: this.o.logger,
        cluster: this.cluster,
        catalog: this.o.catalog,
        store,
        ...(this.o.acmeSettings ? { acmeSettings: this.o.acmeSettings } : {}),
        ...(this.listenerPool ? { listeners: this.listenerPool } : {}),
      });
      slot.store = store;
      // Port 0 (a high box-id in ports mode) became a real port: keep it for status and for the next start.
      if (Object.values(slot.ports).includes(0)) slot.ports = { ...slot.host.ready.ports };
      slot.state = 'running';
      this.settled(slot);
    } catch (err) {
      slot.state = 'failed';
      slot.error = (err as Error).message;
      this.settled(slot);
      throw new Error(`box ${slot.spec.boxId}: ${(err as Error).message}`);
    }
  }
}

/**
 * The highest box-id that gets fixed ports (base + box-id) in ports mode:
 * no higher than the gap between two port bases (so box 101's SSH port is
 * never box 1's CLI port) and than what fits below 65535. With the default
 * bases (2200, 2300, 4400, 8000, 16100) that is box 100.
 */
// Lab design: boxes above it get any free ports, chosen at their first start and kept while
// the lab runs (lab status and lab inventory show them); addresses mode has no such limit (box N at base + offset + N
// anywhere in 127/8: box 150 is 127.0.0.250, box 65535 is 127.1.0.99).
export function portsModeMaxId(base: BoxPorts): number {
  const sorted = Object.values(base).sort((x, y) => x - y);
  let gap = PORT_MAX - sorted[sorted.length - 1]!;
  for (let i = 1; i < sorted.length; i++) gap = Math.min(gap, sorted[i]! - sorted[i - 1]!);
  return gap;
}

/**
 * The address and ports of a box under `addressing`, explicit overrides
 * first. In ports mode a box-id above portsModeMaxId() gets port 0 (any free
 * port) for each port not given. Pure.
 */
export function endpointFor(
  spec: Pick<LabBoxSpec, 'boxId' | 'address' | 'ports'>,
  a: Addressing,
): { address: string; ports: BoxPorts } {
  const fixed = spec.boxId <= portsModeMaxId(a.portBase);
  const offset = (base: number) => (fixed ? base + spec.boxId : 0);
  const byMode: BoxPorts =
    a.mode === 'addresses'
      ? { ...a.standardPorts }
      : {
          ssh: offset(a.portBase.ssh),
          cli: offset(a.portBase.cli),
          https: offset(a.portBase.https),
          http: offset(a.portBase.http),
          snmp: offset(a.portBase.snmp),
        };
  const address =
    spec.address ??
    (a.mode === 'addresses' ? ipv4Add(a.addressBase, a.addressOffset + spec.boxId) : a.sharedAddress);
  return { address, ports: { ...byMode, ...(spec.ports ?? {}) } };
}

/** `base` + `n` as an IPv4 address (127.0.0.0 + 103 = 127.0.0.103). Throws past 255.255.255.255. */
export function ipv4Add(base: string, n: number): string {
  const parts = base.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255))
    throw new Error(`not an IPv4 address: ${base}`);
  const v = ((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]! + n;
  if (v > 0xffffffff) throw new Error(`${base} + ${n} is past 255.255.255.255`);
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

/**
 * Why the boxes cannot each listen on their own address with the standard
 * ports (root, Linux's whole 127/8 on lo): the first listener that cannot be
 * opened, in a few words; undefined when they can. Explicitly given
 * addresses and ports are not probed (the user chose them). The lab uses
 * one mode for all boxes (the ACME CA's http-01 port is one port for all):
 * network.mode auto falls back to port offsets on an answer, addresses
 * refuses.
 *
 * Probed: every port of the first and the last box (what is not allowed or
 * taken on every address, such as an sshd on 0.0.0.0:22, shows there), and
 * one port of each box between (another lab on some of the addresses holds
 * all of their ports): 10,000 boxes cost 10,002 probes, not 40,000. A port
 * taken on one address only past that shows when the box binds it: its
 * start fails naming address and port.
 */
export async function ownAddressesProblem(
  specs: Pick<LabBoxSpec, 'boxId' | 'address' | 'ports'>[],
  base: Addressing = DEFAULT_ADDRESSING,
): Promise<string | undefined> {
  const asAddresses: Addressing = { ...base, mode: 'addresses' };
  const kinds = ['https', 'ssh', 'cli', 'http'] as const;
  for (const [i, spec] of specs.entries()) {
    const { address, ports } = endpointFor(spec, asAddresses);
    const probed = kinds.filter((k) => spec.ports?.[k] === undefined);
    const edge = i === 0 || i === specs.length - 1;
    for (const k of edge ? probed : probed.slice(0, 1)) {
      const problem = await listenProblem(address, ports[k]);
      if (problem) return `box ${spec.boxId}: ${problem}`;
    }
  }
  return undefined;
}
