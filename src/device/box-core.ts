/**
 * The shared state of one box and the one path every operator change takes.
 * The concern modules (system, users, certificates, firmware, acme, snmp)
 * and the ACME agent's port work over a BoxCore; the edges never see it
 * (the Box keeps it in a private field), so they can only ask the Box.
 *
 * Copy-on-write: `doc` (what is persisted) and `running` (the running
 * config) are never changed in place. A change is applied to a copy, which
 * becomes current only when the change is complete (and, for the document,
 * written), so a refused or failed change leaves nothing half done.
 *
 * Concurrency: commits are serialised per box; operations may be called
 * concurrently from many sessions.
 */
import type { Clock } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import { TypedEmitter } from '../lib/emitter.js';
import { ChallengeTokens } from './challenge-tokens.js';
import { DeviceError } from './errors.js';
import type { DeviceEvents } from './events.js';
import type { FirmwareCatalog } from './firmware.js';
import { DEFAULT_CERT_NAME, type BoxDocument, type CryptoMode, type RunningConfig } from './model.js';
import type { AcmeController, BoxPersistence, ConfigFileTransfer, SnmpController } from './ports.js';
import { requireRole, type Actor, type Role } from './roles.js';
import { clip } from './validate.js';

/** What a box is built from. */
export interface BoxOptions {
  doc: BoxDocument;
  persistence: BoxPersistence;
  clock: Clock;
  logger: Logger;
  firmware: FirmwareCatalog;
  /** The management IP the box's listeners bind. */
  address: string;
  /** cold = the process started, warm = `reload`. */
  bootKind: 'cold' | 'warm';
  clusterName?: string;
  /** Where `configuration upload|fetch` read and write; absent: those commands are refused. */
  configTransfer?: ConfigFileTransfer;
}

/** The part of the running config a change touches (the config-changed event). */
export type ConfigSection = DeviceEvents['config-changed']['section'];

/** Returned by a change that finds nothing to do: no write, no audit line, no event. */
export const UNCHANGED: unique symbol = Symbol('unchanged');

/** What a change sees: the copy to change, who asks, and the box (read only). */
interface Change<D> {
  draft: D;
  actor: Actor;
  core: BoxCore;
}

/**
 * The policy of a running-config setting: who may change it, how a copy of
 * the config is changed (validating first: throw DeviceError to refuse), and
 * the audit line. `audit` is required: every change is audited.
 */
export interface SettingPolicy<A extends unknown[]> {
  role: Role;
  section: ConfigSection;
  apply(change: Change<RunningConfig>, ...args: A): void | typeof UNCHANGED;
  /** The audit line from the arguments (the command as the CLI spells it). */
  audit(args: A): string;
}

/**
 * The policy of a change that persists at once (certificates, keys, CA list,
 * web mapping, firmware, `write memory`): who may make it, how a copy of the
 * document is changed (validating first), the audit line, and what follows
 * a successful write (an event).
 */
export interface StoredPolicy<A extends unknown[], R> {
  role: Role;
  apply(change: Change<BoxDocument>, ...args: A): R | typeof UNCHANGED;
  /** The audit line from the arguments and what `apply` returned. */
  audit(args: A, result: R): string;
  /** Runs after a successful write and its audit line: the domain event of the change. */
  after?(core: BoxCore, actor: Actor, ...args: A): void;
}

/** An operation of the command layer over a box's core. */
export type Operation<A extends unknown[], R> = (core: BoxCore, actor: Actor, ...args: A) => R;

/**
 * A running-config setting: role check, validation and change on a copy,
 * the copy made current, audit, config-changed. Not persisted until
 * `write memory`.
 */
export function setting<A extends unknown[]>(p: SettingPolicy<A>): Operation<A, void> {
  return (core, actor, ...args) => {
    requireRole(actor, p.role);
    const draft = structuredClone(core.running);
    if (p.apply({ draft, actor, core }, ...args) === UNCHANGED) return;
    core.running = draft;
    core.audit(actor, p.audit(args));
    core.configChanged(p.section);
  };
}

/**
 * A change that persists at once: role check, then, in the box's commit
 * queue, validation and change on a copy of the document, the write, the
 * copy made current; then audit and `after`. A refused change or a failed
 * write changes nothing.
 */
export function stored<A extends unknown[], R = void>(
  p: StoredPolicy<A, R>,
): Operation<A, Promise<R | undefined>> {
  return async (core, actor, ...args) => {
    requireRole(actor, p.role);
    const out: { result: R | typeof UNCHANGED } = { result: UNCHANGED };
    await core.commit((draft) => {
      out.result = p.apply({ draft, actor, core }, ...args);
      return out.result === UNCHANGED ? UNCHANGED : undefined;
    });
    const result = out.result;
    if (result === UNCHANGED) return undefined;
    core.audit(actor, p.audit(args, result));
    p.after?.(core, actor, ...args);
    return result;
  };
}

/** The state one box shares between its concerns. Device-internal: the edges hold a Box. */
export class BoxCore {
  readonly events: TypedEmitter<DeviceEvents>;
  readonly challenges = new ChallengeTokens();
  readonly clock: Clock;
  readonly address: string;
  readonly bootedAtMs: number;
  readonly bootKind: 'cold' | 'warm';
  /** The crypto mode the box booted in (a `crypto mode` change waits for reload). */
  readonly activeCryptoMode: CryptoMode;
  readonly clusterName: string;
  readonly log: Logger;
  readonly firmware: FirmwareCatalog;
  readonly configTransfer: ConfigFileTransfer | undefined;

  /** The persisted document; replaced, never changed in place (commit()). */
  doc: BoxDocument;
  /** The running configuration; replaced, never changed in place (setting()). */
  running: RunningConfig;
  acme: AcmeController | undefined;
  snmp: SnmpController | undefined;
  /** Set between acmeBegin's check and its commit (two callers at once). */
  acmeStarting = false;

  private readonly persistence: BoxPersistence;
  private commitQueue: Promise<unknown> = Promise.resolve();
  /** A change made current without a write (commit with `write: false`) waits for the next write. */
  private unsaved = false;
  /** Open batch() scopes: while above 0, commits are made current without a write. */
  private batching = 0;

  constructor(o: BoxOptions) {
    // cloneDocument, not structuredClone: the strings (keys, hashes, event names) are shared by
    // the document and the running configuration instead of held twice per box.
    this.doc = cloneDocument(o.doc);
    this.running = cloneDocument(o.doc.config);
    this.persistence = o.persistence;
    this.clock = o.clock;
    this.log = o.logger;
    this.firmware = o.firmware;
    this.configTransfer = o.configTransfer;
    this.address = o.address;
    this.bootKind = o.bootKind;
    this.bootedAtMs = o.clock.now();
    this.activeCryptoMode = o.doc.config.cryptoMode;
    this.clusterName = o.clusterName ?? 'gvos-sim';
    this.events = new TypedEmitter<DeviceEvents>((err, event) =>
      this.log.error('event listener failed', {
        event,
        err: err instanceof Error ? err.message : String(err),
      }),
    );
  }

  get boxId(): number {
    return this.doc.identity.boxId;
  }

  /**
   * Apply `mutate` to a copy of the document, write it, then make it current.
   * Serialised per box. `mutate` may throw (nothing changes) or return
   * UNCHANGED (nothing is written). On a write failure nothing changes and
   * the caller gets DeviceError('storage'), except with `keepInMemory`: then
   * the change is made current anyway (and reaches the disk with the next
   * write that succeeds). Only the end of an ACME request uses it: a request
   * that has ended must not stay "In Progress" in memory, or the box would
   * refuse every ACME operation until a restart even after its disk came back.
   *
   * With `write: false` the change is made current without a write, in the
   * same queue (so no concurrent commit can lose it), and reaches the disk
   * with the next write, or with flush() at shutdown. Only for what may be
   * lost in a crash at no cost but a repeat (the ACME account record).
   */
  commit(
    mutate: (draft: BoxDocument) => void | typeof UNCHANGED,
    o: { keepInMemory?: boolean; write?: boolean } = {},
  ): Promise<void> {
    const run = async () => {
      const draft = cloneDocument(this.doc);
      if (mutate(draft) === UNCHANGED) return;
      if (o.write === false || this.batching > 0) {
        this.doc = draft;
        this.unsaved = true;
        return;
      }
      try {
        await this.persistence.save(draft);
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        this.log.error('state write failed', { reason });
        if (o.keepInMemory) this.doc = draft;
        throw new DeviceError(
          'storage',
          `Could not save the box state (${clip(reason, 120)}); nothing was changed. Check the data directory and retry.`,
        );
      }
      this.doc = draft;
      this.unsaved = false;
    };
    const p = this.commitQueue.then(run, run);
    this.commitQueue = p.catch(() => undefined);
    return p;
  }

  /**
   * Run `fn`, whose changes are written together when it ends: one state
   * write (an atomic replace and fsync) for a series of stored changes
   * instead of one each. The lab configures a new box this way
   * (bench/lab-regression: the configure phase was three writes per box).
   *
   * Contract: every commit that runs while the batch is open, from any
   * caller, is made current at once and reaches the disk with the batch's
   * closing write (made even when `fn` throws, for what it made current).
   * Unlike a single change, a failed closing write does not undo them: they
   * stay current, the batch rejects with DeviceError('storage'), and the next
   * write that succeeds carries them. Batches may nest; the outermost writes.
   */
  async batch<T>(fn: () => Promise<T>): Promise<T> {
    this.batching++;
    let result: T;
    try {
      result = await fn();
    } finally {
      // Queued behind the batch's own commits, so the count drops only after they ran.
      await this.commitQueue.catch(() => undefined);
      this.batching--;
      if (this.batching === 0 && this.unsaved) await this.commit(() => undefined);
    }
    return result;
  }

  /** Wait until every queued commit has been written (shutdown). */
  async flush(): Promise<void> {
    await this.commitQueue.catch(() => undefined);
    // A change kept for the next write (see commit's `write: false`) is written now.
    if (this.unsaved) await this.commit(() => undefined).catch(() => undefined);
  }

  audit(actor: Actor, action: string): void {
    this.events.emit('audit', { boxId: this.boxId, actor, action });
  }

  configChanged(section: ConfigSection): void {
    this.events.emit('config-changed', { boxId: this.boxId, section });
  }

  /** The certificate and key the HTTPS server must present. Secret: for the web feature only. */
  webCredentials(): { certName: string; certPem: string; keyPem: string } {
    const rec =
      own(this.doc.crypto.certificates, this.doc.crypto.webCert) ??
      own(this.doc.crypto.certificates, DEFAULT_CERT_NAME)!;
    return { certName: rec.name, certPem: rec.certPem, keyPem: rec.keyPem! };
  }

  emitWebChange(): void {
    this.events.emit('web-certificate-changed', { boxId: this.boxId, ...this.webCredentials() });
  }
}

/**
 * A deep copy of a box document for a change (commit()): a new object for
 * every object and array, strings and numbers shared (immutable). The
 * document is JSON data (it is persisted as JSON), and a copy of its plain
 * objects here costs about a tenth of structuredClone's serialisation round
 * trip, paid twice per certificate a lab issues. Anything that is not a
 * plain object or array (not expected) is copied by structuredClone.
 */
function cloneDocument<T>(v: T): T {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) return v.map(cloneDocument) as T;
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) return structuredClone(v);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    const value = cloneDocument((v as Record<string, unknown>)[k]);
    // A key "__proto__" (a name someone typed) stays an own property, as structuredClone keeps it.
    if (k === '__proto__')
      Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
    else out[k] = value;
  }
  return out as T;
}

/** An own property of a by-name record: names such as "__proto__" or "toString" never reach Object.prototype. */
export function own<T>(rec: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(rec, key) ? rec[key] : undefined;
}
