/**
 * What the caller's AbortSignal costs a wait at the CA's gate (src/lib/gate.ts)
 * and at the two-kind lock (KindLock, src/acme/transport.ts). At 1000 boxes
 * nearly every ACME request waits at the gate (16 places), about ten per
 * certificate, each with its operation's signal.
 *
 * One waiter at a time (as a box does: one request in flight), limit 1: the
 * holder releases, the waiter is granted, and holds in turn. Per wait, the
 * same loop without a signal is the reference in the same process; the
 * signal's cost is the difference. The primitive rows time what a wait does
 * with the signal alone: an abort listener added and removed (before), or a
 * cancel put in and taken out of the signal's set of waits (lib/gate.ts
 * whenAborted).
 */
import { KindLock } from '../src/acme/transport.js';
import { Gate, whenAborted } from '../src/lib/gate.js';
import { median, table, writeResult } from './lib.js';

type Acquire = (signal: AbortSignal | undefined) => Promise<() => void>;

/** µs per wait: `n` waits, each granted by the previous holder's release. */
async function waits(acquire: Acquire, signal: AbortSignal | undefined, n: number): Promise<number> {
  let release = await acquire(undefined);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const next = acquire(signal);
    release();
    release = await next;
  }
  release();
  return ((performance.now() - t0) * 1000) / n;
}

/** µs per abort listener added and removed on a live signal (a new closure each, as each wait made). */
function listenerPairs(n: number): number {
  const signal = new AbortController().signal;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const onAbort = () => void i;
    signal.addEventListener('abort', onAbort, { once: true });
    signal.removeEventListener('abort', onAbort);
  }
  return ((performance.now() - t0) * 1000) / n;
}

/** µs per cancel put in and taken out of the signal's set of waits (whenAborted), as each wait does now. */
function registryPairs(n: number): number {
  const signal = new AbortController().signal;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) whenAborted(signal, () => void i)();
  return ((performance.now() - t0) * 1000) / n;
}

export async function abortWaitsBench(full: boolean): Promise<void> {
  const n = full ? 200_000 : 50_000;
  const rounds = full ? 9 : 5;
  const gate = new Gate(1);
  const lock = new KindLock();
  // The lock's waiter waits because the other kind holds it.
  let lockHolder = true;
  const lockAcquire: Acquire = (signal) => {
    const kind = lockHolder ? 'authz' : 'newOrder';
    lockHolder = !lockHolder;
    return lock.acquire(kind, signal);
  };
  const gateAcquire: Acquire = (signal) => gate.acquire(signal);
  const rows: Record<string, number[]> = {
    'gate, no signal': [],
    'gate, with signal': [],
    'kind lock, no signal': [],
    'kind lock, with signal': [],
    'abort listener added + removed': [],
    'whenAborted put in + taken out': [],
  };
  // Rounds interleave the rows, so that a slower moment of the machine is shared by all.
  for (let r = 0; r < rounds; r++) {
    const signal = new AbortController().signal;
    rows['gate, no signal']!.push(await waits(gateAcquire, undefined, n));
    rows['gate, with signal']!.push(await waits(gateAcquire, signal, n));
    rows['kind lock, no signal']!.push(await waits(lockAcquire, undefined, n));
    rows['kind lock, with signal']!.push(await waits(lockAcquire, signal, n));
    rows['abort listener added + removed']!.push(listenerPairs(n));
    rows['whenAborted put in + taken out']!.push(registryPairs(n));
  }
  const med = Object.fromEntries(
    Object.entries(rows).map(([k, v]) => [k, Math.round(median(v) * 1000) / 1000]),
  );
  const extra = (a: string, b: string) => Math.round((med[a]! - med[b]!) * 1000) / 1000;
  const gateExtra = extra('gate, with signal', 'gate, no signal');
  const lockExtra = extra('kind lock, with signal', 'kind lock, no signal');
  writeResult(
    {
      name: 'abort-waits',
      full,
      figures: {
        waitsPerRound: n,
        rounds,
        method:
          'One waiter at a time at limit 1, granted by the previous holder; the same loop without a signal ' +
          'is the reference; medians of interleaved rounds (µs per wait).',
        medianMicroseconds: med,
        signalExtraMicroseconds: { gate: gateExtra, kindLock: lockExtra },
        rounds_: rows,
        load: process.env.GVOS_BENCH_LOAD ?? null,
      },
      targets: [
        {
          name: "a signal's extra cost per wait (gate / kind lock), reference: the same wait without one",
          target: 'reported',
          measured: `${gateExtra} / ${lockExtra} µs`,
          met: true,
        },
      ],
      table: table(
        ['row', 'µs per wait (median)', 'rounds'],
        Object.entries(rows).map(([k, v]) => [k, med[k]!, v.map((x) => x.toFixed(2)).join(' ')]),
      ),
    },
    process.env.GVOS_BENCH_RESULT ?? 'abort-waits',
  );
}
