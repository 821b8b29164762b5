import t from 'tap';
import { Gate, GateMap, whenAborted } from './gate.js';

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

t.test(
  'a signal gets one abort listener however many waits it makes; its abort still ends the wait',
  async (t) => {
    const g = new Gate(1);
    const ac = new AbortController();
    let listeners = 0;
    const add = ac.signal.addEventListener.bind(ac.signal);
    ac.signal.addEventListener = (...args: Parameters<typeof add>) => {
      listeners++;
      add(...args);
    };
    let release = await g.acquire();
    for (let i = 0; i < 5; i++) {
      const next = g.acquire(ac.signal);
      release();
      release = await next;
    }
    const a = g.acquire(ac.signal);
    const b = g.acquire(ac.signal);
    const other = g.acquire();
    t.equal(g.waiting, 3);
    ac.abort();
    await t.rejects(a, { name: 'AbortError' }, 'the first waiter of the signal ends');
    await t.rejects(b, { name: 'AbortError' }, 'and the second');
    t.equal(g.waiting, 1, 'the waiter without the signal stays in line');
    t.equal(listeners, 1, 'seven waits, one listener');
    release();
    (await other)();
    t.equal(g.holders, 0);
  },
);

t.test(
  'whenAborted: a forgotten wait is not cancelled, and a cancel that ends another wait ends it once',
  (t) => {
    const ac = new AbortController();
    const ran: string[] = [];
    const forgetA = whenAborted(ac.signal, () => ran.push('a'));
    let forgetC = () => {};
    whenAborted(ac.signal, () => {
      ran.push('b');
      forgetC(); // as the lock grants the next waiter when one leaves
    });
    forgetC = whenAborted(ac.signal, () => ran.push('c'));
    forgetA();
    ac.abort();
    ac.signal.dispatchEvent(new Event('abort'));
    t.same(ran, ['b'], 'a was forgotten, c ended by b; b ran once');
    t.doesNotThrow(() => whenAborted(undefined, () => ran.push('x'))(), 'no signal: nothing to watch');
    t.end();
  },
);

t.test('one gate per key; a bad limit is refused', async (t) => {
  const m = new GateMap(3);
  t.equal(m.for('https://a:14000'), m.for('https://a:14000'), 'same key, same gate');
  t.not(m.for('https://a:14000'), m.for('https://b:14000'), 'another key, another gate');
  t.equal(m.for('x').limit, 3);
  t.throws(() => new Gate(0), RangeError);
  t.throws(() => new Gate(1.5), RangeError);
});

t.test(
  'the silence breaker: waiters and new callers turned away at once, holders kept, closed by an answer',
  async (t) => {
    let now = 1_000;
    const g = new Gate(2, { silenceMs: 15_000, name: 'https://ca.test:14000', now: () => now });
    const opened: Array<[string, number]> = [];
    g.onOpen((reason, n) => opened.push([reason, n]));
    const r1 = await g.acquire();
    const r2 = await g.acquire();
    const w1 = g.acquire();
    const w2 = g.acquire();
    now += 14_999;
    t.notOk(g.checkSilence(), 'not yet: 15 s of silence are not over');
    g.answered();
    now += 14_999;
    t.notOk(g.checkSilence(), 'an answer restarted the count');
    now += 1;
    t.ok(g.checkSilence(), 'open after 15 s with places held and no answer');
    const reason = 'the CA at https://ca.test:14000 has answered nothing for 15 s';
    t.equal(g.openReason, reason);
    t.same(opened, [[reason, 2]], 'listeners told once, with the number turned away');
    await t.rejects(
      w1,
      { name: 'GateSilentError', code: 'ECASILENT', message: reason },
      'a waiter fails at once',
    );
    await t.rejects(w2, { name: 'GateSilentError' });
    t.equal(g.waiting, 0);
    t.equal(g.holders, 2, 'the holders keep their places (their own deadlines end them)');
    await t.rejects(g.acquire(), { message: reason }, 'a new caller is turned away while open');
    t.notOk(g.checkSilence(), 'opens once');
    g.answered();
    t.equal(g.openReason, undefined, 'an answer closes it');
    const r3 = g.acquire();
    r1();
    (await r3)();
    r2();
    t.equal(g.holders, 0);
  },
);

t.test(
  'after the silent holders: one probe, the others wait behind it; its answer lets them go, its silence turns them away',
  async (t) => {
    let now = 0;
    const g = new Gate(3, { silenceMs: 1_000, name: 'https://ca.test', now: () => now });
    const told: number[] = [];
    g.onOpen((_reason, n) => told.push(n));
    const r = await g.acquire();
    now += 1_000;
    t.ok(g.checkSilence());
    t.ok(g.refusing, 'a silent holder is still waiting: callers are refused');
    await t.rejects(g.acquire());
    r();
    t.ok(g.openReason, 'still open when the silent holder has ended (no answer came)');
    t.equal(g.refusing, undefined, 'but the next caller may probe');
    const probe = await g.acquire();
    const behind = [g.acquire(), g.acquire()];
    t.equal(g.waiting, 2, 'the callers after the probe wait behind it');
    now += 999;
    t.notOk(g.checkSilence());
    now += 1;
    g.checkSilence();
    await t.rejects(behind[0]!, { name: 'GateSilentError' }, "the probe's silence turns them away");
    await t.rejects(behind[1]!, { name: 'GateSilentError' });
    t.same(told, [0, 2], 'listeners told at the trip and at the silent probe');
    await t.rejects(
      g.acquire(),
      { name: 'GateSilentError' },
      'and whoever comes while the silent probe holds',
    );
    probe();
    const probe2 = await g.acquire();
    const waiting = [g.acquire(), g.acquire(), g.acquire()];
    g.answered();
    t.equal(g.openReason, undefined, "the second probe's answer closes it");
    const [a, b, c] = waiting;
    const ra = await a!;
    const rb = await b!;
    t.equal(g.holders, 3, 'the waiters took the free places');
    t.equal(g.waiting, 1);
    probe2();
    const rc = await c!;
    for (const x of [ra, rb, rc]) x();
    t.equal(g.holders, 0);

    const off = new Gate(1, { now: () => now });
    const held = await off.acquire();
    now += 10_000_000;
    t.notOk(off.checkSilence(), 'no silenceMs: never opens');
    held();
    const m = new GateMap(2, { silenceMs: 5, now: () => now });
    const h = await m.for('https://x:1').acquire();
    now += 5;
    t.ok(m.for('https://x:1').checkSilence());
    t.match(
      m.for('https://x:1').openReason,
      /^the CA at https:\/\/x:1 has answered nothing/,
      'the map names each gate by its key',
    );
    h();
  },
);

t.test("the silence breaker's own timer opens it (real clock, 40 ms of silence)", async (t) => {
  const g = new Gate(1, { silenceMs: 40, name: 'https://ca.test' });
  // The gate's timer is unref'd (it must not keep a process alive): this keeps the test's.
  const keep = setTimeout(() => undefined, 30_000);
  const release = await g.acquire();
  const waiter = g.acquire();
  await t.rejects(waiter, { name: 'GateSilentError' }, 'turned away without anyone calling checkSilence');
  release();
  clearTimeout(keep);
});
