import t from 'tap';
import { ManualClock, MAX_TIMER_MS, SystemClock } from './clock.js';

t.test('ManualClock fires due timers in deadline order, each at its own time', async (t) => {
  const c = new ManualClock(1000);
  const seen: [string, number][] = [];
  c.setTimer(() => seen.push(['b', c.now()]), 200);
  c.setTimer(() => seen.push(['a', c.now()]), 100);
  c.setTimer(() => seen.push(['late', c.now()]), 10_000);
  c.advance(500);
  t.same(seen, [
    ['a', 1100],
    ['b', 1200],
  ]);
  t.equal(c.now(), 1500);
  t.equal(c.pendingTimers, 1);
});

t.test('a timer armed by a timer during advance fires in the same advance when due', async (t) => {
  const c = new ManualClock(0);
  const seen: number[] = [];
  c.setTimer(() => {
    seen.push(c.now());
    c.setTimer(() => seen.push(c.now()), 50);
  }, 50);
  c.advance(100);
  t.same(seen, [50, 100]);
});

t.test('timers longer than 2^31-1 ms are refused (Node would fire them at once)', async (t) => {
  t.throws(() => new ManualClock().setTimer(() => {}, MAX_TIMER_MS + 1), RangeError);
  t.throws(() => new SystemClock().setTimer(() => {}, MAX_TIMER_MS + 1), RangeError);
});

t.test('SystemClock.advance moves now() and notifies jump listeners; never backwards', async (t) => {
  const c = new SystemClock();
  let jumps = 0;
  const off = c.onJump(() => jumps++);
  const before = c.now();
  c.advance(86_400_000);
  t.ok(c.now() - before >= 86_400_000);
  t.equal(jumps, 1);
  off();
  c.advance(1);
  t.equal(jumps, 1);
  t.throws(() => c.advance(-1), RangeError);
});
