/**
 * A counting gate: at most `limit` holders at once, the others wait in
 * first-come order. Used to bound how many requests the boxes of one process
 * have in flight to one ACME server: a thousand boxes issuing at once would
 * otherwise open a thousand connections to it in the same millisecond, which
 * makes a single CA (Pebble, step-ca) spend its time on accept queues and
 * lock contention instead of certificates, and stalled Pebble 2.4.0 for good
 * in some runs (bench/scale).
 *
 * No transport and no timers: waiting ends by a release or by the caller's
 * AbortSignal.
 */
export class Gate {
  private active = 0;
  private readonly queue: Array<{ grant: () => void }> = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1)
      throw new RangeError(`gate limit must be a positive integer, got ${limit}`);
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
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const entry = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.releaser());
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
      else this.active--;
    };
  }
}

/** One Gate per key (an ACME server's origin), made on first use with the same limit. */
export class GateMap {
  private readonly gates = new Map<string, Gate>();

  constructor(readonly limit: number) {}

  for(key: string): Gate {
    let g = this.gates.get(key);
    if (!g) {
      g = new Gate(this.limit);
      this.gates.set(key, g);
    }
    return g;
  }
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? Object.assign(new Error('The operation was aborted'), { name: 'AbortError' });
}
