/**
 * Time for the whole simulator comes from a Clock, never from Date.now() or
 * setTimeout directly, so that tests and the lab can move time (to show an
 * auto-renewal without waiting days) and no test sleeps for a renewal.
 */

/** An opaque handle returned by {@link Clock.setTimer}. */
export interface TimerHandle {
  readonly id: number;
}

/**
 * The time source. `now()` is milliseconds since the epoch. Timers fire at most
 * once. `onJump` listeners run after the clock is moved by hand (advance/set),
 * so that long timers can re-check their deadline instead of trusting an old
 * delay; they get the jump in ms (negative when the clock went back), so that
 * what was stamped while the clock was ahead can be moved back with it.
 *
 * Contract for timers: a delay above {@link MAX_TIMER_MS} is not allowed
 * (Node fires such a timer at once); callers that need longer waits re-arm in
 * chunks (see acme/scheduler.ts).
 */
export interface Clock {
  now(): number;
  setTimer(fn: () => void, delayMs: number): TimerHandle;
  clearTimer(handle: TimerHandle | undefined): void;
  /** Subscribe to manual jumps of the clock (the listener gets the jump in ms); returns an unsubscribe function. */
  onJump(listener: JumpListener): () => void;
}

/** Told of a manual jump of a clock: `deltaMs` is new now() minus old now(), negative when it went back. */
export type JumpListener = (deltaMs: number) => void;

/** The largest delay Node's setTimeout honours (2^31-1 ms, about 24.8 days). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The real clock, with an offset that the lab can advance. Advancing never
 * moves time backwards. Timers are real timers; after an advance, jump
 * listeners re-arm theirs against the new now().
 */
export class SystemClock implements Clock {
  private offsetMs = 0;
  private nextId = 1;
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private readonly jumpListeners = new Set<JumpListener>();

  now(): number {
    return Date.now() + this.offsetMs;
  }

  /** Move this clock forward by `ms` (>= 0) and notify jump listeners. */
  advance(ms: number): void {
    if (!(ms >= 0)) throw new RangeError('advance takes a non-negative number of milliseconds');
    this.offsetMs += ms;
    for (const l of [...this.jumpListeners]) l(ms);
  }

  /** The offset added to the system time, in ms. */
  get offset(): number {
    return this.offsetMs;
  }

  setTimer(fn: () => void, delayMs: number): TimerHandle {
    if (delayMs > MAX_TIMER_MS) throw new RangeError(`timer delay ${delayMs} ms exceeds ${MAX_TIMER_MS} ms`);
    const id = this.nextId++;
    const t = setTimeout(
      () => {
        this.timers.delete(id);
        fn();
      },
      Math.max(0, delayMs),
    );
    // A box's timers must never keep the process alive on shutdown.
    t.unref();
    this.timers.set(id, t);
    return { id };
  }

  clearTimer(handle: TimerHandle | undefined): void {
    if (!handle) return;
    const t = this.timers.get(handle.id);
    if (t) clearTimeout(t);
    this.timers.delete(handle.id);
  }

  onJump(listener: JumpListener): () => void {
    this.jumpListeners.add(listener);
    return () => this.jumpListeners.delete(listener);
  }
}

/**
 * A clock for unit tests: time moves only by advance()/set(). Due timers fire
 * in deadline order during advance(), each seeing now() equal to its deadline.
 */
export class ManualClock implements Clock {
  private current: number;
  private nextId = 1;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();
  private readonly jumpListeners = new Set<JumpListener>();

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.current = startMs;
  }

  now(): number {
    return this.current;
  }

  setTimer(fn: () => void, delayMs: number): TimerHandle {
    if (delayMs > MAX_TIMER_MS) throw new RangeError(`timer delay ${delayMs} ms exceeds ${MAX_TIMER_MS} ms`);
    const id = this.nextId++;
    this.timers.set(id, { at: this.current + Math.max(0, delayMs), fn });
    return { id };
  }

  clearTimer(handle: TimerHandle | undefined): void {
    if (handle) this.timers.delete(handle.id);
  }

  onJump(listener: JumpListener): () => void {
    this.jumpListeners.add(listener);
    return () => this.jumpListeners.delete(listener);
  }

  /** Number of armed timers (for tests that check nothing leaks). */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Run time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      let nextId = -1;
      let nextAt = Infinity;
      for (const [id, t] of this.timers) {
        if (t.at <= target && t.at < nextAt) {
          nextAt = t.at;
          nextId = id;
        }
      }
      if (nextId < 0) break;
      const t = this.timers.get(nextId)!;
      this.timers.delete(nextId);
      this.current = Math.max(this.current, t.at);
      t.fn();
    }
    this.current = target;
  }

  /** Jump to an absolute time without firing timers on the way, then notify jump listeners. */
  jumpTo(ms: number): void {
    const delta = ms - this.current;
    this.current = ms;
    for (const l of [...this.jumpListeners]) l(delta);
  }
}
