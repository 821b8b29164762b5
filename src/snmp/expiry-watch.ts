/**
 * Detects "certificate expiring soon": the ACME certificate enters its last
 * `expiringSoonDays` days and has not been replaced by then (issue 4: "a
 * configurable number of days before expiry with no renewal in sight").
 */
import type { AcmeIssued } from '../device/model.js';
import { MAX_TIMER_MS, type Clock, type TimerHandle } from '../lib/clock.js';

export const DAY_MS = 86_400_000;

/** What the watch reads each time it decides (the box's current state). */
export interface ExpiryState {
  issued: AcmeIssued | null;
  /** An ACME request is running (a renewal may replace the certificate any moment). */
  busy: boolean;
  expiringSoonDays: number;
}

/**
 * One timer, armed at `expiresMs - expiringSoonDays` for the current
 * certificate; fires `onExpiringSoon` at most once per certificate serial.
 *
 * "No renewal in sight" without guessing the ACME scheduler: a renewal
 * that is due before the warning time either succeeds (the serial changes,
 * and the next rearm() arms for the new certificate) or fails (the same
 * certificate is still there at the warning time: warn). A renewal that is
 * due only after the warning time (renew-days smaller than
 * expiring-soon days) leaves the certificate in place at that time: warn.
 * While a request runs at the warning time, the watch waits for its end
 * (the owner calls rearm() on acme-request-finished).
 *
 * The owner calls rearm() on acme-request-finished, on clock jumps, on
 * SNMP config changes and on certificate events; rearm() is cheap and
 * idempotent. Waits longer than MAX_TIMER_MS are taken in chunks, each
 * wake re-deciding from the state (DESIGN: long-timer safety).
 */
export class ExpiryWatch {
  private timer: TimerHandle | undefined;
  private firedForSerial: string | undefined;
  private stopped = false;

  constructor(
    private readonly o: {
      clock: Clock;
      read: () => ExpiryState;
      onExpiringSoon: (issued: AcmeIssued, daysLeft: number) => void;
    },
  ) {}

  /** Decide again from the current state: fire now, arm a timer, or do nothing. */
  rearm(): void {
    if (this.stopped) return;
    this.o.clock.clearTimer(this.timer);
    this.timer = undefined;
    const { issued, busy, expiringSoonDays } = this.o.read();
    if (!issued || issued.serial === this.firedForSerial) return;
    const now = this.o.clock.now();
    if (now >= issued.expiresMs) return; // expired: past "soon"
    const warnAtMs = issued.expiresMs - expiringSoonDays * DAY_MS;
    if (now < warnAtMs) {
      this.timer = this.o.clock.setTimer(
        () => {
          this.timer = undefined;
          this.rearm();
        },
        Math.min(warnAtMs - now, MAX_TIMER_MS),
      );
      return;
    }
    if (busy) return;
    this.firedForSerial = issued.serial;
    this.o.onExpiringSoon(issued, Math.floor((issued.expiresMs - now) / DAY_MS));
  }

  /** Whether a timer is armed (tests). */
  get armed(): boolean {
    return this.timer !== undefined;
  }

  /** Cancel the timer; rearm() does nothing afterwards. */
  stop(): void {
    this.stopped = true;
    this.o.clock.clearTimer(this.timer);
    this.timer = undefined;
  }
}
