/**
 * The SNMP notifier of a box: device events -> SNMP traps and informs to
 * every configured target (issue 4; CLI contract: cli.md "SNMP
 * notifications"; MIB: mibs/GIGAMON-GVOS-SIM-MIB.txt).
 *
 * Flow: an event handler builds one Notification (varbinds.ts) and hands
 * it to the queue of each target (target-queue.ts), which paces it onto
 * the wire (net-snmp-sender.ts). Handlers return at once: a dead target
 * can fill its own queue and count drops, never slow the box.
 *
 * How the default pace (100/s per target) was chosen: a Node script sent
 * 3000 v2c traps at a fixed rate (timer-paced, as target-queue.ts does)
 * to snmptrapd 5.9.3 on 127.0.0.1 with this project's MIB and -F format,
 * logging to a file, and counted the lines: 0 lost at 500, 1000, 2000,
 * 5000 and 10000/s, 308 lost at 20000/s; v3 authPriv (SHA-256/AES) 0 lost
 * up to 5000/s, 1546 lost at 10000/s. With both cores busy (two `yes`
 * loops), v3 lost 107 at 1000/s and v2c 1943 at 5000/s, 0 at 500/s and
 * below. test/integration/snmp-rate.test.ts checks 1000 at the default.
 */
import { isIPv4 } from 'node:net';
import type { Box } from '../device/box.js';
import type { CertificateEvent, DeviceEvents } from '../device/events.js';
import type { SnmpEventName, SnmpTarget, SnmpUser } from '../device/model.js';
import type { SnmpAgentStatus, SnmpController, SnmpTargetCounters } from '../device/ports.js';
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { engineIdFor, engineTimeSeconds, MAX_ENGINE_VALUE } from './engine-id.js';
import { ExpiryWatch } from './expiry-watch.js';
import { sysObjectIdOf } from './mib.js';
import { senderProblem, sourceAddressFor, type SenderFactory } from './sender-spec.js';
import {
  DEFAULT_QUEUE_SETTINGS,
  TargetQueue,
  zeroCounters,
  type Outcome,
  type QueueSettings,
  type TargetCounters,
} from './target-queue.js';
import {
  bootNotification,
  certificateNotification,
  gigamonNotification,
  testNotification,
  type GigamonEvent,
  type BoxFacts,
  type CertificateFacts,
  type CertificateKind,
  type Notification,
} from './varbinds.js';

/** The default pace of a target (SnmpTarget.ratePerSec): see the module comment for the measurement. */
export const DEFAULT_RATE_PER_SEC = DEFAULT_QUEUE_SETTINGS.ratePerSec;

/** What a notifier is built from. `settings` is for tests and the lab. */
export interface SnmpNotifierOptions {
  box: Box;
  clock: Clock;
  logger: Logger;
  /** Queue tuning shared by every target (the rate comes from each target unless it is not positive). */
  settings?: Partial<Omit<QueueSettings, 'ratePerSec'>>;
  /** The wire: host/ passes net-snmp-sender.ts's createNetSnmpSender, tests a fake. */
  senderFactory: SenderFactory;
}

/** Which device event becomes which notification (and which `snmp-server notify event` name gates it). */
const CERTIFICATE_EVENTS = {
  'certificate-issued': 'cert-issued',
  'certificate-renewed': 'cert-renewed',
  'certificate-renewal-failed': 'cert-renewal-failed',
  'certificate-revoked': 'cert-revoked',
  'certificate-cleared': 'cert-cleared',
  'certificate-expiring-soon': 'cert-expiring-soon',
} as const satisfies Partial<Record<keyof DeviceEvents, CertificateKind>>;

/**
 * Sends a box's notifications. One per box; start() after the box is
 * built, stop() before it goes away (reload, shutdown).
 *
 * Contract:
 * - Reads the running config (box.config.snmp) at send time: nothing is
 *   sent unless `enabled` and `notifyEnabled`; an event is sent only when
 *   its name is in `events`; each notification goes to every target.
 * - Certificate events, coldStart/warmStart on `booted`, and
 *   certificate-expiring-soon, which this notifier detects itself and emits
 *   as a device event (then sends like the others).
 * - Event handlers never throw and never wait for the network.
 * - stop() unsubscribes, cancels every timer and closes every socket;
 *   nothing it created keeps the process alive afterwards. stop() is
 *   final: a reload builds a new notifier.
 * Not safe to share between boxes.
 */
export class SnmpNotifier implements SnmpController {
  private readonly box: Box;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly settings: Omit<QueueSettings, 'ratePerSec'>;
  private readonly senderFactory: SenderFactory;
  private readonly engineIdHex: string;
  private readonly expiry: ExpiryWatch;
  /** Queues by target definition (target + v3 user): a changed definition gets a new session. */
  private readonly queues = new Map<string, TargetQueue>();
  /** Counters by host|port|kind: they survive a redefinition of the same target. */
  private readonly countersByTarget = new Map<string, TargetCounters>();
  /** Targets that cannot be served, already logged (one line per definition). */
  private readonly loggedProblems = new Set<string>();
  private unsubscribe: (() => void)[] = [];
  private agent: { status(): SnmpAgentStatus } | undefined;
  private running = false;

  constructor(o: SnmpNotifierOptions) {
    this.box = o.box;
    this.clock = o.clock;
    this.log = o.logger.child({ component: 'snmp' });
    const { ratePerSec: _rate, ...defaults } = DEFAULT_QUEUE_SETTINGS;
    this.settings = { ...defaults, ...(o.settings ?? {}) };
    this.senderFactory = o.senderFactory;
    this.engineIdHex = engineIdFor(o.box.identity);
    this.expiry = new ExpiryWatch({
      clock: o.clock,
      read: () => ({
        // Read in place (no copy): the watch reads two numbers and a serial at each rearm, once per certificate.
        issued: this.box.acmeView().issued,
        busy: this.box.acmeBusy,
        expiringSoonDays: this.box.config.snmp.expiringSoonDays,
      }),
      onExpiringSoon: (issued, daysLeft) =>
        this.box.events.emit('certificate-expiring-soon', {
          boxId: this.box.boxId,
          hostname: this.box.hostname,
          domain: issued.domain,
          serial: issued.serial,
          expiresMs: issued.expiresMs,
          daysLeft,
        }),
    });
  }

  // ------------------------------------------------------------ lifecycle

  /** Subscribe to the box's events and arm the expiring-soon timer. Idempotent. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const ev = this.box.events;
    for (const [event, kind] of Object.entries(CERTIFICATE_EVENTS) as [
      keyof typeof CERTIFICATE_EVENTS,
      CertificateKind,
    ][]) {
      this.unsubscribe.push(
        ev.on(event, (e: CertificateEvent & { previousSerial?: string; daysLeft?: number }) => {
          this.onCertificateEvent(kind, e);
          if (kind !== 'cert-expiring-soon') this.expiry.rearm();
        }),
      );
    }
    this.unsubscribe.push(
      ev.on('booted', (e) => {
        this.onBooted(e.kind, e.version);
        this.onGigamon({ kind: 'reset', bootKind: e.kind, version: e.version });
      }),
      ev.on('firmware-changed', (e) =>
        this.onGigamon({ kind: 'firmware-change', previous: e.previous, version: e.version }),
      ),
      ev.on('config-saved', (e) =>
        this.onGigamon({ kind: 'config-save', user: e.user, fileName: e.fileName }),
      ),
      ev.on('login-failed', (e) => this.onGigamon({ kind: 'auth-fail', user: e.user, source: e.source })),
      ev.on('acme-request-finished', () => this.expiry.rearm()),
      ev.on('config-changed', (e) => {
        if (e.section !== 'snmp') return;
        this.pruneQueues();
        this.expiry.rearm();
      }),
      this.clock.onJump(() => this.expiry.rearm()),
    );
    this.expiry.rearm();
  }

  /** Unsubscribe, cancel timers, close sessions; pending notifications are dropped (counted). */
  stop(): void {
    this.running = false;
    for (const off of this.unsubscribe.splice(0)) off();
    this.expiry.stop();
    for (const queue of this.queues.values()) queue.close();
    this.queues.clear();
  }

  // ------------------------------------------------------------ SnmpController

  /** RFC 3411 engine ID of this box (engine-id.ts), hex without 0x; stable across boots. */
  engineId(): string {
    return this.engineIdHex;
  }

  /** snmpEngineBoots: the box's persisted boot count (the host increments it on every boot). */
  engineBoots(): number {
    return Math.min(MAX_ENGINE_VALUE, this.box.snmpEngineBoots);
  }

  /** snmpEngineTime: seconds since this boot (box clock). */
  engineTime(): number {
    return engineTimeSeconds(this.clock.now(), this.box.bootedAtMs);
  }

  /** The agent whose counters `show snmp` reports with this notifier's engine (the host attaches it). */
  attachAgent(agent: { status(): SnmpAgentStatus } | undefined): void {
    this.agent = agent;
  }

  /** The agent's address, port and counters, when one is attached. */
  agentStatus(): SnmpAgentStatus | undefined {
    return this.agent?.status();
  }

  /** The box's address when `targetHost` is of its family (see sourceAddressFor). */
  sourceAddress(targetHost: string): string | undefined {
    return sourceAddressFor(this.box.address, targetHost);
  }

  /** Counters of every configured target, in config order (zeros for a target that sent nothing yet). */
  counters(): SnmpTargetCounters[] {
    return this.box.config.snmp.targets.map((target) => ({
      target: structuredClone(target),
      ...(this.countersByTarget.get(counterKey(target)) ?? zeroCounters()),
    }));
  }

  /**
   * The test notification (gvosSimTest) to every target, whatever the
   * `events` list says. Resolves when each target has its outcome: traps
   * when written, informs when answered, timed out or dropped. The box
   * checks that notifications are enabled (Box.snmpSendTest).
   */
  async sendTest(): Promise<void> {
    const n = testNotification(this.facts(this.box.hostname), this.box.uptimeMs());
    await Promise.all(this.box.config.snmp.targets.map((t) => this.enqueue(t, n)));
  }

  // ------------------------------------------------------------ events

  private onCertificateEvent(
    kind: CertificateKind,
    e: CertificateEvent & { previousSerial?: string; daysLeft?: number },
  ): void {
    const cert: CertificateFacts = { domain: e.domain, serial: e.serial, expiresMs: e.expiresMs };
    if (e.reason !== undefined) cert.reason = e.reason;
    if (e.previousSerial !== undefined) cert.previousSerial = e.previousSerial;
    if (e.daysLeft !== undefined) cert.daysLeft = e.daysLeft;
    this.publish(kind, certificateNotification(kind, this.facts(e.hostname), cert, this.box.uptimeMs()));
  }

  private onBooted(kind: 'cold' | 'warm', version: string): void {
    this.publish(
      kind === 'cold' ? 'cold-start' : 'warm-start',
      bootNotification(kind, this.facts(this.box.hostname), version, this.box.uptimeMs()),
    );
  }

  /** Hand `n` to every target if the config allows this event now. Fire-and-forget. */
  private publish(event: SnmpEventName, n: Notification): void {
    const cfg = this.box.config.snmp;
    if (!cfg.enabled || !cfg.notifyEnabled || !cfg.events.includes(event)) {
      this.log.debug('snmp notification not sent: disabled', { event });
      return;
    }
    for (const t of cfg.targets) void this.enqueue(t, n);
  }

  private facts(hostname: string): BoxFacts {
    const model = this.box.identity.model;
    return { boxId: this.box.boxId, hostname, model, sysObjectId: sysObjectIdOf(this.box.identity) };
  }

  /** One of Gigamon's public notifications, if its event is enabled. */
  private onGigamon(e: GigamonEvent): void {
    this.publish(e.kind, gigamonNotification(e, this.facts(this.box.hostname), this.box.uptimeMs()));
  }

  // ------------------------------------------------------------ queues

  /** Queue `n` for `target`; never throws (a failure to build the session is a counted drop). */
  private enqueue(target: SnmpTarget, n: Notification): Promise<Outcome> {
    try {
      return this.enqueueOrThrow(target, n);
    } catch (err) {
      this.countersFor(target).dropped++;
      this.log.warn('snmp notification dropped', {
        host: target.host,
        port: target.port,
        reason: err instanceof Error ? err.message : String(err),
      });
      return Promise.resolve('dropped');
    }
  }

  private enqueueOrThrow(target: SnmpTarget, n: Notification): Promise<Outcome> {
    const counters = this.countersFor(target);
    if (!this.running) {
      counters.dropped++;
      return Promise.resolve('dropped');
    }
    const user = this.userOf(target);
    const key = definitionKey(target, user);
    let queue = this.queues.get(key);
    if (!queue) {
      const problem = senderProblem(target, user);
      if (problem) {
        counters.dropped++;
        if (!this.loggedProblems.has(key)) {
          this.loggedProblems.add(key);
          this.log.warn('snmp target unusable, its notifications are dropped', {
            host: target.host,
            port: target.port,
            problem,
          });
        }
        return Promise.resolve('dropped');
      }
      queue = this.newQueue(target, user, counters);
      this.queues.set(key, queue);
    }
    return queue.enqueue(n);
  }

  private newQueue(target: SnmpTarget, user: SnmpUser | undefined, counters: TargetCounters): TargetQueue {
    const logger = this.log.child({
      host: target.host,
      port: target.port,
      kind: target.kind,
      version: target.version,
    });
    const agentAddr = isIPv4(this.box.address) ? this.box.address : '0.0.0.0';
    const sourceAddress = this.sourceAddress(target.host);
    const sender = this.senderFactory(
      {
        target,
        ...(user ? { user } : {}),
        engine: this,
        agentAddr,
        ...(sourceAddress ? { sourceAddress } : {}),
      },
      logger,
    );
    return new TargetQueue({
      kind: target.kind,
      sender,
      clock: this.clock,
      logger,
      settings: {
        ...this.settings,
        ratePerSec: target.ratePerSec > 0 ? target.ratePerSec : DEFAULT_RATE_PER_SEC,
      },
      counters,
    });
  }

  /** Close the queues of definitions no longer in the running config (removed or changed targets and users). */
  private pruneQueues(): void {
    const current = new Set(this.box.config.snmp.targets.map((t) => definitionKey(t, this.userOf(t))));
    for (const [key, queue] of this.queues) {
      if (current.has(key)) continue;
      queue.close();
      this.queues.delete(key);
    }
    for (const key of this.loggedProblems) if (!current.has(key)) this.loggedProblems.delete(key);
  }

  private userOf(target: SnmpTarget): SnmpUser | undefined {
    return target.version === '3'
      ? this.box.config.snmp.users.find((u) => u.name === target.user)
      : undefined;
  }

  private countersFor(target: SnmpTarget): TargetCounters {
    const key = counterKey(target);
    let c = this.countersByTarget.get(key);
    if (!c) this.countersByTarget.set(key, (c = zeroCounters()));
    return c;
  }
}

/** The identity of a target in `show snmp host` (Box.snmpSetTarget replaces on host, port and kind). */
function counterKey(t: SnmpTarget): string {
  return `${t.host}|${t.port}|${t.kind}`;
}

/** Everything that shapes the session of a target: a change means a new session. */
function definitionKey(t: SnmpTarget, user: SnmpUser | undefined): string {
  return JSON.stringify([t.host, t.port, t.kind, t.version, t.community ?? null, t.ratePerSec, user ?? null]);
}
