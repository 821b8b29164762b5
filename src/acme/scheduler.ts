/**
 * When to renew an ACME certificate, how to retry a failed renewal, and a
 * timer that waits for that moment safely however far away it is.
 *
 * The math is pure (table-tested in scheduler.test.ts); the timer takes its
 * time from an injected Clock, so tests and the lab move time instead of
 * sleeping.
 */
import type { AcmeIssued } from '../device/model.js';
import { MAX_TIMER_MS, type Clock, type TimerHandle } from '../lib/clock.js';

export const SECOND_MS = 1_000;
export const MINUTE_MS = 60 * SECOND_MS;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

/**
 * The moment (epoch ms) at which a certificate valid from `notBeforeMs` to
 * `expiresMs` should be renewed.
 *
 * - Default (renewDays null): when a third of the lifetime is left (seed:
 *   "default is 1/3rd days before the certification expiry"; certmagic does
 *   the same).
 * - renewDays N: N days before expiry, unless N days is more than the time
 *   left at `nowMs`; then the default (seed: "If the user provided auto renew
 *   days is > (expiry date – today date), then default renewal days will be
 *   calculated").
 *
 * The agent passes the certificate's notBefore as `nowMs` ("today" is the
 * day the certificate was issued), so the moment can be recomputed after a
 * restart from the stored certificate alone. The result may be in the past
 * (a box that was down); callers treat that as "due now". Pure.
 */
export function renewalMoment(
  notBeforeMs: number,
  expiresMs: number,
  renewDays: number | null,
  nowMs: number,
): number {
  const lifetimeMs = Math.max(0, expiresMs - notBeforeMs);
  const byDefault = expiresMs - Math.floor(lifetimeMs / 3);
  if (renewDays === null) return byDefault;
  const renewBeforeMs = renewDays * DAY_MS;
  const leftMs = expiresMs - nowMs;
  // ">=" and not the seed's ">": N days equal to the time left would put the
  // moment at `nowMs`, renewing at once, and again after every renewal.
  return renewBeforeMs >= leftMs ? byDefault : expiresMs - renewBeforeMs;
}

/** A certificate as the box got it: its validity, its renew-days, and the box clock when it was installed. */
export interface InstalledCertificate {
  notBeforeMs: number;
  expiresMs: number;
  renewDays: number | null;
  /** The box clock (epoch ms) when this certificate was installed. */
  installedMs: number;
}

/**
 * The certificate of an issued record as the box got it. Its install time is
 * the last successful renewal's or, before any, the issue's: both are
 * stamped by the box clock as the certificate is installed (issue, renew,
 * revoke's re-issue), so no separate field is stored. Pure.
 */
export function installedCertificate(i: AcmeIssued): InstalledCertificate {
  return {
    notBeforeMs: i.notBeforeMs,
    expiresMs: i.expiresMs,
    renewDays: i.renewDays,
    installedMs: i.lastSuccessfulRenewalMs ?? i.firstIssuedMs,
  };
}

/**
 * How far the renewal moment (and the retry bound) of a certificate is moved
 * later because the box clock ran ahead of the CA when it was installed; 0
 * for a box in step with its CA.
 *
 * Why: the CA stamps notBefore/notAfter from its own clock. A box whose clock
 * runs ahead (a lab's `time advance --keep`) would see every new certificate
 * as already due and renew it again at once, in a loop. So when the seed's
 * moment is less than half its interval (notBefore to moment) away from the
 * install, the certificate counts as issued at the install: the shift is
 * installedMs - notBeforeMs, and the box renews after the same interval of
 * its own time. A box in step (install seconds after notBefore, or a CA that
 * backdates notBefore by an hour) keeps the seed's moment to the second.
 * Pure.
 */
// EMULATION: a certificate installed when the box clock is past half of its renewal interval is anchored on the box clock at install (no renewal loop when the clock runs ahead of the CA).
export function clockAheadShift(c: InstalledCertificate): number {
  const intervalMs = renewalMoment(c.notBeforeMs, c.expiresMs, c.renewDays, c.notBeforeMs) - c.notBeforeMs;
  const aheadMs = c.installedMs - c.notBeforeMs;
  return aheadMs > intervalMs / 2 ? aheadMs : 0;
}

/**
 * The renewal moment of an installed certificate, on the box clock: the
 * seed's {@link renewalMoment} (with "today" = notBefore), moved later by
 * {@link clockAheadShift}. Never due at install for a certificate with a
 * lifetime. Pure.
 */
export function anchoredRenewalMoment(c: InstalledCertificate): number {
  return renewalMoment(c.notBeforeMs, c.expiresMs, c.renewDays, c.notBeforeMs) + clockAheadShift(c);
}

/**
 * The fewest real ms between two auto-renewals of one box, whatever its
 * clock says: at most 60 auto-renewals per box per hour. A safety net
 * under {@link anchoredRenewalMoment}: a certificate that is due again
 * right after its renewal (a clock that keeps jumping, a CA that issues
 * certificates already expired) cannot make a box hammer its CA. The
 * default retry table starts at this gap, so it never delays a retry;
 * the lab's shortest certificates (1 hour) renew every 40 minutes.
 */
// EMULATION: at most one auto-renewal per box per minute of real time (the device's documentation names no bound).
export const AUTO_RENEWAL_MIN_GAP_MS = MINUTE_MS;

/** True when the renewal moment computed by {@link renewalMoment} is the system-computed default. */
export function isDefaultRenewal(expiresMs: number, renewDays: number | null, nowMs: number): boolean {
  return renewDays === null || renewDays * DAY_MS >= expiresMs - nowMs;
}

/**
 * Delays between failed renewal attempts (attempt n waits entry n-1; past the
 * end, the last entry repeats). Minutes at first, growing to hours, like
 * certmagic's retryIntervals: a CA that was down for a moment is retried
 * soon, one that is down for days is not hammered.
 *
 * | failed attempts | wait   | elapsed since the first failure |
 * |-----------------|--------|---------------------------------|
 * | 1               | 1 min  | 1 min                           |
 * | 2               | 2 min  | 3 min                           |
 * | 3               | 5 min  | 8 min                           |
 * | 4               | 10 min | 18 min                          |
 * | 5               | 20 min | 38 min                          |
 * | 6               | 30 min | 1 h 08 min                      |
 * | 7               | 1 h    | 2 h 08 min                      |
 * | 8               | 2 h    | 4 h 08 min                      |
 * | 9               | 4 h    | 8 h 08 min                      |
 * | 10 and later    | 6 h    | 14 h 08 min, then +6 h each     |
 *
 * Retries never go past expiry: see {@link nextRetryMoment}.
 */
export const RENEWAL_RETRY_DELAYS_MS: readonly number[] = [
  1 * MINUTE_MS,
  2 * MINUTE_MS,
  5 * MINUTE_MS,
  10 * MINUTE_MS,
  20 * MINUTE_MS,
  30 * MINUTE_MS,
  1 * HOUR_MS,
  2 * HOUR_MS,
  4 * HOUR_MS,
  6 * HOUR_MS,
];

/** The wait before retry number `failedAttempts` (1 = after the first failure). Pure. */
export function renewalRetryDelay(
  failedAttempts: number,
  table: readonly number[] = RENEWAL_RETRY_DELAYS_MS,
): number {
  if (table.length === 0) throw new RangeError('the retry table is empty');
  const i = Math.min(Math.max(1, failedAttempts), table.length) - 1;
  return table[i]!;
}

/** How long before expiry the last retry is made when the table would jump past it. */
export const LAST_CHANCE_BEFORE_EXPIRY_MS = MINUTE_MS;

/**
 * When to retry after the `failedAttempts`-th consecutive failure at
 * `failedAtMs`, or null to give up because the certificate has (nearly)
 * expired. The retry never lands after expiry: when the table's delay would
 * pass `expiresMs - lastChanceMs`, the retry is pulled in to that last-chance
 * moment, once; a failure at or after it gives up (the operator re-issues).
 * Callers with very short lifetimes pass a smaller `lastChanceMs`. Pure.
 */
export function nextRetryMoment(
  failedAttempts: number,
  failedAtMs: number,
  expiresMs: number,
  table: readonly number[] = RENEWAL_RETRY_DELAYS_MS,
  lastChanceMs: number = LAST_CHANCE_BEFORE_EXPIRY_MS,
): number | null {
  const lastChance = expiresMs - lastChanceMs;
  if (failedAtMs >= lastChance) return null;
  const wanted = failedAtMs + renewalRetryDelay(failedAttempts, table);
  return Math.min(wanted, lastChance);
}

/**
 * One deadline per owner (one per box), waited for through the injected
 * Clock.
 *
 * - Node fires a timer longer than 2^31-1 ms at once; this timer waits in
 *   chunks of at most MAX_TIMER_MS and re-checks the deadline against
 *   clock.now() after every wake, so a 5-year certificate causes no storm.
 * - After the clock jumps (lab or test moves time), the deadline is checked
 *   again at once; a deadline already reached fires through a 0 ms timer,
 *   never synchronously inside arm() or the jump.
 * - `onDue` runs at most once per arm(); arm() replaces the previous
 *   deadline; cancel() forgets it; dispose() also stops listening to jumps.
 *
 * Not reentrant across owners: use one RenewalTimer per box.
 */
export class RenewalTimer {
  private deadline: number | undefined;
  private handle: TimerHandle | undefined;
  private readonly offJump: () => void;
  private disposed = false;

  constructor(
    private readonly clock: Clock,
    private readonly onDue: () => void,
  ) {
    this.offJump = clock.onJump(() => {
      if (this.deadline !== undefined) this.schedule();
    });
  }

  /** The armed deadline (epoch ms), if any. */
  get deadlineMs(): number | undefined {
    return this.deadline;
  }

  /** Fire `onDue` once when clock.now() reaches `atMs` (at once if already past). */
  arm(atMs: number): void {
    if (this.disposed) return;
    if (!Number.isFinite(atMs)) throw new RangeError(`invalid deadline ${atMs}`);
    this.deadline = atMs;
    this.schedule();
  }

  /** Forget the deadline; onDue will not run. */
  cancel(): void {
    this.deadline = undefined;
    this.clock.clearTimer(this.handle);
    this.handle = undefined;
  }

  /** Cancel and stop listening to clock jumps (box shutdown). */
  dispose(): void {
    this.cancel();
    this.offJump();
    this.disposed = true;
  }

  private schedule(): void {
    this.clock.clearTimer(this.handle);
    this.handle = undefined;
    const deadline = this.deadline;
    if (deadline === undefined) return;
    const waitMs = Math.max(0, Math.min(deadline - this.clock.now(), MAX_TIMER_MS));
    this.handle = this.clock.setTimer(() => this.wake(deadline), waitMs);
  }

  private wake(deadline: number): void {
    this.handle = undefined;
    if (this.deadline !== deadline) return;
    // A chunk ended, or the clock drifted: only a reached deadline fires.
    if (this.clock.now() < deadline) {
      this.schedule();
      return;
    }
    this.deadline = undefined;
    this.onDue();
  }
}
