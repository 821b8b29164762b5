/**
 * One clock per box of a lab, over the lab's shared SystemClock: a box's
 * time is the lab's time plus its own offset, so the control plane can move
 * one box (or all) forward to show an auto-renewal without waiting days.
 *
 * Why a view and not the SystemClock itself: the issue asks for "advance a
 * box's clock (or all)", and a lab whose CA keeps real time needs a way back
 * (see {@link BoxClock.rewind}); SystemClock only moves forward by contract.
 */
import { DAY_MS, HOUR_MS, renewalMoment } from '../acme/scheduler.js';
import type { Box } from '../device/box.js';
import type { Clock, JumpListener, SystemClock, TimerHandle } from '../lib/clock.js';

/** The clock of one box: the lab clock plus this box's offset. Timers are the lab clock's real timers. */
export class BoxClock implements Clock {
  private offsetMs = 0;
  private readonly jumpListeners = new Set<JumpListener>();

  /** `base` is the lab's clock; its own jumps reach this clock's listeners too. */
  constructor(private readonly base: SystemClock) {}

  now(): number {
    return this.base.now() + this.offsetMs;
  }

  /** How far this box is ahead of the lab's clock, in ms. */
  get offset(): number {
    return this.offsetMs;
  }

  setTimer(fn: () => void, delayMs: number): TimerHandle {
    // Delays are relative, so the base's real timers serve every offset.
    return this.base.setTimer(fn, delayMs);
  }

  clearTimer(handle: TimerHandle | undefined): void {
    this.base.clearTimer(handle);
  }

  onJump(listener: JumpListener): () => void {
    this.jumpListeners.add(listener);
    const offBase = this.base.onJump(listener);
    return () => {
      this.jumpListeners.delete(listener);
      offBase();
    };
  }

  /** Move this box's time forward by `ms` (>= 0) and tell its jump listeners (timers re-check their deadlines). */
  advance(ms: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms))
      throw new RangeError('advance takes a non-negative number of milliseconds');
    this.offsetMs += ms;
    this.notify(ms);
  }

  /**
   * Bring this box back to the lab's time (offset 0) and tell its jump
   * listeners, with the (negative) jump: the ACME agent moves back what it
   * stamped while ahead (a failed renewal's time and its retry). The lab
   * calls it right after an advance has fired the timers that fell due (see
   * Lab.advanceTime for why).
   */
  rewind(): void {
    if (this.offsetMs === 0) return;
    const back = -this.offsetMs;
    this.offsetMs = 0;
    this.notify(back);
  }

  private notify(deltaMs: number): void {
    for (const l of [...this.jumpListeners]) l(deltaMs);
  }
}

/** One row of `lab time advance`: how far a box's clock is ahead, and what to know about it. */
export interface AdvancedClock {
  boxId: number;
  offsetMs: number;
  /** With --keep: certificates the CA issues now are already due by this box's clock (see freshCertificateWarning). */
  warning?: string;
}

/**
 * The warning of `lab time advance --keep` for a box whose clock is now
 * `offsetMs` ahead of the CA: when a certificate like its current one, issued
 * now, would already be due by the box's clock. The box renews it once and
 * anchors the next moment on its own clock at install (no loop), but what
 * `lab status` shows for it is the box's view, not the CA's. Undefined when
 * there is nothing to say (no certificate, or not that far ahead). Pure.
 */
export function freshCertificateWarning(box: Box | undefined, offsetMs: number): string | undefined {
  const issued = box?.acmeState().issued;
  if (!issued) return undefined;
  const { notBeforeMs: nb, expiresMs, renewDays } = issued;
  const intervalMs = renewalMoment(nb, expiresMs, renewDays, nb) - nb;
  if (offsetMs < intervalMs) return undefined;
  return (
    `box ${box.boxId}: its clock is ${days(offsetMs)} ahead, more than the ${days(intervalMs)} after which a ` +
    `certificate the CA issues now falls due by it; each new certificate's renewal is anchored on the box clock ` +
    `at install (${days(intervalMs)} of box time later), so it renews once, not in a loop (at most one auto-renewal a minute)`
  );
}

function days(ms: number): string {
  const d = ms / DAY_MS;
  return d >= 1 ? `${Number(d.toFixed(1))} d` : `${Number((ms / HOUR_MS).toFixed(1))} h`;
}
