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
 * every new caller, while the holders keep their own deadlines. Once the
 * last of them has ended, the next caller is let through alone as a probe
 * and the callers after it wait behind it: the probe's answer closes the
 * gate (they all go on), its silence for `silenceMs` turns them away again.
 * Any answer, from a probe or a late one from a silent holder, closes it.
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

/** Called when the breaker opens, and again when a probe stays as silent: its reason, and how many waiters it turned away. */
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
  /** While open: the one request let through to see whether the server answers again. */
  private probing = false;
  /** The probe has been silent for silenceMs: those behind it were turned away, and newcomers are. */
  private probeSilent = false;
  private readonly openListeners = new Set<GateOpenListener>();

  constructor(
    readonly limit: number,
    private readonly o: GateOptions = {},
  ) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`gate limit must be a positive integer, got ${limit}`);
    this.now = o.now ?? Date.now;
  }

  /** The breaker's reason while it is open, else undefined. */
  get openReason(): string | undefined {
    return this.open;
  }

  /** The breaker's reason while a new caller would be turned away at once (open, and not free for a probe). */
  get refusing(): string | undefined {
    if (this.open === undefined || this.active === 0 || (this.probing && !this.probeSilent)) return undefined;
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
    if (this.open === undefined) return;
    this.open = undefined;
    this.probing = false;
    this.probeSilent = false;
    // Those who waited behind a probe take the free places.
    while (this.active < this.limit && this.queue.length > 0) {
      this.active++;
      this.queue.shift()!.grant();
    }
  }

  /**
   * Open the breaker when places are held and nothing has been answered for
   * silenceMs; returns true when it opened now. Called by the gate's own
   * timer; public for tests with a fake clock.
   */
  checkSilence(): boolean {
    const limit = this.o.silenceMs ?? 0;
    if (limit <= 0 || this.active === 0) return false;
    if (this.now() - this.silentSince < limit) return false;
    if (this.open !== undefined) {
      // A probe silent as long: those waiting behind it are told at once; it keeps its own deadline.
      if (this.probing && !this.probeSilent) {
        this.probeSilent = true;
        this.tell(this.open, this.turnAway(this.open));
      }
      return false;
    }
    const seconds = Math.round(limit / 100) / 10;
    this.open = `the CA at ${this.o.name ?? 'this server'} has answered nothing for ${seconds} s`;
    this.tell(this.open, this.turnAway(this.open));
    return true;
  }

  private tell(reason: string, turnedAway: number): void {
    for (const l of [...this.openListeners]) l(reason, turnedAway);
  }

  /** Reject every waiter with `reason`; returns how many. */
  private turnAway(reason: string): number {
    const turnedAway = this.queue.splice(0);
    const err = new GateSilentError(reason);
    for (const w of turnedAway) w.refuse(err);
    return turnedAway.length;
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
    const refusing = this.refusing;
    if (refusing !== undefined) return Promise.reject(new GateSilentError(refusing));
    if (this.open !== undefined && !this.probing) {
      // The silent holders have all ended: this caller goes alone, to see whether the server answers.
      this.probing = true;
      this.probeSilent = false;
    }
    if (this.active < this.limit && !(this.open !== undefined && this.active > 0)) {
      if (this.active++ === 0) {
        this.silentSince = this.now();
        this.watch();
      }
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          forget();
          resolve(this.releaser());
        },
        refuse: (e: Error) => {
          forget();
          reject(e);
        },
      };
      const forget = whenAborted(signal, () => {
        const i = this.queue.indexOf(entry);
        if (i >= 0) this.queue.splice(i, 1);
        reject(abortReason(signal!));
      });
      this.queue.push(entry);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (this.open !== undefined) {
        // Still silent: whoever waited behind the probe is turned away, and no place is handed on.
        if (this.probing) {
          this.probing = false;
          this.turnAway(this.open);
        }
        if (--this.active === 0) this.unwatch();
        return;
      }
      // Hand the place straight to the next waiter (active stays the same), or free it.
      const next = this.queue.shift();
      if (next) next.grant();
      else if (--this.active === 0) this.unwatch();
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

/** The waits pending on each signal, run by the one abort listener each signal gets (whenAborted). */
const WAITS = new WeakMap<AbortSignal, Set<() => void>>();
const noop = () => undefined;

/**
 * Run `cancel` once if `signal` aborts, until the returned forget() is
 * called (call it when the wait ends otherwise). For a wait that usually
 * ends by a grant: each signal gets one abort listener, at its first wait,
 * and a wait only puts its cancel in that signal's set and takes it out
 * (0.1-0.2 µs), where adding and removing an EventTarget listener per wait
 * cost 4-5 µs with the gate or the lock (bench/abort-waits.ts). An ACME
 * operation's signal sees about ten waits. The listener stays on the signal
 * for its life (an operation's), holding only the emptied set.
 */
export function whenAborted(signal: AbortSignal | undefined, cancel: () => void): () => void {
  if (!signal) return noop;
  let waits = WAITS.get(signal);
  if (!waits) {
    const set = (waits = new Set());
    WAITS.set(signal, set);
    signal.addEventListener(
      'abort',
      () => {
        // A cancel may end another wait (the lock grants the next): only those still waiting run.
        for (const c of [...set]) if (set.delete(c)) c();
      },
      { once: true },
    );
  }
  const set = waits;
  set.add(cancel);
  return () => void set.delete(cancel);
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? Object.assign(new Error('The operation was aborted'), { name: 'AbortError' });
}
