import t from 'tap';
import { ManualClock } from '../lib/clock.js';
import { silentLogger } from '../lib/logger.js';
import {
  DEFAULT_QUEUE_SETTINGS,
  InformTimeoutError,
  MAX_RATE_PER_SEC,
  TargetQueue,
  zeroCounters,
  type Outcome,
  type QueueSettings,
  type TargetSender,
} from './target-queue.js';
import { testNotification, type Notification } from './varbinds.js';

const n = testNotification({ boxId: 1, hostname: 'b', model: 'm' }, 0);

type InformScript = 'ack' | 'timeout' | 'refuse' | 'pending';

/** A sender that records when each call happened and answers informs from a script. */
class FakeSender implements TargetSender {
  readonly trapTimes: number[] = [];
  readonly informTimes: number[] = [];
  closed = false;
  failTraps = false;
  private readonly pending: (() => void)[] = [];
  constructor(
    private readonly clock: ManualClock,
    private readonly script: InformScript[] = [],
  ) {}
  trap(_n: Notification): Promise<void> {
    this.trapTimes.push(this.clock.now());
    return this.failTraps ? Promise.reject(new Error('EHOSTUNREACH')) : Promise.resolve();
  }
  inform(_n: Notification, timeoutMs: number): Promise<void> {
    this.informTimes.push(this.clock.now());
    const step = this.script.shift() ?? 'ack';
    if (step === 'ack') return Promise.resolve();
    if (step === 'timeout') return Promise.reject(new InformTimeoutError(timeoutMs));
    if (step === 'refuse') return Promise.reject(new Error('Wrong Digest'));
    return new Promise((resolve, reject) =>
      this.pending.push(() => (this.closed ? reject(new Error('closed')) : resolve())),
    );
  }
  /** Answer the oldest pending inform. */
  answer(): void {
    this.pending.shift()?.();
  }
  close(): void {
    this.closed = true;
    for (const p of this.pending.splice(0)) p();
  }
}

function setup(
  kind: 'traps' | 'informs',
  settings: Partial<QueueSettings> = {},
  script: InformScript[] = [],
) {
  const clock = new ManualClock(0);
  const sender = new FakeSender(clock, script);
  const counters = zeroCounters();
  const queue = new TargetQueue({
    kind,
    sender,
    clock,
    logger: silentLogger,
    settings: { ...DEFAULT_QUEUE_SETTINGS, ...settings },
    counters,
  });
  return { clock, sender, counters, queue };
}

/** Let resolved promises run their callbacks. */
const flush = () => new Promise<void>((r) => setImmediate(r));

const paceRows: { name: string; rate: number; count: number; want: number[] }[] = [
  { name: '100/s: one every 10 ms, the first at once', rate: 100, count: 5, want: [0, 10, 20, 30, 40] },
  { name: '1000/s: one every millisecond', rate: 1000, count: 4, want: [0, 1, 2, 3] },
  { name: '4/s: one every 250 ms', rate: 4, count: 3, want: [0, 250, 500] },
  { name: 'a rate of 0 means the default (100/s)', rate: 0, count: 3, want: [0, 10, 20] },
  { name: `above ${MAX_RATE_PER_SEC}/s is capped`, rate: 1e9, count: 3, want: [0, 0.1, 0.2] },
];
for (const r of paceRows) {
  t.test(`pacing: ${r.name}`, async (t) => {
    const { clock, sender, queue } = setup('traps', { ratePerSec: r.rate });
    for (let i = 0; i < r.count; i++) void queue.enqueue(n);
    clock.advance(10_000);
    t.same(
      sender.trapTimes.map((x) => Math.round(x * 1000) / 1000),
      r.want,
    );
    t.equal(queue.length, 0);
  });
}

t.test('pacing: an idle queue gets no credit for the time it sat idle', async (t) => {
  const { clock, sender, queue } = setup('traps', { ratePerSec: 100 });
  void queue.enqueue(n);
  clock.advance(1000);
  void queue.enqueue(n);
  void queue.enqueue(n);
  clock.advance(1000);
  t.same(sender.trapTimes, [0, 1000, 1010]);
});

t.test('pacing: late timers catch up at most CATCH_UP_MS worth at once', async (t) => {
  // A clock that jumps (the event loop stalled 500 ms): the queue sends what
  // fits in 10 ms (1000/s -> 10 + 1), not the 500 that fell due.
  const { clock, sender, queue } = setup('traps', { ratePerSec: 1000 });
  for (let i = 0; i < 100; i++) void queue.enqueue(n);
  clock.jumpTo(500); // no timers fire on a jump
  clock.advance(0);
  t.ok(
    sender.trapTimes.filter((x) => x === 500).length <= 11,
    `burst after the stall: ${sender.trapTimes.filter((x) => x === 500).length}`,
  );
});

t.test('the queue is bounded: overflow is dropped at once and counted', async (t) => {
  const { clock, sender, counters, queue } = setup('traps', { ratePerSec: 10, capacity: 3 });
  // The first leaves at once, 3 wait, 2 overflow.
  const outcomes = Array.from({ length: 6 }, () => queue.enqueue(n));
  clock.advance(1000);
  await flush();
  t.same(await Promise.all(outcomes), ['sent', 'sent', 'sent', 'sent', 'dropped', 'dropped']);
  t.same(counters, { sent: 4, acknowledged: 0, retried: 0, timedOut: 0, dropped: 2 });
  t.equal(sender.trapTimes.length, 4);
});

t.test('a trap the socket refuses is counted as dropped', async (t) => {
  const { sender, counters, queue } = setup('traps');
  sender.failTraps = true;
  t.equal(await queue.enqueue(n), 'dropped');
  t.equal(counters.dropped, 1);
  t.equal(counters.sent, 0);
});

const informRows: {
  name: string;
  script: InformScript[];
  outcome: Outcome;
  counters: ReturnType<typeof zeroCounters>;
  /** Times of each attempt: a timeout is immediate here, then the backoff pause (500, 1000, 2000 ms). */
  times: number[];
}[] = [
  {
    name: 'acknowledged at once',
    script: ['ack'],
    outcome: 'acknowledged',
    counters: { sent: 1, acknowledged: 1, retried: 0, timedOut: 0, dropped: 0 },
    times: [0],
  },
  {
    name: 'two timeouts, then acknowledged',
    script: ['timeout', 'timeout', 'ack'],
    outcome: 'acknowledged',
    counters: { sent: 1, acknowledged: 1, retried: 2, timedOut: 0, dropped: 0 },
    times: [0, 500, 1500],
  },
  {
    name: 'no answer: 3 retries with backoff, then timed out',
    script: ['timeout', 'timeout', 'timeout', 'timeout'],
    outcome: 'timed-out',
    counters: { sent: 1, acknowledged: 0, retried: 3, timedOut: 1, dropped: 0 },
    times: [0, 500, 1500, 3500],
  },
  {
    name: 'refused by the receiver (report): dropped, not retried',
    script: ['refuse'],
    outcome: 'dropped',
    counters: { sent: 1, acknowledged: 0, retried: 0, timedOut: 0, dropped: 1 },
    times: [0],
  },
];
for (const r of informRows) {
  t.test(`informs: ${r.name}`, async (t) => {
    const { clock, sender, counters, queue } = setup('informs', {}, r.script);
    const outcome = queue.enqueue(n);
    for (let i = 0; i < 10; i++) {
      await flush();
      clock.advance(500);
    }
    t.equal(await outcome, r.outcome);
    t.same(counters, r.counters);
    t.same(sender.informTimes, r.times);
  });
}

t.test('informs: at most maxInformsInFlight await an answer; the queue waits for one', async (t) => {
  const { clock, sender, queue } = setup('informs', { maxInformsInFlight: 2 }, [
    'pending',
    'pending',
    'pending',
  ]);
  for (let i = 0; i < 3; i++) void queue.enqueue(n);
  clock.advance(1000);
  t.equal(sender.informTimes.length, 2, 'two out');
  sender.answer();
  await flush();
  clock.advance(1000);
  t.equal(sender.informTimes.length, 3, 'the third left after an answer');
});

t.test(
  'close(): waiting and paused notifications end as dropped; no timer stays; the sender is closed',
  async (t) => {
    const { clock, sender, counters, queue } = setup('informs', { ratePerSec: 1 }, ['timeout']);
    const first = queue.enqueue(n); // sent, times out, pauses 500 ms before its retry
    const second = queue.enqueue(n); // waits for its slot (1/s)
    await flush();
    queue.close();
    t.same(await Promise.all([first, second]), ['dropped', 'dropped']);
    t.equal(clock.pendingTimers, 0);
    t.ok(sender.closed);
    t.equal(counters.dropped, 2);
    t.equal(await queue.enqueue(n), 'dropped', 'a closed queue drops');
  },
);

t.test('a clock moved backwards does not hold traps for the size of the jump', async (t) => {
  const clock = new ManualClock(3_600_000);
  const sender = new FakeSender(clock);
  const counters = zeroCounters();
  const q = new TargetQueue({
    kind: 'traps',
    sender,
    clock,
    logger: silentLogger,
    settings: { ...DEFAULT_QUEUE_SETTINGS, ratePerSec: 100 },
    counters,
  });
  void q.enqueue(n);
  void q.enqueue(n);
  clock.jumpTo(0); // one hour back while the second trap waits its turn
  clock.advance(20);
  await new Promise((r) => setImmediate(r));
  t.equal(sender.trapTimes.length, 2, 'the second trap left within one interval, not an hour later');
  q.close();
});
