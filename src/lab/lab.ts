/**
 * A running lab: the boxes of a topology in this process (ClusterRunner),
 * the peers it started (CA and trap receiver), the faults of each box's
 * path to the CA (read by the box's own ACME transport: no proxy), and
 * everything the control plane does with them.
 *
 * Contract:
 * - Lab.up() starts the peers, then the boxes, configures each box through
 *   its command layer (CA list, name server, SNMP target, write memory),
 *   issues the certificates if the topology says so, and resolves with the
 *   running lab. When any step before issuance fails it stops everything it
 *   had started (boxes, peer processes by PID) and rejects: a lab
 *   never stays half up. Failed issuances do not fail the lab; they show in
 *   the status.
 * - down() stops boxes and peers and resolves when every listener
 *   is closed and every child process has exited. Idempotent.
 * - Operations on different boxes may run concurrently.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile, readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { KeyAlgorithm } from '../device/key-algorithms.js';
import { FIRST_ADMIN_USER } from '../device/first-boot.js';
import type { Box } from '../device/box.js';
import { isDeviceError } from '../device/errors.js';
import type { FirmwareCatalog } from '../device/firmware.js';
import type { AcmeRequestStatus, AcmeRequestType } from '../device/model.js';
import { SystemClock } from '../lib/clock.js';
import { ConnectFaults } from '../lib/connect-faults.js';
import { freePort } from '../lib/net.js';
import type { Logger } from '../lib/logger.js';
import type { AcmeAgentSettings } from '../acme/agent.js';
import { certificateFacts } from '../pki/certificate.js';
import { freshCertificateWarning, type AdvancedClock } from './box-clock.js';
import { certificateState, type CertificateState } from './certificate-state.js';
import { ChallengeRouter } from './challenge-router.js';
import {
  ownAddressesProblem,
  ClusterRunner,
  DEFAULT_ADDRESSING,
  type Addressing,
  type LabBoxSpec,
} from './cluster-runner.js';
import { planListeners, type ListenerPlan } from './open-files.js';
import { acmeOpOf, LabEventBus, type LabEventInput } from './lab-events.js';
import { TrapLogTail, trapSource } from './trap-tail.js';
import { varbindValue, type ReceivedNotification } from '../snmp/trapd-launcher.js';
import { FaultBoard, LAB_ACTOR, type FaultName, type FaultState } from './faults.js';
import {
  externalCa,
  externalTrapReceiver,
  startPebbleCa,
  startSnmptrapd,
  type LabCa,
  type LabTrapReceiver,
  type PeerProcessRecord,
} from './peers.js';
import type { Topology } from './topology.js';
import { FLEET_OPS, type FleetOp } from './fleet-ops.js';

/** A box's certificate as `lab status` shows it. */
interface LabCertificateStatus {
  /** See {@link CertificateState}: none, in-progress, valid, expiring, renewal-failing, expired, failed, unknown (box not running). */
  status: CertificateState;
  /** Upper-case hex as `openssl x509 -noout -serial` prints it. */
  serial: string | null;
  /** ISO 8601. */
  expires: string | null;
  domain?: string;
  /** Why the last request (failed) or the last renewal (renewal-failing) failed. */
  reason?: string;
  /** ISO 8601 on the box's clock: when the box renews next (or retries a failed renewal); null when none is planned. */
  nextRenewal: string | null;
  /**
   * The box's last ACME request ("Last Request Status Since Bootup"): its
   * type, outcome, and when it finished (when it started, while in progress).
   */
  lastRequest: { type: AcmeRequestType; status: AcmeRequestStatus['status']; at: string } | null;
}

/** One row of `lab status --json`. */
export interface LabBoxStatus {
  boxId: number;
  hostname: string;
  address: string;
  ports: { ssh: number; cli: number; https: number; http: number; snmp: number };
  state: string;
  certificate: LabCertificateStatus;
  /** How far the box's clock runs ahead of real time (`lab time advance --keep`), ms. */
  clockOffsetMs: number;
}

/** One row of the inventory a manager onboards the lab from. */
export interface InventoryRow {
  boxId: number;
  hostname: string;
  address: string;
  ports: { ssh: number; cli: number; https: number; http: number; snmp: number };
  serial: string;
  hostId: string;
  model: string;
  firmware: string;
  /** SNMPv3 engine ID in hex, or null while the box is not running. */
  snmpEngineId: string | null;
  /** The name its certificate is issued for (and the manager reaches it by, through the lab's DNS or `lab hosts`). */
  domain: string;
  /** The file holding the lab CA's root that its certificate chains to (written by `lab up`), or null (external CA). */
  caRoot: string | null;
  /** The admin user of every box (its password is the lab's; not listed). */
  user: string;
}

export { FLEET_OPS, type FleetOp };

/**
 * Fleet operations in progress at once. Most of an operation's time is spent
 * waiting (the CA's validation, its polls), so 25 at a time left the CA and
 * this process idle (about 40 certificates/s against the agent's 51/s alone,
 * issue 16); the requests in flight to one CA stay bounded by the cluster's
 * gate (ClusterRunner), which is what keeps Pebble from stalling.
 */
export const FLEET_PARALLEL = 250;

/**
 * How long the requests in flight to a CA may go without any answer before
 * the lab stops sending it more (the breaker of the boxes' gate, lib/gate.ts;
 * environment GVOS_LAB_CA_SILENCE_S, in seconds, 0 = off; LabOptions.caSilenceMs).
 * 15 s: half a request's own deadline (the agent's 30 s), so the queued boxes
 * fail before the first held request times out; and far above the gaps
 * between answers of a working CA (the 300-box regression issues 20-90
 * certificates a second at about ten requests each).
 */
const CA_SILENCE_MS = 15_000;

/** The breaker's silence from the environment (GVOS_LAB_CA_SILENCE_S), else CA_SILENCE_MS; refuses a value that is not a number of seconds. */
function caSilenceFromEnv(env: NodeJS.ProcessEnv): number {
  const raw = env['GVOS_LAB_CA_SILENCE_S'];
  if (raw === undefined || raw.trim() === '') return CA_SILENCE_MS;
  const s = Number(raw);
  if (!Number.isFinite(s) || s < 0 || s > 3600)
    throw new Error(`GVOS_LAB_CA_SILENCE_S must be a number of seconds from 0 (off) to 3600, got "${raw}"`);
  return Math.round(s * 1000);
}

/**
 * What a fleet issue may set per box, as the manager's fields give it
 * (GigaVUE-FM's acmeServerUrl, algorithm, renewDays, domain); absent: the
 * lab's own (its CA, the topology's on-start key algorithm and renew days,
 * the box's lab name). Renew and revoke use only `domain`.
 */
export interface FleetIssueSettings {
  directoryUrl?: string;
  keyAlgorithm?: KeyAlgorithm;
  renewDays?: number;
  domain?: string;
}

/** The outcome of one box in a fleet operation. */
export interface FleetResult {
  boxId: number;
  hostname: string;
  op: FleetOp;
  /** Success, Failed: <reason>, or Refused: <the device's message>. */
  result: string;
  ok: boolean;
  serial: string | null;
  expires: string | null;
  durationMs: number;
}

/** The lab's state file (lab.json, mode 0600): what `lab down/status/...` need without the topology. */
export interface LabStateFile {
  name: string;
  /** The process running the lab (`lab up`). */
  pid: number;
  /**
   * The control plane: `url` is HTTP on 127.0.0.1 (the CLI's), `dashboardUrl`
   * HTTPS for the dashboard and `dashboardName` the DNS name its certificate
   * is for (dashboard/plane-tls.ts); both absent while the lab starts.
   */
  controlPlane: { url: string; token: string; dashboardUrl?: string; dashboardName?: string };
  processes: PeerProcessRecord[];
  trapLog: string | null;
  startedAt: string;
}

/** How Lab.up reports progress (the live table or plain lines). */
export interface LabProgress {
  phase(message: string): void;
  box(boxId: number, hostname: string, state: string): void;
}

/** What Lab.up takes. */
export interface LabOptions {
  topology: Topology;
  /** Directory of all labs; this lab lives in <labsDir>/<name>. */
  labsDir: string;
  catalog: FirmwareCatalog;
  logger: Logger;
  progress?: LabProgress;
  /** Reuse the boxes' stored state instead of starting fresh. */
  keepState?: boolean;
  /** Password when the topology and the environment give none. */
  env?: NodeJS.ProcessEnv;
  acmeSettings?: AcmeAgentSettings;
  /** Issue timeout per box, ms. */
  issueTimeoutMs?: number;
  /** See CA_SILENCE_MS (default: from env GVOS_LAB_CA_SILENCE_S, else CA_SILENCE_MS); 0: no breaker. */
  caSilenceMs?: number;
  /** Told each time the lab has started peer processes (to record their PIDs before the lab is up). */
  onProcesses?: (processes: PeerProcessRecord[]) => void;
}

const silentProgress: LabProgress = { phase: () => undefined, box: () => undefined };

/** A running lab (see the file comment for the contract). */
export class Lab {
  readonly runner: ClusterRunner;
  readonly faults: FaultBoard;
  readonly clock = new SystemClock();
  /**
   * Everything that happens in the lab, numbered (lab-events.ts): box
   * lifecycle, ACME requests from any interface, auto-renewals, faults,
   * clocks, traps received. The control plane serves it at GET /v1/events.
   */
  readonly events: LabEventBus;
  readonly dir: string;
  /** The admin password of every box (first boot). Secret: shown once by `lab up`, kept 0600 in the lab dir. */
  readonly adminPassword: string;
  private ca: LabCa | undefined;
  /** The CA's trust PEMs with the name each gets in a box's certificate store (set at the first configure). */
  private trustNames: { pem: string; name: string }[] | undefined;
  private traps: LabTrapReceiver | undefined;
  private trapTail: TrapLogTail | undefined;
  private router: ChallengeRouter | undefined;
  /** Per box-id, kept across restarts of the box (the box's ACME transport reads it). */
  private readonly connectFaults = new Map<number, ConnectFaults>();
  private progress: LabProgress;
  private downing: Promise<void> | undefined;
  private readonly rewinds = new Set<NodeJS.Timeout>();
  /**
   * Per box: why its last fleet operation never became an ACME request (the
   * CA's TLS refused, the CA unreachable, or not started because the CA went
   * silent). `lab status` shows it as `failed` with this reason while the box
   * has no certificate; the box's next request clears it.
   */
  private readonly notStarted = new Map<number, string>();
  /**
   * One line saying how the boxes are addressed and, when own addresses
   * could not be used (network.mode auto), why the lab fell back to port
   * offsets: `lab up` prints it under its table.
   */
  addressingNote = '';
  /** Ports mode: the http-01 router's port (Pebble's httpPort). */
  private challengePort = 80;

  private constructor(
    readonly topology: Topology,
    private readonly o: LabOptions,
    addressing: Addressing,
    password: string,
    listeners: ListenerPlan,
  ) {
    this.dir = join(o.labsDir, topology.lab);
    this.adminPassword = password;
    this.progress = o.progress ?? silentProgress;
    this.runner = new ClusterRunner({
      clusterName: topology.cluster,
      labDir: this.dir,
      seed: topology.seed,
      adminPassword: password,
      clock: this.clock,
      logger: o.logger,
      catalog: o.catalog,
      addressing,
      ...(o.acmeSettings ? { acmeSettings: o.acmeSettings } : {}),
      acmeFaults: (id) => this.connectFaultsOf(id),
      caSilenceMs: o.caSilenceMs ?? caSilenceFromEnv(o.env ?? process.env),
      ...(listeners.where === 'listener-processes'
        ? { listenerProcesses: { perProcess: listeners.perProcess } }
        : {}),
    });
    this.faults = new FaultBoard(
      (id) => this.connectFaultsOf(id),
      (id) => this.runner.box(id),
    );
    this.runner.cluster.onBoxUp((box) => this.faults.onBoxUp(box));
    this.events = new LabEventBus({
      onSubscriberError: (err) => o.logger.error('lab event subscriber failed', { err }),
    });
    this.runner.cluster.onBoxUp((box) => this.publishBoxEvents(box));
    this.runner.onStateChange((boxId, state, error) => {
      const head = { boxId, hostname: this.hostnameOf(boxId) };
      if (state === 'running')
        this.publish({
          ...head,
          type: 'box-started',
          firmware: this.runner.box(boxId)?.image.version ?? null,
        });
      else if (state === 'stopped') this.publish({ ...head, type: 'box-stopped' });
      else if (state === 'killed') this.publish({ ...head, type: 'box-killed' });
      else if (state === 'failed') this.publish({ ...head, type: 'box-failed', reason: error ?? 'unknown' });
    });
  }

  /** Publish on the bus (after down() nothing more is published: the feed ends with the boxes' stops). */
  private publish(e: LabEventInput): void {
    this.events.publish(e);
  }

  private hostnameOf(boxId: number): string | null {
    if (!this.runner.has(boxId)) return null;
    return this.runner.box(boxId)?.hostname ?? this.runner.info(boxId).spec.hostname;
  }

  /**
   * Feed the bus from one box object's domain events. A reload replaces the
   * object (LabCluster.onBoxUp calls this again) and the old one's emitter is
   * cleared at its shutdown, so nothing accumulates.
   */
  private publishBoxEvents(box: Box): void {
    const head = () => ({ boxId: box.boxId, hostname: box.hostname });
    box.events.on('booted', (e) => {
      if (e.kind === 'warm') this.publish({ ...head(), type: 'box-reloaded', firmware: e.version });
    });
    box.events.on('acme-request-started', ({ request }) => {
      this.notStarted.delete(box.boxId);
      const op = acmeOpOf(request.type);
      if (op !== 'auto-renew')
        this.publish({ ...head(), type: 'acme-requested', op, domain: request.domain });
    });
    box.events.on('acme-request-finished', ({ request }) => {
      const op = acmeOpOf(request.type);
      // Read in place (acmeView): two fields of it, once per certificate of the lab.
      const issued = box.acmeView().issued;
      const serial = issued?.serial ?? null;
      if (op === 'auto-renew') {
        if (request.status === 'Success')
          this.publish({
            ...head(),
            type: 'auto-renewal-done',
            serial,
            expires: issued ? new Date(issued.expiresMs).toISOString() : null,
          });
        else
          this.publish({
            ...head(),
            type: 'auto-renewal-failed',
            reason: request.reason ?? 'unknown reason',
            serial,
          });
        return;
      }
      this.publish({
        ...head(),
        type: 'acme-finished',
        op,
        result: request.status === 'Success' ? 'Success' : 'Failed',
        reason: request.reason,
        serial,
      });
    });
  }

  /** A notification from the trap log, as a `trap` event of the box that sent it (by its box-id varbind, else its address). */
  private publishTrap(n: ReceivedNotification): void {
    const source = trapSource(n.transport);
    let boxId: number | null = Number(varbindValue(n, 'gvosSimBoxId') ?? NaN);
    if (!Number.isInteger(boxId) || !this.runner.has(boxId)) {
      const address = source.replace(/:\d+$/, '');
      boxId = this.runner.boxIdAt(address) ?? null;
      // In ports mode every box sends from the shared address: no way to tell them apart.
      if (boxId !== null && this.runner.addressing.mode === 'ports') boxId = null;
    }
    this.publish({
      boxId,
      hostname: boxId === null ? null : this.hostnameOf(boxId),
      type: 'trap',
      receivedAt: n.receivedMs === undefined ? null : new Date(n.receivedMs).toISOString(),
      source,
      name: n.name,
      varbinds: n.varbinds.map((v) => ({ name: v.name, type: v.type, value: v.value })),
    });
  }

  private connectFaultsOf(boxId: number): ConnectFaults {
    let f = this.connectFaults.get(boxId);
    if (!f) this.connectFaults.set(boxId, (f = new ConnectFaults()));
    return f;
  }

  /** Start a lab (see the class contract). */
  static async up(o: LabOptions): Promise<Lab> {
    const topo = o.topology;
    const dir = join(o.labsDir, topo.lab);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    if (!o.keepState) {
      // A fresh lab: the CA is new on every start, so old certificates and CA entries would only confuse.
      for (const f of await readdir(dir))
        if (/^box-\d+$/.test(f)) await rm(join(dir, f), { recursive: true, force: true });
    }
    // First, before any probe or peer: a topology that cannot fit the open-files limit is refused.
    const planned = planListeners(topo.boxes.length);
    if ('problem' in planned) throw new Error(`lab ${topo.lab}: ${planned.problem}`);
    o.logger.info(`lab ${topo.lab}: ${planned.plan.line}`);
    const password = await adminPassword(topo, dir, o.env ?? process.env);
    const base: Addressing = {
      ...DEFAULT_ADDRESSING,
      addressBase: topo.network.addressBase,
      addressOffset: topo.network.addressOffset,
      sharedAddress: topo.network.sharedAddress,
      portBase: topo.network.portBase,
    };
    let addressing: Addressing = { ...base, mode: topo.network.mode === 'ports' ? 'ports' : 'addresses' };
    let fallback: string | undefined;
    if (topo.network.mode !== 'ports') {
      const problem = await ownAddressesProblem(topo.boxes, base);
      if (problem && topo.network.mode === 'addresses')
        throw new Error(
          `lab ${topo.lab}: network.mode addresses, but ${problem}; free it, run as root, or use network.mode auto (falls back to port offsets) or ports`,
        );
      if (problem) {
        addressing = { ...base, mode: 'ports' };
        fallback = problem;
      }
    }
    const lab = new Lab(topo, o, addressing, password, planned.plan);
    lab.addressingNote = addressingNote(topo, addressing, fallback);
    try {
      await lab.start();
    } catch (err) {
      await lab.down();
      throw err;
    }
    return lab;
  }

  /**
   * Stop reporting to the start's progress (the live table or lines): once
   * `lab up` printed its table, the terminal shows the event feed instead,
   * and a redraw of the start table would overwrite it.
   */
  endProgress(): void {
    this.progress = silentProgress;
  }

  /** The lab's logger (the control plane reports its failed answers there). */
  get logger(): Logger {
    return this.o.logger;
  }

  /** The lab's trap log (snmptrapd), if the lab runs the receiver. */
  get trapLog(): string | null {
    return this.traps?.logFile ?? null;
  }

  /** Child processes the lab started (by PID). */
  get processes(): PeerProcessRecord[] {
    return [...(this.ca?.processes ?? []), ...(this.traps?.processes ?? [])];
  }

  /** The CA's issuing root with its key, when the CA gives it out (Pebble): the control plane's certificate is signed with it. */
  get signingRoot(): LabCa['signingRoot'] {
    return this.ca?.signingRoot;
  }

  /** Where `lab up` writes the CA's issuing root (ca-root.pem in the lab's directory; absolute), or null when the CA gives none. */
  get caRootFile(): string | null {
    return this.caRootPem ? resolve(this.dir, 'ca-root.pem') : null;
  }

  /** The CA's issuing root (PEM): the certificates of the boxes chain to it. */
  get caRootPem(): string | undefined {
    return this.ca?.issuingRootPem;
  }

  private async start(): Promise<void> {
    const topo = this.topology;
    const addressing = this.runner.addressing;
    this.progress.phase(this.addressingNote || addressingNote(topo, addressing, undefined));
    // --- peers
    if (addressing.mode === 'ports') {
      // One address for all boxes: the CA's http-01 requests reach each box through the router, by name.
      this.router = new ChallengeRouter((host) => this.boxHttpByName(host));
      const port =
        topo.ca.type === 'pebble'
          ? await freePort(loopbackOf(addressing.sharedAddress))
          : topo.network.challengePort;
      this.challengePort = await this.router.listen(addressing.sharedAddress, port);
    }
    if (topo.ca.type === 'pebble') {
      this.progress.phase('starting Pebble and pebble-challtestsrv');
      // tls-alpn-01 reaches a box only on its own address (port 443); in ports mode only http-01 (via the router) works.
      const tlsPort = addressing.mode === 'addresses' ? addressing.standardPorts.https : await freePort();
      this.ca = await startPebbleCa({
        dir: join(this.dir, 'pebble'),
        httpPort: this.challengePort,
        tlsPort,
        validityHours: topo.ca.validityHours,
      });
    } else {
      this.ca = await externalCa(topo.ca.directoryUrl, topo.ca.rootFile, topo.nameServer);
    }
    this.o.onProcesses?.(this.processes);
    if (topo.trapReceiver.type === 'snmptrapd') {
      this.progress.phase('starting snmptrapd');
      const logFile = join(this.dir, 'traps.log');
      await rm(logFile, { force: true });
      this.traps = await startSnmptrapd({
        dir: join(this.dir, 'snmptrapd'),
        community: topo.trapReceiver.community,
        logFile,
      });
      this.trapTail = new TrapLogTail(logFile, (n) => this.publishTrap(n));
      await this.trapTail.start();
    } else {
      this.traps = externalTrapReceiver(topo.trapReceiver.host, topo.trapReceiver.port);
    }
    this.o.onProcesses?.(this.processes);
    // --- boxes
    this.progress.phase(`starting ${topo.boxes.length} boxes`);
    // allSettled, not all: a failed box must not leave the others half-configured while the lab goes down.
    const started = await Promise.allSettled(topo.boxes.map((spec) => this.bringUp(spec)));
    const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    if (topo.onStart.issueCertificates) {
      this.progress.phase('issuing certificates');
      await this.fleet('issue', this.runner.ids());
    }
  }

  /** Start one box, configure it, and (after lab up) issue its certificate when the topology says so. */
  private async bringUp(spec: LabBoxSpec): Promise<void> {
    this.progress.box(spec.boxId, spec.hostname, 'starting');
    if (this.downing) throw new Error('the lab is going down');
    await this.runner.add(spec);
    if (this.downing) throw new Error('the lab is going down');
    this.progress.box(spec.boxId, spec.hostname, 'configuring');
    await this.configure(spec.boxId);
    this.progress.box(spec.boxId, spec.hostname, 'running');
  }

  /** The ACME directory URL of a box (the CA's: faults act in the box's own transport). */
  directoryUrlFor(boxId: number): string {
    void boxId;
    return this.ca!.directoryUrl;
  }

  /** The domain box `boxId` gets its certificate for. */
  domainFor(boxId: number): string {
    const info = this.runner.info(boxId);
    return this.labDomain(this.runner.box(boxId)?.hostname ?? info.spec.hostname, info.address);
  }

  /** The lab's name for a box of this hostname and address (domainFor, from what the caller has read). */
  private labDomain(hostname: string, address: string): string {
    return this.topology.onStart.domain === 'ip'
      ? address
      : `${hostname}.${this.topology.domain}`.toLowerCase();
  }

  /**
   * The address box `boxId` orders beside its name (topology
   * `address-in-certificate`, the box's own setting first), or undefined:
   * when off, with on-start.domain ip (the address is the domain), or when
   * the box shares the lab's address (ports mode, e.g. after the fallback),
   * which the CA cannot validate per box.
   */
  certificateAddressFor(boxId: number): string | undefined {
    const info = this.runner.info(boxId);
    const on = info.spec.addressInCertificate ?? this.topology.onStart.addressInCertificate;
    if (!on || this.topology.onStart.domain === 'ip') return undefined;
    const own = this.runner.addressing.mode === 'addresses' || info.spec.address !== undefined;
    return own ? info.address : undefined;
  }

  private boxHttpByName(host: string): { address: string; port: number } | undefined {
    for (const id of this.runner.ids()) {
      const info = this.runner.info(id);
      if (`${info.spec.hostname}.${this.topology.domain}`.toLowerCase() === host)
        return { address: info.address, port: info.ports.http };
    }
    return undefined;
  }

  /**
   * Configure a running box for the lab through its command layer, then
   * write memory (a reload or kill keeps it); all in one batch, so one state
   * write per box instead of one per stored change.
   */
  private async configure(boxId: number): Promise<void> {
    const box = this.mustBox(boxId);
    await box.batch(() => this.configureSteps(boxId, box));
  }

  private async configureSteps(boxId: number, box: Box): Promise<void> {
    const ca = this.ca!;
    // Named once per lab, not per box (a parse of each PEM per box was a share of a 10,000-box start).
    this.trustNames ??= ca.trustPems.map((pem) => ({
      pem,
      name: `lab-ca-${certificateFacts(pem).sha256Fingerprint.replace(/:/g, '').slice(0, 12).toLowerCase()}`,
    }));
    for (const { pem, name } of this.trustNames) {
      if (!box.certificateNames().includes(name)) await box.addPublicCertificate(LAB_ACTOR, name, pem);
      await box.addCaListEntry(LAB_ACTOR, name);
    }
    if (ca.nameServer) {
      for (const ns of box.config.nameServers) if (ns !== ca.nameServer) box.removeNameServer(LAB_ACTOR, ns);
      box.addNameServer(LAB_ACTOR, ca.nameServer);
      const info = this.runner.info(boxId);
      const answer =
        this.runner.addressing.mode === 'addresses' || info.spec.address
          ? info.address
          : loopbackOf(this.runner.addressing.sharedAddress);
      await ca.addHost(`${box.hostname}.${this.topology.domain}`.toLowerCase(), answer);
    }
    const tr = this.traps!;
    box.snmpEnable(LAB_ACTOR, true);
    box.snmpNotifyEnable(LAB_ACTOR, true);
    box.snmpSetTarget(LAB_ACTOR, {
      host: tr.host,
      port: tr.port,
      kind: 'traps',
      version: '2c',
      community: this.topology.trapReceiver.community,
      // Paced: traps over UDP are lost in bursts (peers.md §5).
      ratePerSec: 50,
    });
    await box.writeMemory(LAB_ACTOR);
  }

  private mustBox(boxId: number): Box {
    const box = this.runner.box(boxId);
    if (!box)
      throw new Error(
        `box ${boxId} is not running (${this.runner.has(boxId) ? this.runner.info(boxId).state : 'no such box-id'})`,
      );
    return box;
  }

  // ---------------------------------------------------------------- status

  /**
   * The status of these boxes (default every box; `lab status --json`).
   * Read in place from each box (no copies, each certificate parsed once:
   * see certificateStatus), so 10,000 rows cost tens of milliseconds.
   */
  status(boxIds: readonly number[] = this.runner.ids()): LabBoxStatus[] {
    return boxIds.map((id) => this.boxStatus(id));
  }

  /** The status of one box. */
  boxStatus(boxId: number): LabBoxStatus {
    const info = this.runner.info(boxId);
    const box = this.runner.box(boxId);
    return {
      boxId,
      hostname: box?.hostname ?? info.spec.hostname,
      address: info.address,
      ports: info.ports,
      state: info.state,
      certificate: box
        ? certificateStatus(box, this.notStarted.get(boxId))
        : { status: 'unknown', serial: null, expires: null, lastRequest: null, nextRenewal: null },
      clockOffsetMs: this.runner.clock(boxId).offset,
    };
  }

  /** Inventory rows for a manager (JSON or CSV via inventoryCsv). */
  inventory(): InventoryRow[] {
    const caRoot = this.caRootFile;
    return this.runner.ids().map((id) => {
      const info = this.runner.info(id);
      const box = this.runner.box(id);
      const hostname = box?.hostname ?? info.spec.hostname;
      return {
        boxId: id,
        hostname,
        address: info.address,
        ports: info.ports,
        serial: box?.identity.serial ?? '',
        hostId: box?.identity.hostId ?? '',
        model: box?.identity.model ?? info.spec.model,
        firmware: box?.image.version ?? info.spec.firmware,
        snmpEngineId: box?.snmpStatus()?.engineId() ?? null,
        domain: box?.acmeView().issued?.domain ?? this.labDomain(hostname, info.address),
        caRoot,
        user: FIRST_ADMIN_USER,
      };
    });
  }

  // ---------------------------------------------------------------- boxes

  /** Add a box (the next free box-id unless given) with the topology's template, configure it, and issue its certificate if on-start says so. */
  async addBox(p: Partial<LabBoxSpec> = {}): Promise<LabBoxStatus> {
    const ids = this.runner.ids();
    const boxId = p.boxId ?? (ids.length ? Math.max(...ids) + 1 : 1);
    const tpl = this.topology.template;
    const spec: LabBoxSpec = {
      boxId,
      hostname: p.hostname ?? tpl.hostname.replaceAll('{id}', String(boxId)),
      model: p.model ?? tpl.model,
      firmware: p.firmware ?? (tpl.firmware || this.o.catalog.list().at(-1)!.version),
      cryptoMode: p.cryptoMode ?? tpl.cryptoMode,
      ...(p.address ? { address: p.address } : {}),
      ...(p.ports ? { ports: p.ports } : {}),
    };
    if (this.runner.ids().some((id) => this.runner.info(id).spec.hostname === spec.hostname)) {
      throw new Error(`hostname ${spec.hostname} is taken; give another with --hostname`);
    }
    try {
      await this.bringUp(spec);
    } catch (err) {
      if (this.runner.has(boxId)) await this.removeBox(boxId);
      throw err;
    }
    if (this.topology.onStart.issueCertificates) await this.fleet('issue', [boxId]);
    return this.boxStatus(boxId);
  }

  /** Stop a box, delete its state and its faults. */
  async removeBox(boxId: number): Promise<void> {
    await this.runner.remove(boxId);
    this.connectFaults.delete(boxId);
    this.notStarted.delete(boxId);
    this.faults.forget(boxId);
  }

  // ---------------------------------------------------------------- faults

  /** Turn a fault on or off on these boxes; returns their fault states. */
  setFault(fault: FaultName, on: boolean, boxIds: number[], delayMs?: number): FaultState[] {
    for (const id of boxIds) this.runner.info(id);
    for (const id of boxIds) {
      this.faults.set(id, fault, on, delayMs);
      this.publish({ boxId: id, hostname: this.hostnameOf(id), type: 'fault', fault, on });
    }
    return this.faults.list(boxIds);
  }

  // ---------------------------------------------------------------- time

  /**
   * Move the clocks of these boxes forward by `ms`: every timer re-checks its
   * deadline at once, so a renewal (or expiry warning) that falls due inside
   * the jump starts. Unless `keep`, each box comes back to the lab's time
   * 20 ms later, once those timers have fired and the work has begun:
   * - the CA issues from real time, so a box left ahead would see each new
   *   certificate as already due and renew again and again;
   * - coming back before the work ends means nothing the box schedules or
   *   sends afterwards (next renewal, trap pacing) is stamped with the
   *   jumped time.
   * Returns each box's offset right after the jump; with `keep`, a box whose
   * clock is now so far ahead that a certificate the CA issues now would
   * already be due by it gets a `warning` (its agent anchors such a
   * certificate on the box clock at install, so it renews once, not in a
   * loop; see acme/scheduler.ts clockAheadShift).
   */
  advanceTime(ms: number, boxIds: number[], keep = false): AdvancedClock[] {
    for (const id of boxIds) this.runner.info(id);
    const out = boxIds.map((id): AdvancedClock => {
      const clock = this.runner.clock(id);
      clock.advance(ms);
      this.publish({
        boxId: id,
        hostname: this.hostnameOf(id),
        type: 'clock-moved',
        byMs: ms,
        offsetMs: clock.offset,
        keep,
      });
      const warning = keep ? freshCertificateWarning(this.runner.box(id), clock.offset) : undefined;
      return { boxId: id, offsetMs: clock.offset, ...(warning ? { warning } : {}) };
    });
    if (!keep) {
      // After the timers the jump armed (0 ms, fired in order of arming): their work has started by then.
      const t = setTimeout(() => {
        this.rewinds.delete(t);
        for (const id of boxIds) if (this.runner.has(id)) this.runner.clock(id).rewind();
      }, 20);
      this.rewinds.add(t);
    }
    return out;
  }

  // ---------------------------------------------------------------- fleet ACME

  /**
   * Run an ACME operation on these boxes (concurrently, at most `parallel`
   * at a time) and wait for each to finish. A box that refuses (DeviceError,
   * e.g. nothing to renew) or is not running gets a Refused row; the others
   * run on. `onResult` sees each row as it completes. `o.settings` gives each
   * box's manager fields (the CLI's `lab acme`, the control plane's fleet
   * routes and the FM-shaped API all come here: one implementation).
   */
  async fleet(
    op: FleetOp,
    boxIds: number[],
    onResult?: (r: FleetResult) => void,
    o: { parallel?: number; settings?: (boxId: number) => FleetIssueSettings } = {},
  ): Promise<FleetResult[]> {
    const results: FleetResult[] = [];
    const queue = [...boxIds];
    const parallel = o.parallel ?? FLEET_PARALLEL;
    const done = (r: FleetResult) => {
      results.push(r);
      onResult?.(r);
    };
    // The CA each box talks to, by its origin: the key of the boxes' gate and its breaker.
    const originOf = (id: number) => {
      try {
        return new URL(o.settings?.(id).directoryUrl ?? this.directoryUrlFor(id)).origin;
      } catch {
        return '';
      }
    };
    const gates = this.runner.acmeGates;
    /** The boxes still queued for a CA whose breaker opened fail at once, with how many did not start. */
    const failQueued = (origin: string, reason: string) => {
      const gone = queue.filter((id) => op !== 'clear' && originOf(id) === origin);
      if (gone.length === 0) return;
      for (const id of gone) queue.splice(queue.indexOf(id), 1);
      const why = `${reason}; ${gone.length} box${gone.length === 1 ? '' : 'es'} not started`;
      for (const id of gone) done(this.notStartedRow(op, id, why));
    };
    const offs = [...new Set(boxIds.map(originOf))]
      .filter((origin) => origin !== '')
      .map((origin) => gates.for(origin).onOpen((reason) => failQueued(origin, reason)));
    const worker = async () => {
      for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
        const origin = op === 'clear' ? '' : originOf(id);
        const open = origin ? gates.for(origin).refusing : undefined;
        if (open !== undefined) {
          // Open already (a CA silent since an earlier operation): this box and those queued behind it.
          queue.unshift(id);
          failQueued(origin, open);
          continue;
        }
        done(await this.acmeOne(op, id, o.settings?.(id) ?? {}));
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(parallel, boxIds.length) }, worker));
    } finally {
      for (const off of offs) off();
    }
    return results.sort((a, b) => a.boxId - b.boxId);
  }

  /** The row of a box a fleet operation did not start (its CA went silent); `lab status` keeps the reason. */
  private notStartedRow(op: FleetOp, boxId: number, reason: string): FleetResult {
    const box = this.runner.has(boxId) ? this.runner.box(boxId) : undefined;
    const hostname =
      box?.hostname ?? (this.runner.has(boxId) ? this.runner.info(boxId).spec.hostname : `box-${boxId}`);
    this.notStarted.set(boxId, reason);
    this.progress.box(boxId, hostname, `${op}: Failed: ${reason}`);
    const c = box ? certificateStatus(box, reason) : undefined;
    return {
      boxId,
      hostname,
      op,
      result: `Failed: ${reason}`,
      ok: false,
      serial: c?.serial ?? null,
      expires: c?.expires ?? null,
      durationMs: 0,
    };
  }

  private async acmeOne(op: FleetOp, boxId: number, set: FleetIssueSettings): Promise<FleetResult> {
    const t0 = Date.now();
    const hostname = this.runner.has(boxId)
      ? (this.runner.box(boxId)?.hostname ?? this.runner.info(boxId).spec.hostname)
      : `box-${boxId}`;
    const row = (result: string, ok: boolean, box?: Box): FleetResult => {
      const c = box ? certificateStatus(box, this.notStarted.get(boxId)) : undefined;
      this.progress.box(boxId, hostname, ok ? `${op}: ok` : `${op}: ${result}`);
      return {
        boxId,
        hostname,
        op,
        result,
        ok,
        serial: c?.serial ?? null,
        expires: c?.expires ?? null,
        durationMs: Date.now() - t0,
      };
    };
    const box = this.runner.has(boxId) ? this.runner.box(boxId) : undefined;
    if (!box)
      return row(
        `Refused: box ${boxId} is ${this.runner.has(boxId) ? this.runner.info(boxId).state : 'not in the lab'}`,
        false,
      );
    this.progress.box(boxId, hostname, `${op}...`);
    try {
      if (op === 'clear') {
        await box.acmeClear(LAB_ACTOR);
        return row('Success', true, box);
      }
      const finished = this.nextFinished(box, this.o.issueTimeoutMs ?? 120_000);
      try {
        if (op === 'issue') {
          const keyAlgorithm = set.keyAlgorithm ?? this.topology.onStart.keyAlgorithm;
          const renewDays = set.renewDays ?? this.topology.onStart.renewDays;
          // The address goes beside the lab's own name for the box, not beside a domain a caller chose.
          const address = set.domain === undefined ? this.certificateAddressFor(boxId) : undefined;
          await box.acmeIssue(LAB_ACTOR, {
            domain: set.domain ?? this.domainFor(boxId),
            ...(address ? { address } : {}),
            directoryUrl: set.directoryUrl ?? this.directoryUrlFor(boxId),
            ...(keyAlgorithm ? { keyAlgorithm } : {}),
            ...(renewDays ? { renewDays } : {}),
          });
        } else {
          const domain = set.domain ?? box.acmeView().issued?.domain ?? this.domainFor(boxId);
          if (op === 'renew') await box.acmeRenew(LAB_ACTOR, domain);
          else await box.acmeRevoke(LAB_ACTOR, domain);
        }
      } catch (err) {
        finished.cancel();
        throw err;
      }
      const req = await finished.promise;
      const now = this.runner.box(boxId) ?? box;
      return req.status === 'Success'
        ? row('Success', true, now)
        : row(`Failed: ${req.reason ?? 'unknown reason'}`, false, now);
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      // Checked before any request (the CA unreachable, its TLS not trusted): `lab status` says why, not `none`.
      if (isDeviceError(err) && err.code === 'precondition') this.notStarted.set(boxId, msg.split('\n')[0]!);
      // A refusal started no request, so the box published nothing: the feed hears it from here.
      if (isDeviceError(err))
        this.publish({
          boxId,
          hostname,
          type: 'acme-finished',
          op,
          result: 'Refused',
          reason: msg.split('\n')[0]!,
          serial: certificateStatus(box, this.notStarted.get(boxId)).serial,
        });
      return row(isDeviceError(err) ? `Refused: ${msg}` : `Failed: ${msg}`, false, box);
    }
  }

  /** The next acme-request-finished of `box` (or a timeout failure). */
  private nextFinished(
    box: Box,
    timeoutMs: number,
  ): { promise: Promise<AcmeRequestStatus>; cancel: () => void } {
    let off: () => void = () => undefined;
    let timer: NodeJS.Timeout | undefined;
    const promise = new Promise<AcmeRequestStatus>((resolve) => {
      off = box.events.on('acme-request-finished', (e) => {
        off();
        clearTimeout(timer);
        resolve(e.request);
      });
      timer = setTimeout(() => {
        off();
        resolve({
          ...(box.acmeState().lastRequest as AcmeRequestStatus),
          status: 'Failed',
          reason: `no result within ${timeoutMs / 1000} s`,
        });
      }, timeoutMs);
    });
    return {
      promise,
      cancel: () => {
        off();
        clearTimeout(timer);
      },
    };
  }

  // ---------------------------------------------------------------- down

  /** Stop everything the lab started (see the class contract). */
  down(): Promise<void> {
    if (!this.downing) {
      this.downing = (async () => {
        for (const t of this.rewinds) clearTimeout(t);
        await this.trapTail?.stop();
        await this.runner.stopAll();
        await this.router?.close();
        await Promise.all([this.ca?.stop(), this.traps?.stop()]);
      })();
    }
    return this.downing;
  }
}

/**
 * The serial and expiry of each box's installed ACME certificate, with the
 * PEM they were read from: a status of 10,000 boxes parses no certificate it
 * parsed before (certificateFacts keeps only the last 2048 PEMs, so reading
 * 10,000 in turn parsed every one at every call). A box replaced by a reload
 * is a new key; the old entry goes with the old Box.
 */
const ACME_CERT_FACTS = new WeakMap<Box, { pem: string; serial: string; expires: string }>();

function acmeCertFacts(box: Box, pem: string): { serial: string; expires: string } {
  let f = ACME_CERT_FACTS.get(box);
  if (f?.pem !== pem) {
    const facts = certificateFacts(pem);
    f = { pem, serial: facts.serial, expires: new Date(facts.notAfter).toISOString() };
    ACME_CERT_FACTS.set(box, f);
  }
  return f;
}

/** The certificate status of a running box; `notStarted`: why the lab's last operation on it never became a request. */
function certificateStatus(box: Box, notStarted?: string): LabCertificateStatus {
  // In place: the records are only read here, and nothing of them is kept.
  const { issued, lastRequest: req, certPem } = box.acmeView();
  let serial: string | null = null;
  let expires: string | null = null;
  // Only the ACME certificate's facts (certificates() would read every certificate of the box).
  if (certPem !== undefined) ({ serial, expires } = acmeCertFacts(box, certPem));
  else if (issued) {
    serial = issued.serial;
    expires = new Date(issued.expiresMs).toISOString();
  }
  const base = {
    serial,
    expires,
    ...(issued ? { domain: issued.domain } : req ? { domain: req.domain } : {}),
    lastRequest: req
      ? {
          type: req.type,
          status: req.status,
          at: new Date(req.finishedMs ?? req.startedMs).toISOString(),
        }
      : null,
    nextRenewal: issued?.nextRenewalMs ? new Date(issued.nextRenewalMs).toISOString() : null,
  };
  const { state, reason } = certificateState(issued, req, box.clock.now(), notStarted);
  return { status: state, ...base, ...(reason ? { reason } : {}) };
}

/** CSV of the inventory (RFC 4180 quoting), with a header line. */
export function inventoryCsv(rows: InventoryRow[]): string {
  const q = (v: string | number | null) => {
    const s = v === null ? '' : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const head = [
    'box-id',
    'hostname',
    'address',
    'ssh-port',
    'cli-port',
    'https-port',
    'http-port',
    'snmp-port',
    'serial',
    'host-id',
    'model',
    'firmware',
    'snmp-engine-id',
    'domain',
    'ca-root',
    'user',
  ];
  const lines = rows.map((r) =>
    [
      r.boxId,
      r.hostname,
      r.address,
      r.ports.ssh,
      r.ports.cli,
      r.ports.https,
      r.ports.http,
      r.ports.snmp,
      r.serial,
      r.hostId,
      r.model,
      r.firmware,
      r.snmpEngineId,
      r.domain,
      r.caRoot,
      r.user,
    ]
      .map(q)
      .join(','),
  );
  return [head.join(','), ...lines].join('\r\n') + '\r\n';
}

/**
 * The admin password of the lab's boxes: the topology's, else the
 * environment variable it names, else the one kept in the lab directory from
 * an earlier run, else a new random one (kept there, mode 0600).
 */
async function adminPassword(topo: Topology, dir: string, env: NodeJS.ProcessEnv): Promise<string> {
  if (topo.adminPassword) return topo.adminPassword;
  const fromEnv = env[topo.adminPasswordEnv];
  if (fromEnv) return fromEnv;
  const file = join(dir, 'admin-password');
  try {
    const kept = (await readFile(file, 'utf8')).trim();
    if (kept) return kept;
  } catch {
    // none yet
  }
  const made = randomBytes(12).toString('base64url');
  await writeFile(file, made + '\n', { mode: 0o600 });
  return made;
}

/** The addressing line of `lab up` (see Lab.addressingNote). */
export function addressingNote(topo: Topology, a: Addressing, fallback: string | undefined): string {
  if (a.mode === 'addresses')
    return `addressing: one address per box (${topo.network.addressBase} + ${topo.network.addressOffset} + box-id), standard ports`;
  const how = `${a.sharedAddress} with port offsets (ssh ${a.portBase.ssh}+id, https ${a.portBase.https}+id)`;
  // Only a fallback gets here with the option on (the topology refuses it with mode ports).
  const inCert = topo.onStart.addressInCertificate || topo.boxes.some((b) => b.addressInCertificate);
  const noAddress = inCert
    ? '; boxes on the shared address get certificates by name only (address-in-certificate needs an address per box)'
    : '';
  return fallback
    ? `addressing: every box on ${how}, because ${fallback}; network.mode addresses would refuse instead${noAddress}`
    : `addressing: every box on ${how} (network.mode ports)`;
}

/** A wildcard listen address is reached at loopback. */
function loopbackOf(address: string): string {
  return address === '0.0.0.0' ? '127.0.0.1' : address === '::' ? '::1' : address;
}
