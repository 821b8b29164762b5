/**
 * The lab's event bus: one typed vocabulary for what happens in a running
 * lab (boxes started, stopped, killed, reloaded; auto-renewals; ACME
 * requests from any interface; faults; box clocks; traps received), numbered
 * and kept in a bounded ring so a late subscriber (the dashboard's SSE
 * reconnect with Last-Event-ID, `lab events --since`) catches up.
 *
 * Contract:
 * - publish() stamps each event with the next sequence number (1, 2, 3...,
 *   never reused while the lab runs) and an ISO 8601 time, keeps it in the
 *   ring (the newest `capacity`; older ones are dropped) and hands it to
 *   every subscriber synchronously, in subscription order. A subscriber that
 *   throws does not stop the others: its error goes to `onSubscriberError`
 *   and the next subscriber still gets the event.
 * - since(seq) answers the kept events with a larger sequence number, oldest
 *   first. A caller that finds `events[0].seq > seq + 1` missed some (the
 *   ring had dropped them): it should reload the whole state.
 * - subscribe() returns the unsubscribe function; after it the bus holds no
 *   reference to the listener (no leak for closed SSE streams).
 *
 * The Lab (lab.ts) publishes: it listens to each box's domain events
 * (device/events.ts), to the runner's box states and to its own actions
 * (faults, clock); TrapLogTail (trap-tail.ts) publishes the traps decoded
 * from the lab's snmptrapd log.
 */
import type { AcmeRequestType } from '../device/model.js';

/** The ACME operations a request can be (the device's request types, lower-case). */
export type LabAcmeOp = 'issue' | 'renew' | 'revoke' | 'clear' | 'auto-renew';

/** A varbind of a received trap, as snmptrapd printed it (name without its module). */
interface LabTrapVarbind {
  name: string;
  type: string;
  value: string;
}

/** What each kind of event carries besides seq, time, boxId and hostname. */
interface LabEventPayloads {
  /** The box is running (first start, `lab box start`, after a kill). */
  'box-started': { firmware: string | null };
  /** A clean stop (`lab box stop`, a removed box, `lab down`). */
  'box-stopped': object;
  /** An abrupt stop (`lab box kill`): no state flushed. */
  'box-killed': object;
  /** The box restarted in place (`reload` from any interface). */
  'box-reloaded': { firmware: string };
  /** The box could not start or reload. */
  'box-failed': { reason: string };
  /** The renewal timer renewed the certificate. */
  'auto-renewal-done': { serial: string | null; expires: string | null };
  /** The renewal timer's attempt failed; the box retries on its schedule. */
  'auto-renewal-failed': { reason: string; serial: string | null };
  /** An issue/renew/revoke/clear request started on the box (CLI, REST, GUI, fleet). */
  'acme-requested': { op: Exclude<LabAcmeOp, 'auto-renew'>; domain: string };
  /**
   * That request finished. `Refused` is a request the box turned down before
   * it started (nothing to renew, busy, box not running): only the fleet
   * operations of the lab report those.
   */
  'acme-finished': {
    op: Exclude<LabAcmeOp, 'auto-renew'>;
    result: 'Success' | 'Failed' | 'Refused';
    reason: string | null;
    /** The box's ACME certificate after it (null: none). */
    serial: string | null;
  };
  /** A fault of the box's path to the CA (or of the box) was turned on or off. */
  fault: { fault: string; on: boolean };
  /** The box clock moved: by `byMs`, now `offsetMs` ahead of the lab's time. */
  'clock-moved': { byMs: number; offsetMs: number; keep: boolean };
  /** A notification reached the lab's trap receiver (snmptrapd's log). */
  trap: {
    /** When snmptrapd received it (ISO 8601, whole seconds), or null when its log does not say. */
    receivedAt: string | null;
    /** The sender, "address:port". */
    source: string;
    /** The notification's name without its module (gvosSimCertRenewed, coldStart...). */
    name: string;
    varbinds: LabTrapVarbind[];
  };
}

/** One of the kinds of LabEventPayloads. */
type LabEventType = keyof LabEventPayloads;

/** What every event carries. */
interface LabEventHead {
  /** 1, 2, 3... in publication order. */
  seq: number;
  /** ISO 8601 with milliseconds, the lab's (real) time of publication. */
  time: string;
  /** The box it is about; null for a trap no box of the lab claims. */
  boxId: number | null;
  /** The box's hostname at the time, or null. */
  hostname: string | null;
}

/** One event of the lab (a discriminated union on `type`). */
export type LabEvent = {
  [K in LabEventType]: LabEventHead & { type: K } & LabEventPayloads[K];
}[LabEventType];

/** What publish() takes: an event without its seq and time. */
export type LabEventInput = {
  [K in LabEventType]: Omit<LabEventHead, 'seq' | 'time'> & { type: K } & LabEventPayloads[K];
}[LabEventType];

/** Events kept for late subscribers by default: minutes of a busy 1000-box lab. */
const DEFAULT_CAPACITY = 10_000;

/** The bus (see the file comment for the contract). */
export class LabEventBus {
  private readonly ring: (LabEvent | undefined)[];
  private next = 1;
  private readonly listeners = new Set<(e: LabEvent) => void>();

  constructor(
    private readonly o: {
      capacity?: number;
      /** The lab's real time (tests may fake it). */
      now?: () => number;
      onSubscriberError?: (err: unknown) => void;
    } = {},
  ) {
    this.ring = new Array<LabEvent | undefined>(Math.max(1, o.capacity ?? DEFAULT_CAPACITY));
  }

  /** The sequence number of the newest event (0 before the first). */
  get lastSeq(): number {
    return this.next - 1;
  }

  /** The sequence number of the oldest event still kept (lastSeq + 1 when none is). */
  get oldestSeq(): number {
    return Math.max(1, this.next - this.ring.length);
  }

  /** How many listeners are subscribed (tests: no leak). */
  get subscriberCount(): number {
    return this.listeners.size;
  }

  /** Number, stamp, keep and deliver one event; returns it as delivered. */
  publish(input: LabEventInput): LabEvent {
    const e = {
      ...input,
      seq: this.next,
      time: new Date((this.o.now ?? Date.now)()).toISOString(),
    } as LabEvent;
    this.ring[(this.next - 1) % this.ring.length] = e;
    this.next++;
    for (const fn of [...this.listeners]) {
      try {
        fn(e);
      } catch (err) {
        this.o.onSubscriberError?.(err);
      }
    }
    return e;
  }

  /** The kept events with seq > `seq` (all kept events for 0), oldest first. */
  since(seq = 0): LabEvent[] {
    const from = Math.max(seq + 1, this.oldestSeq);
    const out: LabEvent[] = [];
    for (let s = from; s < this.next; s++) out.push(this.ring[(s - 1) % this.ring.length]!);
    return out;
  }

  /** Call `fn` with every event published from now on; returns the unsubscribe function. */
  subscribe(fn: (e: LabEvent) => void): () => void {
    this.listeners.add(fn);
    return () => void this.listeners.delete(fn);
  }
}

/** The lab's op name of a device request type. */
export function acmeOpOf(type: AcmeRequestType): LabAcmeOp {
  return type === 'Auto-Renew' ? 'auto-renew' : (type.toLowerCase() as LabAcmeOp);
}

/** What happened, in a few words (no time, no box): the body of a feed line. */
export function describeEvent(e: LabEvent): string {
  switch (e.type) {
    case 'box-started':
      return `started${e.firmware ? ` (firmware ${e.firmware})` : ''}`;
    case 'box-stopped':
      return 'stopped';
    case 'box-killed':
      return 'killed';
    case 'box-reloaded':
      return `reloaded (firmware ${e.firmware})`;
    case 'box-failed':
      return `failed: ${e.reason}`;
    case 'auto-renewal-done':
      return `auto-renewal done: serial ${e.serial ?? '-'}, expires ${e.expires ?? '-'}`;
    case 'auto-renewal-failed':
      return `auto-renewal failed: ${e.reason}`;
    case 'acme-requested':
      return `acme ${e.op} requested for ${e.domain}`;
    case 'acme-finished':
      return `acme ${e.op}: ${e.result}${e.reason ? `: ${e.reason}` : ''}${e.result === 'Success' && e.serial ? ` (serial ${e.serial})` : ''}`;
    case 'fault':
      return `fault ${e.fault} ${e.on ? 'on' : 'off'}`;
    case 'clock-moved':
      return `clock ${e.byMs >= 0 ? 'advanced' : 'moved'} ${formatDuration(e.byMs)}, now ${formatDuration(e.offsetMs)} ahead${e.keep ? ' (kept)' : ''}`;
    case 'trap': {
      const descr = e.varbinds.find((v) => v.name.startsWith('gigamonSnmpNotifDescription'))?.value;
      return `trap ${e.name} from ${e.source}${descr ? `: ${descr}` : ''}`;
    }
  }
}

/** One line of the event feed: time, box, what happened. */
export function formatEventLine(e: LabEvent): string {
  const who = e.boxId === null ? 'lab' : `box ${e.boxId}${e.hostname ? ` ${e.hostname}` : ''}`;
  return `${e.time} ${who}: ${describeEvent(e)}`;
}

/** 90061000 -> "1d 1h 1m 1s"; 0 -> "0s". */
function formatDuration(ms: number): string {
  let s = Math.round(Math.abs(ms) / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
  ] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  if (s || !parts.length) parts.push(`${s}s`);
  return (ms < 0 ? '-' : '') + parts.join(' ');
}
