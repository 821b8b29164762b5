import t from 'tap';
import {
  ManualClock,
  MAX_TIMER_MS,
  SystemClock,
  type Clock,
  type JumpListener,
  type TimerHandle,
} from '../lib/clock.js';
import {
  anchoredRenewalMoment,
  clockAheadShift,
  DAY_MS,
  HOUR_MS,
  isDefaultRenewal,
  MINUTE_MS,
  nextRetryMoment,
  RENEWAL_RETRY_DELAYS_MS,
  renewalMoment,
  renewalRetryDelay,
  RenewalTimer,
  SECOND_MS,
} from './scheduler.js';

const T0 = Date.UTC(2026, 0, 1);
const YEAR_MS = 365 * DAY_MS;

// ------------------------------------------------------------ renewal moment

const momentRows: {
  name: string;
  lifetimeMs: number;
  renewDays: number | null;
  /** How long after notBefore "now" is. */
  nowAfterMs?: number;
  /** Expected moment, as time before expiry. */
  beforeExpiryMs: number;
  isDefault: boolean;
}[] = [
  {
    name: '24-hour cert, default: 8 h before expiry',
    lifetimeMs: DAY_MS,
    renewDays: null,
    beforeExpiryMs: 8 * HOUR_MS,
    isDefault: true,
  },
  {
    name: '24-hour cert, renew-days 1 is more than the time left: default',
    lifetimeMs: DAY_MS,
    renewDays: 1,
    nowAfterMs: SECOND_MS,
    beforeExpiryMs: 8 * HOUR_MS,
    isDefault: true,
  },
  {
    name: '90-day cert, default: 30 days before expiry',
    lifetimeMs: 90 * DAY_MS,
    renewDays: null,
    beforeExpiryMs: 30 * DAY_MS,
    isDefault: true,
  },
  {
    name: '90-day cert, renew-days 10',
    lifetimeMs: 90 * DAY_MS,
    renewDays: 10,
    beforeExpiryMs: 10 * DAY_MS,
    isDefault: false,
  },
  {
    name: '90-day cert, renew-days 60 (more than the default third)',
    lifetimeMs: 90 * DAY_MS,
    renewDays: 60,
    beforeExpiryMs: 60 * DAY_MS,
    isDefault: false,
  },
  // Equal would mean "renew now", after every renewal again: the default instead (no storm).
  {
    name: '90-day cert, renew-days 90 equals the time left: default',
    lifetimeMs: 90 * DAY_MS,
    renewDays: 90,
    beforeExpiryMs: 30 * DAY_MS,
    isDefault: true,
  },
  {
    name: '90-day cert, renew-days 89',
    lifetimeMs: 90 * DAY_MS,
    renewDays: 89,
    beforeExpiryMs: 89 * DAY_MS,
    isDefault: false,
  },
  {
    name: '90-day cert, renew-days 91 > time left: default',
    lifetimeMs: 90 * DAY_MS,
    renewDays: 91,
    beforeExpiryMs: 30 * DAY_MS,
    isDefault: true,
  },
  {
    name: '90-day cert seen on day 85, renew-days 10 > 5 days left: default (already due)',
    lifetimeMs: 90 * DAY_MS,
    renewDays: 10,
    nowAfterMs: 85 * DAY_MS,
    beforeExpiryMs: 30 * DAY_MS,
    isDefault: true,
  },
  {
    name: '5-year cert, default: a third of 5 years before expiry',
    lifetimeMs: 5 * YEAR_MS,
    renewDays: null,
    beforeExpiryMs: Math.floor((5 * YEAR_MS) / 3),
    isDefault: true,
  },
  {
    name: '5-year cert, renew-days 365',
    lifetimeMs: 5 * YEAR_MS,
    renewDays: 365,
    beforeExpiryMs: 365 * DAY_MS,
    isDefault: false,
  },
  {
    name: '5-year cert, renew-days 1',
    lifetimeMs: 5 * YEAR_MS,
    renewDays: 1,
    beforeExpiryMs: DAY_MS,
    isDefault: false,
  },
];

for (const r of momentRows) {
  t.test(`renewalMoment: ${r.name}`, async (t) => {
    const expires = T0 + r.lifetimeMs;
    const now = T0 + (r.nowAfterMs ?? 0);
    t.equal(renewalMoment(T0, expires, r.renewDays, now), expires - r.beforeExpiryMs);
    t.equal(isDefaultRenewal(expires, r.renewDays, now), r.isDefault);
  });
}

// ------------------------------------------------------------ retry backoff

t.test('renewalRetryDelay: minutes at first, growing to hours, then the last entry repeats', async (t) => {
  const rows: [number, number][] = [
    [1, 1 * MINUTE_MS],
    [2, 2 * MINUTE_MS],
    [3, 5 * MINUTE_MS],
    [4, 10 * MINUTE_MS],
    [5, 20 * MINUTE_MS],
    [6, 30 * MINUTE_MS],
    [7, 1 * HOUR_MS],
    [8, 2 * HOUR_MS],
    [9, 4 * HOUR_MS],
    [10, 6 * HOUR_MS],
    [25, 6 * HOUR_MS],
  ];
  for (const [attempt, want] of rows) t.equal(renewalRetryDelay(attempt), want, `attempt ${attempt}`);
  // The elapsed column of the documented table.
  const elapsed = RENEWAL_RETRY_DELAYS_MS.reduce<number[]>((acc, d) => [...acc, (acc.at(-1) ?? 0) + d], []);
  t.same(
    elapsed.map((e) => e / MINUTE_MS),
    [1, 3, 8, 18, 38, 68, 128, 248, 488, 848],
  );
});

const retryRows: { name: string; lifetimeMs: number; wantAttempts: number }[] = [
  // 8 h window (last chance at 479 min): retries at 1, 3, 8, 18, 38, 68, 128, 248 min, then the last chance.
  { name: '24-hour cert', lifetimeMs: DAY_MS, wantAttempts: 9 },
  // 30-day window: the 10 table entries (848 min), 117 more every 6 h (< 43,199 min), then the last chance.
  { name: '90-day cert', lifetimeMs: 90 * DAY_MS, wantAttempts: 10 + 117 + 1 },
];
for (const r of retryRows) {
  t.test(`nextRetryMoment: a CA that never answers, ${r.name}: retries stop at expiry`, async (t) => {
    const expires = T0 + r.lifetimeMs;
    let at = renewalMoment(T0, expires, null, T0);
    const seen: number[] = [];
    for (let failed = 1; failed < 10_000; failed++) {
      const next = nextRetryMoment(failed, at, expires);
      if (next === null) break;
      t.ok(next > at, 'always later');
      t.ok(next <= expires - MINUTE_MS, 'never past the last-chance moment');
      seen.push(next);
      at = next;
    }
    t.equal(seen.at(-1), expires - MINUTE_MS, 'the last retry is the last chance before expiry');
    t.equal(nextRetryMoment(99, expires - MINUTE_MS, expires), null, 'a failed last chance gives up');
    t.equal(seen.length, r.wantAttempts);
  });
}

t.test('nextRetryMoment: custom table and last-chance margin (short test lifetimes)', async (t) => {
  const table = [200, 400];
  t.equal(nextRetryMoment(1, 1000, 10_000, table, 500), 1200);
  t.equal(nextRetryMoment(2, 1200, 10_000, table, 500), 1600);
  t.equal(nextRetryMoment(7, 9400, 10_000, table, 500), 9500, 'pulled in to the last chance');
  t.equal(nextRetryMoment(8, 9500, 10_000, table, 500), null);
  t.equal(nextRetryMoment(1, 11_000, 10_000, table, 500), null, 'already expired');
});

// ------------------------------------------------------------ a box clock ahead of its CA

const anchorRows: {
  name: string;
  lifetimeMs: number;
  renewDays: number | null;
  /** How far the box clock is ahead of notBefore when it installs the certificate. */
  aheadMs: number;
  /** Expected shift of the seed's moment. */
  shiftMs: number;
}[] = [
  {
    name: 'in step: installed 2 s after notBefore',
    lifetimeMs: 90 * DAY_MS,
    renewDays: null,
    aheadMs: 2 * SECOND_MS,
    shiftMs: 0,
  },
  {
    name: 'a CA that backdates notBefore 1 h',
    lifetimeMs: 90 * DAY_MS,
    renewDays: null,
    aheadMs: HOUR_MS,
    shiftMs: 0,
  },
  {
    name: '20 d ahead: the moment is still 40 d away',
    lifetimeMs: 90 * DAY_MS,
    renewDays: null,
    aheadMs: 20 * DAY_MS,
    shiftMs: 0,
  },
  {
    name: '84 d ahead (the issue): anchored',
    lifetimeMs: 90 * DAY_MS,
    renewDays: null,
    aheadMs: 84 * DAY_MS,
    shiftMs: 84 * DAY_MS,
  },
  {
    name: '200 d ahead: past expiry, anchored',
    lifetimeMs: 90 * DAY_MS,
    renewDays: null,
    aheadMs: 200 * DAY_MS,
    shiftMs: 200 * DAY_MS,
  },
  {
    name: 'renew-days 80 (10 d interval), 6 d ahead',
    lifetimeMs: 90 * DAY_MS,
    renewDays: 80,
    aheadMs: 6 * DAY_MS,
    shiftMs: 6 * DAY_MS,
  },
  {
    name: '24-hour certificate (lab), 23 h ahead',
    lifetimeMs: DAY_MS,
    renewDays: null,
    aheadMs: 23 * HOUR_MS,
    shiftMs: 23 * HOUR_MS,
  },
  {
    name: '15-second certificate, 1 s after notBefore',
    lifetimeMs: 15 * SECOND_MS,
    renewDays: null,
    aheadMs: SECOND_MS,
    shiftMs: 0,
  },
];
for (const r of anchorRows) {
  t.test(`clockAheadShift: ${r.name}`, async (t) => {
    const c = {
      notBeforeMs: T0,
      expiresMs: T0 + r.lifetimeMs,
      renewDays: r.renewDays,
      installedMs: T0 + r.aheadMs,
    };
    t.equal(clockAheadShift(c), r.shiftMs);
    const seed = renewalMoment(T0, c.expiresMs, r.renewDays, T0);
    t.equal(anchoredRenewalMoment(c), seed + r.shiftMs);
    t.ok(anchoredRenewalMoment(c) > c.installedMs, 'never due at install');
    t.ok(
      anchoredRenewalMoment(c) - c.installedMs >= (seed - T0) / 2,
      'at least half the interval of box time after install',
    );
  });
}

/**
 * The loop on a fake clock: a box 84 days ahead of a CA that issues
 * 90-day certificates from its own (real) time. Each renewal installs a new
 * certificate and arms the next moment, as the agent does; the loop is
 * bounded so that a regression fails instead of hanging.
 */
function renewalsIn(
  windowMs: number,
  moment: (c: { notBeforeMs: number; installedMs: number }) => number,
): number {
  const aheadMs = 84 * DAY_MS;
  const box = new ManualClock(T0 + aheadMs);
  let renewals = 0;
  const timer: RenewalTimer = new RenewalTimer(box, () => {
    if (++renewals >= 1000) return;
    const notBeforeMs = box.now() - aheadMs; // the CA's clock
    timer.arm(moment({ notBeforeMs, installedMs: box.now() }));
  });
  // The certificate the box had before the advance: issued in step, 60 d ago by the CA.
  const nb = T0 - 60 * DAY_MS;
  timer.arm(moment({ notBeforeMs: nb, installedMs: nb }));
  box.advance(windowMs);
  timer.dispose();
  return renewals;
}

t.test('a box clock 84 d ahead of the CA renews once, not in a loop (fake clock)', async (t) => {
  const lifetime = 90 * DAY_MS;
  const anchored = renewalsIn(10 * MINUTE_MS, (c) =>
    anchoredRenewalMoment({ ...c, expiresMs: c.notBeforeMs + lifetime, renewDays: null }),
  );
  t.equal(anchored, 1, 'one renewal in 10 minutes: the new certificate is anchored at install');
  const anchored60d = renewalsIn(59 * DAY_MS, (c) =>
    anchoredRenewalMoment({ ...c, expiresMs: c.notBeforeMs + lifetime, renewDays: null }),
  );
  t.equal(anchored60d, 1, 'and the next one after 60 d of box time, not before');
  t.equal(
    renewalsIn(61 * DAY_MS, (c) =>
      anchoredRenewalMoment({ ...c, expiresMs: c.notBeforeMs + lifetime, renewDays: null }),
    ),
    2,
  );
  // The seed's moment alone, for contrast: every new certificate is due at once.
  const seedOnly = renewalsIn(10 * MINUTE_MS, (c) =>
    renewalMoment(c.notBeforeMs, c.notBeforeMs + lifetime, null, c.notBeforeMs),
  );
  t.equal(seedOnly, 1000, 'without the anchor: the loop (stopped at 1000)');
});

// ------------------------------------------------------------ the timer

/** A Clock that records every delay it is asked for. */
class RecordingClock implements Clock {
  delays: number[] = [];
  constructor(readonly inner: ManualClock) {}
  now(): number {
    return this.inner.now();
  }
  setTimer(fn: () => void, delayMs: number): TimerHandle {
    this.delays.push(delayMs);
    return this.inner.setTimer(fn, delayMs);
  }
  clearTimer(h: TimerHandle | undefined): void {
    this.inner.clearTimer(h);
  }
  onJump(l: JumpListener): () => void {
    return this.inner.onJump(l);
  }
}

const timerRows: { name: string; lifetimeMs: number; renewDays: number | null }[] = [
  { name: '24-hour cert', lifetimeMs: DAY_MS, renewDays: null },
  { name: '90-day cert', lifetimeMs: 90 * DAY_MS, renewDays: null },
  { name: '90-day cert, renew-days 7', lifetimeMs: 90 * DAY_MS, renewDays: 7 },
  { name: '5-year cert', lifetimeMs: 5 * YEAR_MS, renewDays: null },
  { name: '5-year cert, renew-days 30', lifetimeMs: 5 * YEAR_MS, renewDays: 30 },
];
for (const r of timerRows) {
  t.test(`RenewalTimer: ${r.name}: exactly one renewal, at the moment, no storm`, async (t) => {
    const manual = new ManualClock(T0);
    const clock = new RecordingClock(manual);
    const expires = T0 + r.lifetimeMs;
    const moment = renewalMoment(T0, expires, r.renewDays, T0);
    const fired: number[] = [];
    const timer = new RenewalTimer(clock, () => fired.push(manual.now()));
    timer.arm(moment);
    manual.advance(0);
    t.same(fired, [], 'nothing fires at once (no overflow)');
    // Walk up to just before the moment in hour steps (days for long certs).
    const step = r.lifetimeMs > YEAR_MS ? DAY_MS : HOUR_MS;
    while (manual.now() + step < moment) manual.advance(step);
    t.same(fired, [], 'nothing before the moment');
    t.ok(manual.pendingTimers <= 1, 'one armed timer at most');
    manual.advance(moment - manual.now() + 1);
    t.same(fired, [moment], 'fires once, at the moment');
    manual.advance(r.lifetimeMs);
    t.equal(fired.length, 1, 'and never again');
    t.equal(manual.pendingTimers, 0, 'no timer left');
    t.ok(
      clock.delays.every((d) => d >= 0 && d <= MAX_TIMER_MS),
      'every delay fits a Node timer',
    );
    if (moment - T0 > MAX_TIMER_MS)
      t.ok(clock.delays.length >= Math.ceil((moment - T0) / MAX_TIMER_MS), 're-armed in chunks');
    timer.dispose();
  });
}

t.test('RenewalTimer: a clock jump re-checks the deadline', async (t) => {
  const clock = new ManualClock(T0);
  let fired = 0;
  const timer = new RenewalTimer(clock, () => fired++);
  timer.arm(T0 + 3 * YEAR_MS);
  clock.jumpTo(T0 + YEAR_MS);
  clock.advance(0);
  t.equal(fired, 0, 'a jump short of the deadline does not fire');
  t.equal(timer.deadlineMs, T0 + 3 * YEAR_MS);
  clock.jumpTo(T0 + 4 * YEAR_MS);
  t.equal(fired, 0, 'never synchronously inside the jump');
  clock.advance(0);
  t.equal(fired, 1, 'a jump past the deadline fires once');
  clock.jumpTo(T0 + 5 * YEAR_MS);
  clock.advance(0);
  t.equal(fired, 1);
  timer.dispose();
});

t.test('RenewalTimer: arm replaces, cancel forgets, dispose stops listening', async (t) => {
  const clock = new ManualClock(T0);
  const fired: number[] = [];
  const timer = new RenewalTimer(clock, () => fired.push(clock.now()));
  timer.arm(T0 + 10 * DAY_MS);
  timer.arm(T0 + DAY_MS);
  clock.advance(2 * DAY_MS);
  t.same(fired, [T0 + DAY_MS], 'only the latest deadline fires');
  timer.arm(T0 + 5 * DAY_MS);
  timer.cancel();
  clock.advance(10 * DAY_MS);
  t.equal(fired.length, 1, 'cancelled');
  t.equal(timer.deadlineMs, undefined);
  timer.arm(clock.now() - 1);
  t.equal(fired.length, 1, 'a past deadline does not fire synchronously');
  clock.advance(0);
  t.equal(fired.length, 2, 'a past deadline fires at the next tick');
  timer.dispose();
  timer.arm(clock.now() + 1);
  clock.jumpTo(clock.now() + DAY_MS);
  clock.advance(DAY_MS);
  t.equal(fired.length, 2, 'a disposed timer never fires');
  t.equal(clock.pendingTimers, 0);
});

t.test('RenewalTimer on the real clock: a 5-year deadline does not fire at once', async (t) => {
  const clock = new SystemClock();
  let fired = 0;
  const timer = new RenewalTimer(clock, () => fired++);
  timer.arm(clock.now() + 5 * YEAR_MS);
  await new Promise((r) => setTimeout(r, 50));
  t.equal(fired, 0);
  clock.advance(5 * YEAR_MS);
  await new Promise((r) => setTimeout(r, 20));
  t.equal(fired, 1, 'an advance of the lab clock past it fires it');
  timer.dispose();
});
