import t from 'tap';
import { Gate, GateMap } from './gate.js';

t.test('at most `limit` hold at once; the others get in first come, first served', async (t) => {
  const g = new Gate(2);
  const order: number[] = [];
  const releases: Array<() => void> = [];
  const all = [1, 2, 3, 4, 5].map((n) =>
    g.acquire().then((release) => {
      order.push(n);
      releases.push(release);
    }),
  );
  await new Promise((r) => setImmediate(r));
  t.same(order, [1, 2], 'two in');
  t.equal(g.holders, 2);
  t.equal(g.waiting, 3);
  releases[0]!();
  releases[0]!(); // idempotent: a second call frees nothing more
  await new Promise((r) => setImmediate(r));
  t.same(order, [1, 2, 3], 'one out, the first waiter in; a repeated release lets no one else in');
  t.equal(g.holders, 2);
  for (let i = 1; i < 5; i++) {
    releases[i]!();
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(all);
  t.same(order, [1, 2, 3, 4, 5]);
  t.equal(g.holders, 0, 'every place given back');
  t.equal(g.waiting, 0);
});

t.test('an aborted waiter leaves the line and takes no place', async (t) => {
  const g = new Gate(1);
  const release = await g.acquire();
  const ac = new AbortController();
  const waiting = g.acquire(ac.signal);
  const next = g.acquire();
  ac.abort();
  await t.rejects(waiting, { name: 'AbortError' });
  t.equal(g.waiting, 1, 'only the other waiter is left');
  release();
  const r2 = await next;
  t.equal(g.holders, 1, 'the place went to the waiter behind');
  r2();
  t.equal(g.holders, 0);
  await t.rejects(g.acquire(AbortSignal.abort()), { name: 'AbortError' }, 'already aborted: refused at once');
  t.equal(g.holders, 0);
});

t.test('one gate per key; a bad limit is refused', async (t) => {
  const m = new GateMap(3);
  t.equal(m.for('https://a:14000'), m.for('https://a:14000'), 'same key, same gate');
  t.not(m.for('https://a:14000'), m.for('https://b:14000'), 'another key, another gate');
  t.equal(m.for('x').limit, 3);
  t.throws(() => new Gate(0), RangeError);
  t.throws(() => new Gate(1.5), RangeError);
});
