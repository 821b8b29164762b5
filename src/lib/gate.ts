/**
 * A counting gate: at most `limit` holders at once, the others wait in
 * first-come order. Used to bound how many requests the boxes of one process
 * have in flight to one ACME server: a thousand boxes issuing at once would
 * otherwise open a thousand connections to it in the same millisecond, which
 * makes a single CA (Pebble, step-ca) spend its time on accept queues and
 * lock contention instead of certificates, and stalled Pebble 2.4.0 for good
 * in some runs (bench/scale).
 *
 * No transport: waiting ends by a release, by the caller's AbortSignal, or
 * (with {@link GateOptions.silenceMs}) by the gate's silence breaker.
 *
 * The silence breaker (issue 16): a CA that stops answering (Pebble stopped,
 * wedged, or a path that swallows everything) used to cost every queued box
 * its whole operation deadline, a batch after a batch (4 x 120 s at 1000
 * boxes). When the holders' requests have had no answer at all for
 * `silenceMs` (the holder reports each answer with {@link Gate.answered}),
 * the gate opens: every waiter is rejected at once with a
 * {@link GateSilentError} that names the server and the silence, and so is
 * every new caller, while the holders keep their own deadlines. It closes at
 * the next answer, or once the last holder has ended (the next caller then
 * tries the server again and, if it is still silent, trips it again after
 * `silenceMs`).
 */
export interface GateOptions {
  /** Trip the breaker after this long without an answer while places are held (ms); 0 or absent: never. */
  silenceMs?: number;
  /** What the reason names (the CA's origin). */
  name?: string;
  /** Milliseconds now (tests); default Date.now. */
  now?: () => number;
}

/** Why a waiter or caller was turned away: the server has answered nothing for the gate's silenceMs. */
export class GateSilentError extends Error {
  readonly code = 'ECASILENT';
  constructor(message: string) {
    super(message);
    this.name = 'GateSilentError';
  }
}

/** Called when the breaker opens: its reason, and how many waiters it turned away. */
export type GateOpenListener = (reason: string, turnedAway: number) => void;

/** How often the silence is checked, at most (a quarter of silenceMs when that is shorter). */
const SILENCE_TICK_MS = 1_000;

export class Gate {
  private active = 0;
  private readonly queue: Array<{ grant: () => void; refuse: (e: Error) => void }> = [];
  private readonly now: () => number;
  /** Since when the holders have heard nothing (the last answer, or the first grant after the gate was empty). */
  private silentSince = 0;
  private ticker: NodeJS.Timeout | undefined;
  private open: string | undefined;
  private readonly openListeners = new Set<GateOpenListener>();

  constructor(
    readonly limit: number,
    private readonly o: GateOptions = {},
  ) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`gate limit must be a positive integer, got ${limit}`);
    this.now = o.now ?? Date.now;
  }

  /** The breaker's reason while it is open (callers are turned away), else undefined. */
  get openReason(): string | undefined {
    return this.open;
  }

  /** Tell `listener` each time the breaker opens; returns the unsubscribe. */
  onOpen(listener: GateOpenListener): () => void {
    this.openListeners.add(listener);
    return () => this.openListeners.delete(listener);
  }

  /** A holder heard from the server (any response): the silence ends, and an open breaker closes. */
  answered(): void {
    this.silentSince = this.now();
    this.open = undefined;
  }

  /**
   * Open the breaker when places are held and nothing has been answered for
   * silenceMs; returns true when it opened now. Called by the gate's own
   * timer; public for tests with a fake clock.
   */
  checkSilence(): boolean {
    const limit = this.o.silenceMs ?? 0;
    if (limit <= 0 || this.open !== undefined || this.active === 0) return false;
    if (this.now() - this.silentSince < limit) return false;
    const seconds = Math.round(limit / 100) / 10;
    this.open = `the CA at ${this.o.name ?? 'this server'} has answered nothing for ${seconds} s`;
    const turnedAway = this.queue.splice(0);
    const err = new GateSilentError(this.open);
    for (const w of turnedAway) w.refuse(err);
    for (const l of [...this.openListeners]) l(this.open, turnedAway.length);
    return true;
  }

  /** Runs while places are held: the breaker needs a clock only then. */
  private watch(): void {
    const limit = this.o.silenceMs ?? 0;
    if (limit <= 0 || this.ticker) return;
    const every = Math.max(10, Math.min(SILENCE_TICK_MS, Math.floor(limit / 4)));
    let last = this.now();
    this.ticker = setInterval(() => {
      const t = this.now();
      // A late tick means this process was too busy to read answers: that time is not the server's silence.
      const lag = t - last - every;
      if (lag > every) this.silentSince += lag;
      last = t;
      this.checkSilence();
    }, every);
    this.ticker.unref();
  }

  private unwatch(): void {
    clearInterval(this.ticker);
    this.ticker = undefined;
  }

  /** Holders now (tests, diagnostics). */
  get holders(): number {
    return this.active;
  }

  /** Waiting callers now (tests, diagnostics). */
  get waiting(): number {
    return this.queue.length;
  }

  /**
   * Resolves with a release function once the caller holds a place; the
   * release is idempotent. Rejects with the signal's reason (an AbortError
   * when it has none) if the signal aborts first; the place is then not taken.
   */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.open !== undefined) return Promise.reject(new GateSilentError(this.open));
    if (this.active < this.limit) {
      if (this.active++ === 0) {
        this.silentSince = this.now();
        this.watch();
      }
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.releaser());
        },
        refuse: (e: Error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      const onAbort = () => {
        const i = this.queue.indexOf(entry);
        if (i >= 0) this.queue.splice(i, 1);
        reject(abortReason(signal!));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(entry);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      // Hand the place straight to the next waiter (active stays the same), or free it.
      const next = this.queue.shift();
      if (next) next.grant();
      else if (--this.active === 0) {
        this.unwatch();
        // Every held request has ended: the next caller tries the server again.
        this.open = undefined;
      }
    };
  }
}

/** One Gate per key (an ACME server's origin), made on first use with the same limit. */
export class GateMap {
  private readonly gates = new Map<string, Gate>();

  /** `o.silenceMs` arms each gate's breaker; each gate names its key (the CA's origin) in the reason. */
  constructor(
    readonly limit: number,
    private readonly o: Omit<GateOptions, 'name'> = {},
  ) {}

  for(key: string): Gate {
    let g = this.gates.get(key);
    if (!g) {
      g = new Gate(this.limit, { ...this.o, name: key });
      this.gates.set(key, g);
    }
    return g;
  }
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? Object.assign(new Error('The operation was aborted'), { name: 'AbortError' });
}
