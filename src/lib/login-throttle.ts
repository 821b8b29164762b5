/**
 * Failed logins counted per source, with a temporary lockout. Shared by every
 * way into a box (SSH, TCP CLI, REST), so a guesser cannot get more tries by
 * switching transport. Transport-free: callers give a source address and
 * report the outcome of each password check. Time comes from an injected
 * clock (lib/clock.ts), so tests move time instead of sleeping.
 *
 * Policy (defaults): 5 failures from one source within 60 s lock that
 * source out for 60 s. While locked, a login from it is refused before its
 * password is checked (no scrypt work, so a flood costs the box nothing).
 * Only the source is counted, never the user name: counting per user would
 * let anyone lock the admin out by guessing from elsewhere. Other sources
 * are never affected by one source's failures.
 *
 * Checks that are running count too: once a source has failed, its
 * running checks count against the limit, and no source may run more than
 * `maxConcurrent` checks at once (refused as "busy", not as a lockout). So a
 * burst of parallel connections gets at most `maxConcurrent + maxFailures`
 * guesses per window, while a manager that sends parallel requests with
 * correct HTTP Basic credentials is refused only beyond maxConcurrent at once.
 *
 * Memory is bounded: at most `maxSources` sources are tracked; beyond that,
 * entries with nothing left to remember go first, then the oldest. Dropping
 * an old entry can only give that source its tries back, never lock out
 * anyone (failing closed would let an attacker lock out everybody).
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Clock } from './clock.js';

/** Failures within the window that lock a source out. */
export const DEFAULT_MAX_LOGIN_FAILURES = 5;
/** The window in which failures are counted. */
export const DEFAULT_LOGIN_FAILURE_WINDOW_MS = 60_000;
/** How long a source stays locked out. */
export const DEFAULT_LOGIN_LOCKOUT_MS = 60_000;
/** Password checks one source may run at once. */
export const DEFAULT_MAX_CONCURRENT_CHECKS = 32;
/** Sources tracked at most. */
export const DEFAULT_MAX_TRACKED_SOURCES = 4096;

export interface LoginThrottleOptions {
  /** Only now() is read. */
  clock: Pick<Clock, 'now'>;
  maxFailures?: number;
  windowMs?: number;
  lockoutMs?: number;
  maxConcurrent?: number;
  maxSources?: number;
}

/** A password check that may go ahead; report its outcome exactly once. */
export interface LoginAttempt {
  readonly allowed: true;
  /** The password was right: the source's failures are forgotten. */
  succeeded(): void;
  /** The password was wrong. Returns the lockout this failure started, if any (ms). */
  failed(): { lockedOutMs: number | undefined };
  /** No verdict (the box was being reloaded): the attempt counts neither way. */
  abandon(): void;
}

/** A login refused without checking the password. */
export interface LoginRefusal {
  readonly allowed: false;
  /** locked-out: after failed logins; busy: too many checks from the source at once. */
  reason: 'locked-out' | 'busy';
  /** When the source may try again (ms from now, at least 1 s). */
  retryAfterMs: number;
  /** One line for the client, naming the source and the wait (the CLI prefixes "% "). */
  message: string;
}

interface Entry {
  /** Times of recent failures, oldest first (at most maxFailures kept). */
  failures: number[];
  lockedUntilMs: number;
  inFlight: number;
}

/** See the module comment. One instance per box; safe for any number of concurrent attempts. */
export class LoginThrottle {
  private readonly clock: Pick<Clock, 'now'>;
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly lockoutMs: number;
  private readonly maxConcurrent: number;
  private readonly maxSources: number;
  private readonly entries = new Map<string, Entry>();

  constructor(o: LoginThrottleOptions) {
    this.clock = o.clock;
    this.maxFailures = o.maxFailures ?? DEFAULT_MAX_LOGIN_FAILURES;
    this.windowMs = o.windowMs ?? DEFAULT_LOGIN_FAILURE_WINDOW_MS;
    this.lockoutMs = o.lockoutMs ?? DEFAULT_LOGIN_LOCKOUT_MS;
    this.maxConcurrent = o.maxConcurrent ?? DEFAULT_MAX_CONCURRENT_CHECKS;
    this.maxSources = o.maxSources ?? DEFAULT_MAX_TRACKED_SOURCES;
  }

  /**
   * Ask to check one password from `address` (an IP address as the socket
   * reports it). Refused while the source is locked out, while it already
   * runs maxConcurrent checks, or while it has failed and its failures plus
   * its running checks reach maxFailures.
   */
  begin(address: string): LoginAttempt | LoginRefusal {
    const key = sourceKey(address);
    const now = this.clock.now();
    const entry = this.entries.get(key);
    if (entry) {
      this.forgetOld(entry, now);
      if (entry.lockedUntilMs > now) {
        const ms = Math.max(1_000, entry.lockedUntilMs - now);
        return {
          allowed: false,
          reason: 'locked-out',
          retryAfterMs: ms,
          message: lockoutMessage(address, ms),
        };
      }
      const failed = entry.failures.length;
      // Not locked yet, but the checks running could take it there: come back when they are done.
      if (
        entry.inFlight >= this.maxConcurrent ||
        (failed > 0 && failed + entry.inFlight >= this.maxFailures)
      ) {
        return {
          allowed: false,
          reason: 'busy',
          retryAfterMs: 1_000,
          message: `Too many logins at once from ${key}; try again in 1 s.`,
        };
      }
    }
    const e = entry ?? this.track(key);
    e.inFlight++;
    let reported = false;
    const report = () => {
      if (reported) throw new Error('a login attempt was reported twice');
      reported = true;
      e.inFlight--;
    };
    return {
      allowed: true,
      succeeded: () => {
        report();
        e.failures = [];
        this.dropIfIdle(key, e);
      },
      failed: () => {
        report();
        const t = this.clock.now();
        this.forgetOld(e, t);
        e.failures.push(t);
        if (e.failures.length < this.maxFailures) return { lockedOutMs: undefined };
        e.failures = [];
        e.lockedUntilMs = t + this.lockoutMs;
        return { lockedOutMs: this.lockoutMs };
      },
      abandon: () => {
        report();
        this.dropIfIdle(key, e);
      },
    };
  }

  /** How long `address` stays locked out (ms), or 0. */
  lockedFor(address: string): number {
    const e = this.entries.get(sourceKey(address));
    return e ? Math.max(0, e.lockedUntilMs - this.clock.now()) : 0;
  }

  /** Sources tracked now (tests check the bound). */
  get trackedSources(): number {
    return this.entries.size;
  }

  private forgetOld(e: Entry, now: number): void {
    while (e.failures.length > 0 && e.failures[0]! + this.windowMs <= now) e.failures.shift();
  }

  private track(key: string): Entry {
    if (this.entries.size >= this.maxSources) this.evict();
    const e: Entry = { failures: [], lockedUntilMs: 0, inFlight: 0 };
    this.entries.set(key, e);
    return e;
  }

  /** Make room: entries with nothing to remember first, then the oldest that has no check running. */
  private evict(): void {
    const now = this.clock.now();
    for (const [k, e] of this.entries) {
      this.forgetOld(e, now);
      if (e.inFlight === 0 && e.failures.length === 0 && e.lockedUntilMs <= now) this.entries.delete(k);
    }
    if (this.entries.size < this.maxSources) return;
    // Maps iterate in insertion order: the first entries are the oldest.
    for (const [k, e] of this.entries) {
      if (e.inFlight > 0) continue;
      this.entries.delete(k);
      if (this.entries.size < this.maxSources) return;
    }
  }

  private dropIfIdle(key: string, e: Entry): void {
    if (e.inFlight === 0 && e.failures.length === 0 && e.lockedUntilMs <= this.clock.now())
      this.entries.delete(key);
  }
}

/**
 * The key a source is counted under: the IPv4 address (an IPv4-mapped IPv6
 * address counts as its IPv4 address), or the /64 prefix of an IPv6 address,
 * since one IPv6 host usually holds a whole /64 and could otherwise rotate
 * through it. Anything else is used as it is.
 */
export function sourceKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (isIPv4(address) || !isIPv6(address)) return address;
  const groups = expandIPv6(address);
  return `${groups.slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, in lower-case hex without leading zeros. */
function expandIPv6(address: string): string[] {
  let a = address.replace(/%.*$/, '').toLowerCase();
  // An embedded IPv4 tail (::ffff:1.2.3.4 and friends) becomes two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(a);
  if (v4) {
    const [b1, b2, b3, b4] = v4.slice(1).map(Number) as [number, number, number, number];
    a = a.slice(0, v4.index) + ((b1 << 8) | b2).toString(16) + ':' + ((b3 << 8) | b4).toString(16);
  }
  const [head = '', tail] = a.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((g) => parseInt(g, 16).toString(16));
}

/** The one-line refusal every transport shows a locked-out source (the CLI prefixes "% "). */
export function lockoutMessage(address: string, retryAfterMs: number): string {
  return `Too many failed logins from ${sourceKey(address)}; try again in ${Math.ceil(retryAfterMs / 1000)} s.`;
}
