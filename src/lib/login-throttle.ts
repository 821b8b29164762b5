/**
 * Failed logins counted per source and per user name, with a temporary
 * lockout. Shared by every way into a box (SSH, TCP CLI, REST), so a guesser
 * cannot get more tries by switching transport. Transport-free: callers give
 * a source address and a user name and report the outcome of each password
 * check. Time comes from an injected clock (lib/clock.ts), so tests move
 * time instead of sleeping.
 *
 * Policy (defaults): 5 failures from one source within 60 s lock that
 * source out for 60 s; 100 failures for one user name within 60 s, from any
 * sources, lock that user name out for 60 s (a guesser spread over many
 * addresses). While locked, a login is refused before its password is
 * checked (no scrypt work, so a flood costs the box nothing). A success
 * forgets nothing: a guesser who also holds a valid account cannot reset
 * its count by logging in with it. Other sources are never affected by one
 * source's failures; the per-user bound is high so that locking a user out
 * from elsewhere takes many addresses (the trade-off real devices make with
 * their account lockout).
 *
 * Attempts are reserved before the password is checked: a source's
 * failures plus its running checks never exceed maxFailures (and the same
 * for a user name), and no source runs more than `maxConcurrent` checks at
 * once; beyond that the login is refused as "busy" (try again in 1 s), not
 * as a lockout. So a burst of parallel connections gets at most maxFailures
 * guesses per window. Correct credentials are kept cheap and unthrottled one
 * level up (device/login.ts: parallel identical checks share one, and
 * verified credentials are remembered briefly).
 *
 * Memory is bounded: at most `maxSources` entries (sources and user names)
 * are tracked; beyond that, entries with nothing left to remember go first,
 * then the oldest. Dropping an old entry can only give tries back, never
 * lock out anyone (failing closed would let an attacker lock out everybody).
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Clock } from './clock.js';

/** Failures within the window that lock a source out. */
const DEFAULT_MAX_LOGIN_FAILURES = 5;
// EMULATION: the lockout bounds (5 per source, 100 per user name, 60 s) are ours (README, "Login lockout").
/** Failures for one user name within the window, from any sources, that lock that user name out. */
const DEFAULT_MAX_USER_FAILURES = 100;
/** The window in which failures are counted. */
const DEFAULT_LOGIN_FAILURE_WINDOW_MS = 60_000;
/** How long a source (or user name) stays locked out. */
const DEFAULT_LOGIN_LOCKOUT_MS = 60_000;
/** Password checks one source may run at once. */
const DEFAULT_MAX_CONCURRENT_CHECKS = 32;
/** Entries (sources and user names) tracked at most. */
const DEFAULT_MAX_TRACKED_SOURCES = 4096;

export interface LoginThrottleOptions {
  /** Only now() is read. */
  clock: Pick<Clock, 'now'>;
  maxFailures?: number;
  maxUserFailures?: number;
  windowMs?: number;
  lockoutMs?: number;
  maxConcurrent?: number;
  maxSources?: number;
}

/** A password check that may go ahead; report its outcome exactly once. */
export interface LoginAttempt {
  readonly allowed: true;
  /** The password was right (the failures counted so far stay counted). */
  succeeded(): void;
  /**
   * The password was wrong. Returns the lockout this failure started, if any
   * (ms), and whether it locked the source or the user name.
   */
  failed(): { lockedOutMs: number | undefined; locked?: 'source' | 'user' };
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
  /** Times of recent failures, oldest first (at most the bound kept). */
  failures: number[];
  lockedUntilMs: number;
  inFlight: number;
}

/** See the module comment. One instance per box; safe for any number of concurrent attempts. */
export class LoginThrottle {
  private readonly clock: Pick<Clock, 'now'>;
  private readonly maxFailures: number;
  private readonly maxUserFailures: number;
  private readonly windowMs: number;
  private readonly lockoutMs: number;
  private readonly maxConcurrent: number;
  private readonly maxSources: number;
  private readonly entries = new Map<string, Entry>();

  constructor(o: LoginThrottleOptions) {
    this.clock = o.clock;
    this.maxFailures = o.maxFailures ?? DEFAULT_MAX_LOGIN_FAILURES;
    this.maxUserFailures = o.maxUserFailures ?? DEFAULT_MAX_USER_FAILURES;
    this.windowMs = o.windowMs ?? DEFAULT_LOGIN_FAILURE_WINDOW_MS;
    this.lockoutMs = o.lockoutMs ?? DEFAULT_LOGIN_LOCKOUT_MS;
    this.maxConcurrent = o.maxConcurrent ?? DEFAULT_MAX_CONCURRENT_CHECKS;
    this.maxSources = o.maxSources ?? DEFAULT_MAX_TRACKED_SOURCES;
  }

  /**
   * Ask to check one password of `user` from `address` (an IP address as the
   * socket reports it). Refused while the source or the user name is locked
   * out, while the source already runs maxConcurrent checks, or while the
   * failures plus the running checks of the source (or the user name) reach
   * their bound.
   */
  begin(address: string, user = ''): LoginAttempt | LoginRefusal {
    const key = sourceKey(address);
    const ukey = userKey(user);
    const now = this.clock.now();
    const locked = this.refusal(address, user, now);
    if (locked) return locked;
    const entry = this.entries.get(key);
    const uentry = this.entries.get(ukey);
    if (
      (entry &&
        (entry.inFlight >= this.maxConcurrent ||
          entry.failures.length + entry.inFlight >= this.maxFailures)) ||
      (uentry && uentry.failures.length + uentry.inFlight >= this.maxUserFailures)
    ) {
      // Not locked yet, but the checks running could take it there: come back when they are done.
      return {
        allowed: false,
        reason: 'busy',
        retryAfterMs: 1_000,
        message: `Too many logins at once from ${key}; try again in 1 s.`,
      };
    }
    const e = entry ?? this.track(key);
    e.inFlight++;
    const u = uentry ?? this.track(ukey);
    u.inFlight++;
    let reported = false;
    const report = () => {
      if (reported) throw new Error('a login attempt was reported twice');
      reported = true;
      e.inFlight--;
      u.inFlight--;
    };
    const settle = () => {
      this.dropIfIdle(key, e);
      this.dropIfIdle(ukey, u);
    };
    return {
      allowed: true,
      succeeded: () => {
        report();
        settle();
      },
      failed: () => {
        report();
        const t = this.clock.now();
        const bySource = this.fail(e, t, this.maxFailures);
        const byUser = this.fail(u, t, this.maxUserFailures);
        if (bySource) return { lockedOutMs: this.lockoutMs, locked: 'source' };
        if (byUser) return { lockedOutMs: this.lockoutMs, locked: 'user' };
        return { lockedOutMs: undefined };
      },
      abandon: () => {
        report();
        settle();
      },
    };
  }

  /** The refusal of a login of `user` from `address` right now if either is locked out, else undefined. */
  refusal(address: string, user = '', now = this.clock.now()): LoginRefusal | undefined {
    const key = sourceKey(address);
    for (const [k, message] of [
      [key, (ms: number) => lockoutMessage(address, ms)],
      [userKey(user), (ms: number) => userLockoutMessage(ms)],
    ] as const) {
      const entry = this.entries.get(k);
      if (!entry) continue;
      this.forgetOld(entry, now);
      if (entry.lockedUntilMs > now) {
        const ms = Math.max(1_000, entry.lockedUntilMs - now);
        return { allowed: false, reason: 'locked-out', retryAfterMs: ms, message: message(ms) };
      }
    }
    return undefined;
  }

  /** How long `address` stays locked out (ms), or 0. */
  lockedFor(address: string): number {
    const e = this.entries.get(sourceKey(address));
    return e ? Math.max(0, e.lockedUntilMs - this.clock.now()) : 0;
  }

  /** Entries (sources and user names) tracked now (tests check the bound). */
  get trackedSources(): number {
    return this.entries.size;
  }

  /** Count one failure on `e`; true when it starts a lockout. */
  private fail(e: Entry, t: number, bound: number): boolean {
    this.forgetOld(e, t);
    e.failures.push(t);
    if (e.failures.length < bound) return false;
    e.failures = [];
    e.lockedUntilMs = t + this.lockoutMs;
    return true;
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
    const now = this.clock.now();
    this.forgetOld(e, now);
    if (e.inFlight === 0 && e.failures.length === 0 && e.lockedUntilMs <= now) this.entries.delete(key);
  }
}

/** User names are counted under a key no address can take. */
function userKey(user: string): string {
  return `user\0${user}`;
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

/** The one-line refusal while a user name is locked out (it does not say whether the user exists). */
export function userLockoutMessage(retryAfterMs: number): string {
  return `Too many failed logins for this user; try again in ${Math.ceil(retryAfterMs / 1000)} s.`;
}
