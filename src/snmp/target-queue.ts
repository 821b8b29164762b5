/**
 * The outbound queue of one notification target: a bounded FIFO drained at
 * a steady pace (traps over UDP to one receiver are lost in bursts: peers.md
 * §5 measured 285-414 of 1000 arriving from a 50 ms burst), and, for
 * informs, the retry loop with timeout and backoff. It counts what happens
 * (`show snmp host`). No net-snmp here: the wire is a TargetSender.
 */
import { backoffDelay, type BackoffOptions } from '../lib/backoff.js';
import type { Clock, TimerHandle } from '../lib/clock.js';
import type { Logger } from '../lib/logger.js';
import type { Notification } from './varbinds.js';

/** What became of one notification at one target. */
export type Outcome = 'sent' | 'acknowledged' | 'timed-out' | 'dropped';

/** The wire to one target (net-snmp-sender.ts; fakes in tests). */
export interface TargetSender {
  /** Hand one trap to the socket. Resolves once written; rejects on a local failure (bad address, closed socket). */
  trap(n: Notification): Promise<void>;
  /**
   * Send one InformRequest and wait up to `timeoutMs` for its Response.
   * Resolves on the response; rejects with InformTimeoutError when none
   * came, with another Error when the receiver refused it (an SNMPv3
   * report: unknown user, wrong digest) or the send failed.
   */
  inform(n: Notification, timeoutMs: number): Promise<void>;
  /** Cancel outstanding requests and close the socket; must not throw. */
  close(): void;
}

/** The receiver did not answer an inform in time. */
export class InformTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`no response within ${timeoutMs} ms`);
    this.name = 'InformTimeoutError';
  }
}

/** Counters of one target; the queue increments them, the notifier reports them. */
export interface TargetCounters {
  /** Notifications put on the wire (an inform counts once, however often it is retransmitted). */
  sent: number;
  /** Informs answered by the receiver. */
  acknowledged: number;
  /** Inform retransmissions after a timeout. */
  retried: number;
  /** Informs given up after the last retry. */
  timedOut: number;
  /** Notifications never delivered: queue full, unusable target, send error, refused inform, shutdown. */
  dropped: number;
}

export function zeroCounters(): TargetCounters {
  return { sent: 0, acknowledged: 0, retried: 0, timedOut: 0, dropped: 0 };
}

/** Tuning of a queue. Defaults: DEFAULT_QUEUE_SETTINGS. */
export interface QueueSettings {
  /** Notifications per second leaving for this target. */
  ratePerSec: number;
  /** Notifications waiting at most; more are dropped (counted). */
  capacity: number;
  /** Wait for an inform's response, per attempt. */
  informTimeoutMs: number;
  /** Retransmissions of an inform after the first attempt. */
  informRetries: number;
  /** Pause before retry n (1-based), after its timeout. */
  informBackoff: BackoffOptions;
  /** Informs awaiting a response at once; the queue waits when this many are out. */
  maxInformsInFlight: number;
}

/**
 * Defaults. Inform timeout 1500 ms and 3 retries are the defaults of
 * snmpTargetAddrTimeout and snmpTargetAddrRetryCount (SNMP-TARGET-MIB,
 * RFC 3413 §4.1). The pause before each retry doubles from 500 ms (capped
 * at 4 s), so a dead receiver costs one inform 4 x 1.5 s + 3.5 s = 9.5 s,
 * in the background.
 *
 * Rate 100/s: measured on a 2-core machine (how: notifier.ts), snmptrapd took v2c traps with no loss up to 10000/s and
 * v3 authPriv up to 5000/s when idle; with both cores busy, loss started
 * at 1000/s. 100/s leaves the receiver about a second of stall before its
 * socket buffer overflows.
 */
export const DEFAULT_QUEUE_SETTINGS: QueueSettings = {
  ratePerSec: 100,
  capacity: 2048,
  informTimeoutMs: 1500,
  informRetries: 3,
  informBackoff: { initialMs: 500, factor: 2, maxMs: 4000 },
  maxInformsInFlight: 16,
};

/** Highest accepted rate; above it the pace would need sub-millisecond timers. */
export const MAX_RATE_PER_SEC = 10_000;

/**
 * When timers fire late, the queue may send what fell due in the last
 * CATCH_UP_MS at once to keep the average rate, but never more: a larger
 * burst is what overflows the receiver (peers.md: batches of 10 with 1 ms
 * pauses all arrived).
 */
const CATCH_UP_MS = 10;

interface Item {
  n: Notification;
  done: (o: Outcome) => void;
}

/**
 * The queue of one target. enqueue() never throws, never waits for the
 * network, and its promise never rejects: a dead target cannot slow or
 * break the caller (issue 4: "never blocks or slows the ACME work").
 * Not reentrant across targets: one queue per target, all on one thread.
 */
export class TargetQueue {
  private readonly items: Item[] = [];
  private readonly intervalMs: number;
  private nextAtMs = -Infinity;
  private timer: TimerHandle | undefined;
  private inFlight = 0;
  private closed = false;
  private readonly offJump: () => void;
  /** Informs waiting out a backoff pause: cancel functions, so close() can finish them. */
  private readonly pauses = new Set<() => void>();

  constructor(
    private readonly o: {
      kind: 'traps' | 'informs';
      sender: TargetSender;
      clock: Clock;
      logger: Logger;
      settings: QueueSettings;
      counters: TargetCounters;
    },
  ) {
    const rate = Math.min(
      MAX_RATE_PER_SEC,
      o.settings.ratePerSec > 0 ? o.settings.ratePerSec : DEFAULT_QUEUE_SETTINGS.ratePerSec,
    );
    this.intervalMs = 1000 / rate;
    // After a manual clock jump, re-plan the waiting timer against the new now().
    this.offJump = o.clock.onJump(() => {
      if (!this.timer) return;
      this.o.clock.clearTimer(this.timer);
      this.timer = undefined;
      this.pump();
    });
  }

  /** Notifications waiting to leave. */
  get length(): number {
    return this.items.length;
  }

  /** Milliseconds between two notifications at this queue's rate. */
  get paceMs(): number {
    return this.intervalMs;
  }

  /** Queue one notification; resolves with its outcome (see Outcome). */
  enqueue(n: Notification): Promise<Outcome> {
    if (this.closed) {
      this.o.counters.dropped++;
      return Promise.resolve('dropped');
    }
    if (this.items.length >= this.o.settings.capacity) {
      this.o.counters.dropped++;
      if (this.o.counters.dropped === 1 || this.o.counters.dropped % 1000 === 0) {
        this.o.logger.warn('snmp queue full, notification dropped', {
          capacity: this.o.settings.capacity,
          dropped: this.o.counters.dropped,
        });
      }
      return Promise.resolve('dropped');
    }
    return new Promise<Outcome>((done) => {
      // An idle queue starts a fresh schedule: no credit for the time it sat idle.
      if (this.items.length === 0 && !this.timer) this.nextAtMs = Math.max(this.nextAtMs, this.o.clock.now());
      this.items.push({ n, done });
      this.pump();
    });
  }

  /** Stop: pending and in-flight notifications end as dropped (counted); no timer stays armed. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.offJump();
    this.o.clock.clearTimer(this.timer);
    this.timer = undefined;
    for (const item of this.items.splice(0)) {
      this.o.counters.dropped++;
      item.done('dropped');
    }
    for (const cancel of [...this.pauses]) cancel();
    this.o.sender.close();
  }

  private pump(): void {
    if (this.closed || this.timer) return;
    while (this.items.length > 0) {
      if (this.o.kind === 'informs' && this.inFlight >= this.o.settings.maxInformsInFlight) return; // an answer resumes us
      const now = this.o.clock.now();
      // A clock moved backwards (lab time control, tests) must not hold traps for the size of the jump.
      if (this.nextAtMs > now + this.intervalMs) this.nextAtMs = now + this.intervalMs;
      if (now < this.nextAtMs) {
        this.timer = this.o.clock.setTimer(() => {
          this.timer = undefined;
          this.pump();
        }, this.nextAtMs - now);
        return;
      }
      this.nextAtMs = Math.max(this.nextAtMs, now - CATCH_UP_MS) + this.intervalMs;
      const item = this.items.shift()!;
      if (this.o.kind === 'traps') this.sendTrap(item);
      else this.sendInform(item);
    }
  }

  private sendTrap(item: Item): void {
    const c = this.o.counters;
    this.o.sender.trap(item.n).then(
      () => {
        c.sent++;
        item.done('sent');
      },
      (err: unknown) => {
        c.dropped++;
        this.o.logger.warn('snmp trap not sent', { notification: item.n.kind, reason: errorText(err) });
        item.done('dropped');
      },
    );
  }

  private sendInform(item: Item): void {
    const c = this.o.counters;
    const s = this.o.settings;
    this.inFlight++;
    c.sent++;
    const finish = (o: Outcome) => {
      this.inFlight--;
      item.done(o);
      this.pump();
    };
    const attempt = (retry: number): void => {
      this.o.sender.inform(item.n, s.informTimeoutMs).then(
        () => {
          c.acknowledged++;
          finish('acknowledged');
        },
        (err: unknown) => {
          if (this.closed) {
            c.dropped++;
            return finish('dropped');
          }
          if (!(err instanceof InformTimeoutError)) {
            c.dropped++;
            this.o.logger.warn('snmp inform refused or not sent', {
              notification: item.n.kind,
              reason: errorText(err),
            });
            return finish('dropped');
          }
          if (retry >= s.informRetries) {
            c.timedOut++;
            this.o.logger.warn('snmp inform timed out', { notification: item.n.kind, attempts: retry + 1 });
            return finish('timed-out');
          }
          this.pauseThen(
            backoffDelay(retry + 1, s.informBackoff),
            () => {
              c.retried++;
              attempt(retry + 1);
            },
            () => {
              c.dropped++;
              finish('dropped');
            },
          );
        },
      );
    };
    attempt(0);
  }

  /** Wait `ms` on the clock, then run `next`; close() runs `cancelled` instead. */
  private pauseThen(ms: number, next: () => void, cancelled: () => void): void {
    const handle = this.o.clock.setTimer(() => {
      this.pauses.delete(cancel);
      next();
    }, ms);
    const cancel = () => {
      this.o.clock.clearTimer(handle);
      this.pauses.delete(cancel);
      cancelled();
    };
    this.pauses.add(cancel);
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
