/**
 * Runs one box: loads (or creates) its state, builds the Box, plugs in the
 * ACME agent and the SNMP notifier, and opens its listeners (SSH CLI, TCP
 * CLI, HTTPS, HTTP). Part of the composition root with main.ts and the lab:
 * the only place besides them and the test harnesses that constructs
 * concrete classes.
 *
 * Guarantees:
 * - start() is all or nothing: if one listener cannot open, the others are
 *   closed again and the error names the address and port;
 * - reload() restarts the box in this process from its saved state (unsaved
 *   running-config changes are lost, a pending firmware boots), on the same
 *   ports, while other boxes of the cluster keep serving;
 * - stop() closes every listener and session and flushes the state.
 */
import { join } from 'node:path';
import { Box } from '../device/box.js';
import type { Cluster } from '../device/cluster.js';
import { createFirstBootDocument, prepareBoot } from '../device/first-boot.js';
import type { FirmwareCatalog } from '../device/firmware.js';
import type { BoxDocument, CryptoMode } from '../device/model.js';
import type { Clock } from '../lib/clock.js';
import type { GateMap } from '../lib/gate.js';
import type { ConnectFaults } from '../lib/connect-faults.js';
import { Logins } from '../device/login.js';
import { LoginThrottle } from '../lib/login-throttle.js';
import type { Logger } from '../lib/logger.js';
import type { Listeners } from '../lib/net.js';
import { AcmeAgent, type AcmeAgentSettings } from '../acme/agent.js';
import type { TrustCache } from '../acme/trust-cache.js';
import { SshCliServer } from '../cli/transports/ssh.js';
import { TcpCliServer } from '../cli/transports/tcp.js';
import { SnmpAgent, agentSettingsOf } from '../snmp/agent.js';
import { SnmpNotifier } from '../snmp/notifier.js';
import { createNetSnmpSender } from '../snmp/net-snmp-sender.js';
import type { Store } from '../store/store.js';
import { LowdbStore } from '../store/lowdb-store.js';
import { FileUrlConfigTransfer } from '../store/config-file-url.js';
import { WebServer } from '../web/server.js';

/** The listening ports of a box (0 = any free port). */
export interface BoxPorts {
  ssh: number;
  cli: number;
  https: number;
  http: number;
  /** The SNMP agent (UDP); `snmp-server port` overrides it. */
  snmp: number;
}

export interface BoxHostOptions {
  boxId: number;
  /** Hostname on first boot (later boots keep the saved one). */
  hostname: string;
  address: string;
  ports: BoxPorts;
  /** The box's own state directory (holds state.json). */
  dataDir: string;
  /** Needed on first boot only. */
  adminPassword?: string;
  /** First boot only: firmware version, model and crypto mode. */
  firmware: string;
  model: string;
  /** First boot only: the topology's sysObjectID override (absent = the model's). */
  sysObjectId?: string;
  cryptoMode: CryptoMode;
  /** Identity seed (serial, host id); the same seed and box-id give the same box. */
  seed: string;
  clock: Clock;
  logger: Logger;
  cluster: Cluster;
  catalog: FirmwareCatalog;
  /**
   * Called when a reload could not bring the box back (the error names why);
   * the box then has no listener. `gvos-sim box` exits 1 with that line.
   */
  onReloadFailed?: (err: Error) => void;
  /** A CLI connection (SSH or TCP) must log in within this time from its accept (default 60 s). */
  loginTimeoutMs?: number;
  /** Store override (tests); LowdbStore in dataDir by default. */
  store?: Store;
  acmeSettings?: AcmeAgentSettings;
  /** Trust material shared by the ACME agents of a process (the cluster runner passes one to all its boxes). */
  trustCache?: TrustCache;
  /** Bounds on the ACME requests in flight per server, shared by the boxes of a process (the cluster runner passes one). */
  acmeGates?: GateMap;
  /** Faults on this box's path to its ACME server (the lab keeps one per box-id, across reloads). */
  acmeFaults?: ConnectFaults;
  /**
   * First boot only: the admin password's stored hash (hashPassword /
   * hashPasswordAsync), so that a cluster hashes its one password once
   * instead of once per box (scrypt: ~50 ms of CPU each). Wins over
   * adminPassword for the hash; adminPassword is still required.
   */
  adminPasswordHash?: string;
  /**
   * First boot in classic mode only: supplies the RSA-2048 private key
   * (PKCS#8 PEM) of the default certificate, which the box then signs its
   * own certificate with. A cluster shares one key this way (ClusterRunner);
   * without it the box generates its own (~90-190 ms of CPU).
   */
  defaultRsaKeyPem?: () => Promise<string>;
  /**
   * Who holds the box's TCP listening sockets (SSH, CLI, HTTPS, HTTP): this
   * process (default) or a lab's listener processes (host/listener-pool.ts).
   * The SNMP agent's UDP socket is always the box's own.
   */
  listeners?: Listeners;
}

/** What a box reports when it is up (the "ready" line). */
export interface BoxReady {
  boxId: number;
  address: string;
  ports: BoxPorts;
}

export class BoxHost {
  private current: Box | undefined;
  private web: WebServer | undefined;
  private ssh: SshCliServer | undefined;
  private tcp: TcpCliServer | undefined;
  private acme: AcmeAgent | undefined;
  private snmp: SnmpNotifier | undefined;
  private agent: SnmpAgent | undefined;
  /** The agent's port when `snmp-server port` is not set (the option, or what port 0 gave on the first boot). */
  private defaultSnmpPort: number | undefined;
  private bound: BoxPorts;
  private readonly store: Store;
  private readonly log: Logger;
  private reloading: Promise<void> | undefined;
  private stopped = false;
  /** Logins over SSH, TCP and REST, with their failures per source; kept across reloads, so a reload does not reset a lockout. */
  private readonly logins: Logins;

  private constructor(private readonly o: BoxHostOptions) {
    this.log = o.logger.child({ boxId: o.boxId });
    // A start from the last good copy (state.json was corrupt) must be visible in the log, never silent.
    this.store = o.store ?? new LowdbStore(o.dataDir, { warn: (msg, fields) => this.log.warn(msg, fields) });
    this.bound = { ...o.ports };
    this.logins = new Logins({
      throttle: new LoginThrottle({ clock: o.clock }),
      box: () => this.box,
      clock: o.clock,
    });
  }

  /** Boot a box and open its listeners. See the class contract. */
  static async start(o: BoxHostOptions): Promise<BoxHost> {
    const host = new BoxHost(o);
    await host.boot('cold');
    return host;
  }

  /** The running box (replaced on reload: do not keep it). */
  get box(): Box {
    if (!this.current) throw new Error(`box ${this.o.boxId} is not running`);
    return this.current;
  }

  get running(): boolean {
    return !!this.current;
  }

  get boxId(): number {
    return this.o.boxId;
  }

  get address(): string {
    return this.o.address;
  }

  /** The bound ports (real numbers once started). */
  get ports(): BoxPorts {
    return { ...this.bound };
  }

  get ready(): BoxReady {
    return { boxId: this.o.boxId, address: this.o.address, ports: this.ports };
  }

  /** Number of open CLI sessions (SSH + TCP). */
  get sessionCount(): number {
    return (this.ssh?.sessionCount ?? 0) + (this.tcp?.sessionCount ?? 0);
  }

  private async loadOrCreate(): Promise<BoxDocument> {
    const saved = await this.store.load();
    if (saved) {
      // A data directory belongs to one box: started under another box-id it would boot a box
      // whose logins and names are another's. Refuse, naming both, rather than guess.
      if (saved.identity.boxId !== this.o.boxId) {
        throw new Error(
          `${this.store.location} holds box-id ${saved.identity.boxId}, not ${this.o.boxId}: start it with --box-id ${saved.identity.boxId}, or give box ${this.o.boxId} a data directory of its own (--data-dir)`,
        );
      }
      return saved;
    }
    if (!this.o.adminPassword) {
      throw new Error(
        'first boot needs an admin password: --admin-password or GVOS_ADMIN_PASSWORD (it may not be empty)',
      );
    }
    const doc = await createFirstBootDocument({
      boxId: this.o.boxId,
      hostname: this.o.hostname,
      model: this.o.model,
      ...(this.o.sysObjectId ? { sysObjectId: this.o.sysObjectId } : {}),
      firmware: this.o.firmware,
      cryptoMode: this.o.cryptoMode,
      adminPassword: this.o.adminPassword,
      address: this.o.address,
      nowMs: this.o.clock.now(),
      seed: this.o.seed,
      ...(this.o.adminPasswordHash ? { adminPasswordHash: this.o.adminPasswordHash } : {}),
      ...(this.o.cryptoMode === 'classic' && this.o.defaultRsaKeyPem
        ? { defaultKeyPem: await this.o.defaultRsaKeyPem() }
        : {}),
    });
    this.log.info('first boot: identity, default certificate and host key created', {
      store: this.store.location,
    });
    return doc;
  }

  private async boot(kind: 'cold' | 'warm'): Promise<void> {
    const loaded = await this.loadOrCreate();
    const previousFirmware = loaded.firmware.running;
    const doc = prepareBoot(loaded, this.o.clock.now());
    if (!this.o.catalog.get(doc.firmware.running)) {
      throw new Error(`box ${this.o.boxId}: firmware ${doc.firmware.running} is not in firmware-sim/`);
    }
    try {
      await this.store.save(doc);
    } catch (err) {
      // A box that cannot write its state at boot must say where (a full or read-only data directory).
      const e = err as NodeJS.ErrnoException;
      const why =
        e.code === 'ENOSPC' || e.code === 'EDQUOT'
          ? 'the file system is full'
          : e.code === 'EROFS'
            ? 'the file system is read-only'
            : e.code === 'EACCES' || e.code === 'EPERM'
              ? 'permission denied'
              : e.message;
      throw new Error(`cannot write the box state ${this.store.location}: ${why} (${e.code ?? 'error'})`);
    }
    const { box, acmePort } = Box.create({
      doc,
      persistence: this.store,
      clock: this.o.clock,
      logger: this.log,
      firmware: this.o.catalog,
      address: this.o.address,
      bootKind: kind,
      clusterName: this.o.cluster.name,
      configTransfer: new FileUrlConfigTransfer(),
    });
    box.events.on('audit', (a) =>
      this.log.info('audit', { user: a.actor.user, source: a.actor.source, action: a.action }),
    );
    box.events.on('login-failed', (e) => {
      const fields = { transport: e.transport, source: e.source, user: e.user.slice(0, 64) };
      this.log.warn('login failed', fields);
      if (e.lockedOutMs !== undefined)
        this.log.warn(e.lockedOut === 'user' ? 'user locked out' : 'source locked out', {
          ...fields,
          lockedOutMs: e.lockedOutMs,
        });
    });
    box.events.on('reload-requested', () => void this.reload());
    box.events.on('config-changed', (e) => {
      if (e.section === 'snmp') void this.rebindAgent(box);
    });

    const acme = new AcmeAgent({
      port: acmePort,
      clock: this.o.clock,
      logger: this.log,
      settings: this.o.acmeSettings,
      ...(this.o.trustCache ? { trust: this.o.trustCache } : {}),
      ...(this.o.acmeGates ? { gates: this.o.acmeGates } : {}),
      ...(this.o.acmeFaults ? { faults: this.o.acmeFaults } : {}),
    });
    const snmp = new SnmpNotifier({
      senderFactory: createNetSnmpSender,
      box,
      clock: this.o.clock,
      logger: this.log,
    });
    box.attachAcme(acme);
    box.attachSnmp(snmp);
    this.o.cluster.set(box);

    const web = new WebServer({
      box,
      cluster: this.o.cluster,
      address: this.o.address,
      httpsPort: this.bound.https,
      httpPort: this.bound.http,
      logger: this.log,
      logins: this.logins,
      ...(this.o.listeners ? { listeners: this.o.listeners } : {}),
    });
    const cliOpts = {
      address: this.o.address,
      cluster: this.o.cluster,
      boxId: this.o.boxId,
      logger: this.log,
      logins: this.logins,
      ...(this.o.loginTimeoutMs !== undefined ? { loginTimeoutMs: this.o.loginTimeoutMs } : {}),
      ...(this.o.listeners ? { listeners: this.o.listeners } : {}),
    };
    const ssh = new SshCliServer({ ...cliOpts, port: this.bound.ssh, hostKeyPem: box.sshHostKey });
    const tcp = new TcpCliServer({ ...cliOpts, port: this.bound.cli });
    const opened: { close(): Promise<void> }[] = [];
    try {
      const w = await web.listen();
      opened.push(web);
      const sshPort = await ssh.listen();
      opened.push(ssh);
      const cliPort = await tcp.listen();
      opened.push(tcp);
      const agent = this.newAgent(box, snmp);
      const snmpPort = await agent.start();
      opened.push(agent);
      if (this.defaultSnmpPort === undefined) this.defaultSnmpPort = snmpPort;
      this.agent = agent;
      snmp.attachAgent(agent);
      this.bound = { ssh: sshPort, cli: cliPort, https: w.https, http: w.http, snmp: snmpPort };
    } catch (err) {
      await Promise.all(opened.map((s) => s.close()));
      this.o.cluster.delete(this.o.boxId);
      throw err;
    }
    this.current = box;
    this.web = web;
    this.ssh = ssh;
    this.tcp = tcp;
    this.acme = acme;
    this.snmp = snmp;
    snmp.start();
    acme.resume();
    box.events.emit('booted', { boxId: box.boxId, kind, version: doc.firmware.running });
    if (previousFirmware !== doc.firmware.running) {
      box.events.emit('firmware-changed', {
        boxId: box.boxId,
        previous: previousFirmware,
        version: doc.firmware.running,
      });
    }
    this.log.info('box up', { kind, ports: this.bound, version: doc.firmware.running });
  }

  /** The SNMP agent of `box`, on `snmp-server port` when set, else the box's default port. */
  private newAgent(box: Box, engine: SnmpNotifier): SnmpAgent {
    const configured = box.config.snmp.agentPort;
    return new SnmpAgent({
      box,
      engine,
      address: this.o.address,
      port: configured ?? this.defaultSnmpPort ?? this.bound.snmp,
      settings: () => agentSettingsOf(box.config.snmp),
      logger: this.log,
    });
  }

  /**
   * `snmp-server port` changed: move the agent. The old socket closes once
   * the new one is bound; if the new port cannot be bound, the agent stays
   * where it was and the failure is logged (`show snmp` shows the port in use).
   */
  private async rebindAgent(box: Box): Promise<void> {
    const old = this.agent;
    const engine = this.snmp;
    if (!old || !engine || this.current !== box) return;
    const want = box.config.snmp.agentPort ?? this.defaultSnmpPort ?? this.bound.snmp;
    if (want === old.status().port) return;
    const next = this.newAgent(box, engine);
    try {
      this.bound.snmp = await next.start();
    } catch (err) {
      this.log.warn('snmp agent could not move; it stays on its port', {
        port: want,
        reason: (err as Error).message,
      });
      return;
    }
    this.agent = next;
    engine.attachAgent(next);
    await old.close();
  }

  /** Close listeners and stop the agents; the Box stays in the cluster until replaced or removed. */
  private async shutdown(): Promise<void> {
    this.acme?.stop();
    this.snmp?.stop();
    const agent = this.agent;
    this.agent = undefined;
    await Promise.all([this.web?.close(), this.ssh?.close(), this.tcp?.close(), agent?.close()]);
    await this.current?.flush();
    this.current?.events.clear();
    this.web = this.ssh = this.tcp = this.acme = this.snmp = undefined;
  }

  /** Restart the box in this process from its saved state (see the class contract). Concurrent calls share one reload. */
  // EMULATION: reload restarts the box in this process on the same ports; its sessions are closed.
  reload(): Promise<void> {
    if (this.reloading) return this.reloading;
    // Between closing the old listeners and opening the new ones the process may have nothing
    // else to wait on (a socket paused or half-closed by its client does not hold the event
    // loop): without a handle of its own, the loop could run empty and the process exit 0 with
    // no listener and no log line. This interval holds the loop until the reload is done.
    const keepAlive = setInterval(() => undefined, 60_000);
    this.reloading = (async () => {
      // Let the session that asked print its last line before its socket closes.
      await new Promise((r) => setTimeout(r, 100));
      await this.shutdown();
      this.current = undefined;
      if (this.stopped) return;
      await this.boot('warm');
    })()
      .catch((err) => {
        this.log.error('reload failed', { err: (err as Error).message });
        this.o.cluster.delete(this.o.boxId);
        this.o.onReloadFailed?.(err as Error);
      })
      .finally(() => {
        clearInterval(keepAlive);
        this.reloading = undefined;
      });
    return this.reloading;
  }

  /** Stop the box: close listeners and sessions, flush the state, leave the cluster. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.reloading;
    await this.shutdown();
    this.current = undefined;
    this.o.cluster.delete(this.o.boxId);
  }
}

/** The data directory of box `boxId` inside a cluster's data directory. */
export function boxDataDir(clusterDataDir: string, boxId: number): string {
  return join(clusterDataDir, `box-${boxId}`);
}
