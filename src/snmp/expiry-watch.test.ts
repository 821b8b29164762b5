import t from 'tap';
import type { AcmeIssued } from '../device/model.js';
import { ManualClock, MAX_TIMER_MS } from '../lib/clock.js';
import { DAY_MS, ExpiryWatch, type ExpiryState } from './expiry-watch.js';
import { acmeIssued } from '../../test/harness/acme-issued.js';

const T0 = Date.UTC(2026, 0, 1);

function issued(serial: string, expiresMs: number): AcmeIssued {
  return acmeIssued({
    domain: 'box1.lab.test',
    directoryUrl: 'https://ca.lab.test/dir',
    firstIssuedMs: T0,
    expiresMs,
    serial,
    nextRenewalMs: expiresMs - 30 * DAY_MS,
  });
}

function setup(state: ExpiryState) {
  const clock = new ManualClock(T0);
  const fired: { serial: string; daysLeft: number; at: number }[] = [];
  const watch = new ExpiryWatch({
    clock,
    read: () => state,
    onExpiringSoon: (i, daysLeft) => fired.push({ serial: i.serial, daysLeft, at: clock.now() }),
  });
  return { clock, watch, fired, state };
}

t.test('arms at expiry minus the days and fires once, with the whole days left', async (t) => {
  const { clock, watch, fired } = setup({
    issued: issued('A', T0 + 10 * DAY_MS),
    busy: false,
    expiringSoonDays: 7,
  });
  watch.rearm();
  clock.advance(3 * DAY_MS - 1);
  t.same(fired, []);
  clock.advance(1);
  t.same(fired, [{ serial: 'A', daysLeft: 7, at: T0 + 3 * DAY_MS }]);
  watch.rearm();
  clock.advance(DAY_MS);
  t.equal(fired.length, 1, 'once per certificate');
});

const rows: { name: string; state: ExpiryState; fires: boolean }[] = [
  {
    name: 'inside the window already: fires at once',
    state: { issued: issued('A', T0 + 2 * DAY_MS), busy: false, expiringSoonDays: 7 },
    fires: true,
  },
  {
    name: 'expired: not "soon"',
    state: { issued: issued('A', T0 - 1), busy: false, expiringSoonDays: 7 },
    fires: false,
  },
  {
    name: 'no ACME certificate: nothing',
    state: { issued: null, busy: false, expiringSoonDays: 7 },
    fires: false,
  },
  {
    name: 'a request running (a renewal may replace it): waits',
    state: { issued: issued('A', T0 + DAY_MS), busy: true, expiringSoonDays: 7 },
    fires: false,
  },
];
for (const r of rows) {
  t.test(r.name, async (t) => {
    const { watch, fired } = setup(r.state);
    watch.rearm();
    t.equal(fired.length, r.fires ? 1 : 0);
  });
}

t.test(
  'a request running at the warning time: fires on the rearm after it ends if the certificate is still there',
  async (t) => {
    const { watch, fired, state } = setup({
      issued: issued('A', T0 + DAY_MS),
      busy: true,
      expiringSoonDays: 7,
    });
    watch.rearm();
    t.equal(fired.length, 0);
    state.busy = false; // acme-request-finished: the renewal failed
    watch.rearm();
    t.same(
      fired.map((f) => f.serial),
      ['A'],
    );
  },
);

t.test(
  'renewed before the warning time: the old certificate never fires, the new one is armed',
  async (t) => {
    const { clock, watch, fired, state } = setup({
      issued: issued('A', T0 + 10 * DAY_MS),
      busy: false,
      expiringSoonDays: 7,
    });
    watch.rearm();
    clock.advance(DAY_MS);
    state.issued = issued('B', T0 + 91 * DAY_MS); // the renewal landed
    watch.rearm();
    clock.advance(9 * DAY_MS);
    t.same(fired, [], 'A is gone; B is far from expiry');
    clock.advance(74 * DAY_MS); // T0 + 84 days = B's expiry - 7 days (timers chunked on the way)
    t.same(
      fired.map((f) => [f.serial, f.daysLeft]),
      [['B', 7]],
    );
  },
);

t.test('a wait longer than MAX_TIMER_MS is taken in chunks (Node would fire it at once)', async (t) => {
  const { clock, watch, fired } = setup({
    issued: issued('A', T0 + 90 * DAY_MS),
    busy: false,
    expiringSoonDays: 7,
  });
  watch.rearm(); // 83 days away > 24.8 days
  t.ok(watch.armed);
  clock.advance(MAX_TIMER_MS);
  t.equal(fired.length, 0, 'woke, re-decided, armed again');
  t.ok(watch.armed);
  clock.advance(83 * DAY_MS - MAX_TIMER_MS);
  t.equal(fired.length, 1);
});

t.test('a clock jump past the warning time fires on the rearm that follows it', async (t) => {
  const { clock, watch, fired } = setup({
    issued: issued('A', T0 + 30 * DAY_MS),
    busy: false,
    expiringSoonDays: 7,
  });
  watch.rearm();
  clock.jumpTo(T0 + 25 * DAY_MS); // jumps fire no timers; the owner rearms on onJump
  t.equal(fired.length, 0);
  watch.rearm();
  t.same(
    fired.map((f) => f.daysLeft),
    [5],
  );
});

t.test('a change of expiring-soon days takes effect on rearm', async (t) => {
  const { watch, fired, state } = setup({
    issued: issued('A', T0 + 10 * DAY_MS),
    busy: false,
    expiringSoonDays: 7,
  });
  watch.rearm();
  state.expiringSoonDays = 14;
  watch.rearm();
  t.same(
    fired.map((f) => f.daysLeft),
    [10],
  );
});

t.test('stop() cancels the timer; rearm() does nothing afterwards', async (t) => {
  const { clock, watch, fired } = setup({
    issued: issued('A', T0 + 10 * DAY_MS),
    busy: false,
    expiringSoonDays: 7,
  });
  watch.rearm();
  watch.stop();
  t.equal(clock.pendingTimers, 0);
  watch.rearm();
  clock.advance(20 * DAY_MS);
  t.equal(fired.length, 0);
});
