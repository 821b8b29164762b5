/**
 * The dashboard stream (stream.ts): the whole fleet first, then one message
 * per burst with only the fields that changed, removed boxes, the events for
 * the feed, the sweep for changes no event announces, and nothing left
 * behind on close. A real event bus; the rows are a stand-in map.
 */
import t from 'tap';
import { LabEventBus, type LabEvent } from '../lab-events.js';
import type { DashboardRow } from './rows.js';
import { DashboardFeed, type DashboardMessage } from './stream.js';

function row(boxId: number, over: Partial<DashboardRow> = {}): DashboardRow {
  return {
    boxId,
    hostname: `gigavue-${boxId}`,
    address: `127.0.0.${100 + boxId}`,
    model: 'GigaVUE-HC2',
    cryptoMode: 'classic',
    firmware: '6.5.00',
    state: 'running',
    certificate: 'valid',
    serial: `AA0${boxId}`,
    expires: '2027-03-05T07:12:00.000Z',
    nextRenewal: '2027-02-03T07:12:00.000Z',
    lastRequest: 'Issue Success',
    lastRequestAt: '2026-12-05T07:12:00.000Z',
    clockOffsetMs: 0,
    faults: [],
    guiUrl: `https://127.0.0.${100 + boxId}/`,
    ...over,
  };
}

/** A lab of `n` boxes: its bus, its rows (change them to change the lab), and a feed's messages. */
function setup(
  n: number,
  o: { afterSeq?: number; sweepMs?: number; history?: number; flushMs?: number } = {},
) {
  const bus = new LabEventBus();
  for (let i = 0; i < (o.history ?? 0); i++)
    bus.publish({ boxId: 1, hostname: 'gigavue-1', type: 'box-started', firmware: '6.5.00' });
  const rows = new Map<number, DashboardRow>();
  for (let i = 1; i <= n; i++) rows.set(i, row(i));
  const got: DashboardMessage[] = [];
  const feed = new DashboardFeed(
    { events: bus, ids: () => [...rows.keys()].sort((a, b) => a - b), row: (id) => rows.get(id) },
    (m) => got.push(structuredClone(m)),
    { flushMs: o.flushMs ?? 5, sweepMs: o.sweepMs ?? 60_000, afterSeq: o.afterSeq },
  );
  return { bus, rows, got, feed };
}

const settle = () => new Promise((r) => setTimeout(r, 40));
const fault = (bus: LabEventBus, boxId: number, on = true): LabEvent =>
  bus.publish({ boxId, hostname: `gigavue-${boxId}`, type: 'fault', fault: 'acme-slow', on });

t.test('first message: every row whole, the last 50 events, the newest seq', async (t) => {
  const { got, feed } = setup(3, { history: 60 });
  t.teardown(() => feed.close());
  t.equal(got.length, 1);
  t.match(got[0], { whole: true, seq: 60, removed: [], skipped: 0 });
  t.strictSame(
    got[0]!.rows.map((r) => r.boxId),
    [1, 2, 3],
  );
  t.strictSame(got[0]!.rows[1], row(2), 'a row is whole');
  t.strictSame(
    got[0]!.events.map((e) => e.seq),
    Array.from({ length: 50 }, (_, i) => 11 + i),
  );
});

t.test('a reconnect (Last-Event-ID) gets only the events after it', async (t) => {
  const { got, feed } = setup(2, { history: 20, afterSeq: 17 });
  t.teardown(() => feed.close());
  t.strictSame(
    got[0]!.events.map((e) => e.seq),
    [18, 19, 20],
  );
});

t.test('a burst is one message: only the changed fields of the boxes that changed', async (t) => {
  const { bus, rows, got, feed } = setup(4);
  t.teardown(() => feed.close());
  rows.set(2, row(2, { serial: 'BB02', expires: '2027-03-06T00:00:00.000Z' }));
  const a = bus.publish({
    boxId: 2,
    hostname: 'gigavue-2',
    type: 'acme-finished',
    op: 'renew',
    result: 'Success',
    reason: null,
    serial: 'BB02',
  });
  rows.set(3, row(3, { faults: ['acme-slow'] }));
  const b = fault(bus, 3);
  // An event for box 4, whose row did not change: its event goes to the feed, no row.
  const c = bus.publish({ boxId: 4, hostname: 'gigavue-4', type: 'box-reloaded', firmware: '6.5.00' });
  const d = bus.publish({
    boxId: null,
    hostname: null,
    type: 'trap',
    receivedAt: null,
    source: '127.9.9.9:162',
    name: 'coldStart',
    varbinds: [],
  });
  t.equal(got.length, 1, 'nothing while the burst is being published');
  await settle();
  t.equal(got.length, 2, 'one message for the burst');
  t.strictSame(got[1], {
    seq: d.seq,
    whole: false,
    rows: [
      { boxId: 2, serial: 'BB02', expires: '2027-03-06T00:00:00.000Z' },
      { boxId: 3, faults: ['acme-slow'] },
    ],
    removed: [],
    events: [a, b, c, d],
    skipped: 0,
  });
  // The next change is against what was sent: the same fault again is no change.
  fault(bus, 3);
  await settle();
  t.strictSame(got[2]!.rows, [], 'no patch when the row is as sent');
});

t.test('a box gone from the lab is removed; a new one comes whole', async (t) => {
  const { bus, rows, got, feed } = setup(3);
  t.teardown(() => feed.close());
  rows.delete(3);
  bus.publish({ boxId: 3, hostname: 'gigavue-3', type: 'box-stopped' });
  rows.set(9, row(9));
  bus.publish({ boxId: 9, hostname: 'gigavue-9', type: 'box-started', firmware: '6.5.00' });
  await settle();
  t.strictSame(got[1]!.removed, [3]);
  t.strictSame(got[1]!.rows, [row(9)]);
});

t.test('the sweep sends what changed with no event; nothing when nothing changed', async (t) => {
  const { rows, got, feed } = setup(3, { sweepMs: 30 });
  t.teardown(() => feed.close());
  await new Promise((r) => setTimeout(r, 80));
  t.equal(got.length, 1, 'a sweep with no change sends nothing');
  rows.set(1, row(1, { certificate: 'expiring' }));
  await new Promise((r) => setTimeout(r, 80));
  t.strictSame(got[1]?.rows, [{ boxId: 1, certificate: 'expiring' }]);
});

t.test('close(): unsubscribed, no message after it', async (t) => {
  const { bus, got, feed } = setup(2);
  t.equal(bus.subscriberCount, 1);
  fault(bus, 1);
  feed.close();
  feed.close();
  t.equal(bus.subscriberCount, 0);
  await settle();
  t.equal(got.length, 1, 'the pending flush did not send');
});

const until = async (what: string, cond: () => boolean) => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!cond()) throw new Error(`timed out waiting for ${what}`);
};

t.test('the first change after a quiet spell goes at once; the next waits for the interval', async (t) => {
  const { bus, rows, got, feed } = setup(2, { flushMs: 60_000 });
  t.teardown(() => feed.close());
  rows.set(1, row(1, { faults: ['acme-slow'] }));
  fault(bus, 1);
  await until('the first change, long before the interval', () => got.length === 2);
  rows.set(2, row(2, { faults: ['acme-slow'] }));
  fault(bus, 2);
  await settle();
  t.equal(got.length, 2, 'the second waits for the interval');
  t.strictSame(got[1]!.rows, [{ boxId: 1, faults: ['acme-slow'] }]);
});
