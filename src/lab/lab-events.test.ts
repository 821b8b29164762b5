/**
 * The lab event bus (lab-events.ts): numbering, the bounded ring for late
 * subscribers, subscribe/unsubscribe without leaks, a throwing subscriber,
 * and the one-line text of the feed. Fake clock: the times are exact.
 */
import t from 'tap';
import { describeEvent, formatEventLine, LabEventBus, type LabEvent } from './lab-events.js';

const T0 = Date.parse('2026-12-05T06:00:00.000Z');

function fault(bus: LabEventBus, boxId: number, on = true): LabEvent {
  return bus.publish({ boxId, hostname: `gigavue-${boxId}`, type: 'fault', fault: 'acme-unreachable', on });
}

t.test('each event gets the next sequence number and the ISO time of publication', async (t) => {
  let now = T0;
  const bus = new LabEventBus({ now: () => now });
  t.equal(bus.lastSeq, 0);
  const a = fault(bus, 1);
  now += 1500;
  const b = bus.publish({ boxId: 2, hostname: 'gigavue-2', type: 'box-killed' });
  t.match(a, { seq: 1, time: '2026-12-05T06:00:00.000Z', boxId: 1, type: 'fault', on: true });
  t.match(b, { seq: 2, time: '2026-12-05T06:00:01.500Z', type: 'box-killed' });
  t.equal(bus.lastSeq, 2);
  t.strictSame(
    bus.since(0).map((e) => e.seq),
    [1, 2],
  );
  t.strictSame(
    bus.since(1).map((e) => e.seq),
    [2],
  );
  t.strictSame(bus.since(2), []);
  t.strictSame(bus.since(99), []);
});

t.test('the ring keeps the newest events only; a gap shows in the first seq', async (t) => {
  const bus = new LabEventBus({ capacity: 3, now: () => T0 });
  for (let i = 1; i <= 7; i++) fault(bus, i);
  t.equal(bus.oldestSeq, 5);
  t.strictSame(
    bus.since(0).map((e) => e.seq),
    [5, 6, 7],
  );
  const late = bus.since(2);
  t.ok(late[0]!.seq > 2 + 1, 'a subscriber that last saw seq 2 can tell it missed 3 and 4');
  t.strictSame(
    bus.since(5).map((e) => e.boxId),
    [6, 7],
  );
});

t.test('subscribers get every event in order; unsubscribing leaves nothing behind', async (t) => {
  const bus = new LabEventBus({ now: () => T0 });
  const seen: number[] = [];
  const off = bus.subscribe((e) => seen.push(e.seq));
  const offs = Array.from({ length: 100 }, () => bus.subscribe(() => undefined));
  t.equal(bus.subscriberCount, 101);
  fault(bus, 1);
  fault(bus, 2);
  off();
  for (const o of offs) o();
  fault(bus, 3);
  t.strictSame(seen, [1, 2]);
  t.equal(bus.subscriberCount, 0);
  off();
  t.equal(bus.subscriberCount, 0, 'unsubscribing twice is harmless');
});

t.test('a subscriber that throws does not stop the others', async (t) => {
  const errors: unknown[] = [];
  const bus = new LabEventBus({ now: () => T0, onSubscriberError: (e) => errors.push(e) });
  const seen: number[] = [];
  bus.subscribe(() => {
    throw new Error('boom');
  });
  bus.subscribe((e) => seen.push(e.seq));
  fault(bus, 1);
  t.strictSame(seen, [1]);
  t.match(errors, [{ message: 'boom' }]);
});

t.test('the feed line: time, box and what happened', async (t) => {
  const bus = new LabEventBus({ now: () => T0 });
  const head = { boxId: 3, hostname: 'gigavue-3' };
  t.equal(
    formatEventLine(
      bus.publish({ ...head, type: 'auto-renewal-failed', reason: 'CA unreachable', serial: 'AB' }),
    ),
    '2026-12-05T06:00:00.000Z box 3 gigavue-3: auto-renewal failed: CA unreachable',
  );
  t.equal(
    describeEvent(
      bus.publish({
        ...head,
        type: 'clock-moved',
        byMs: 84 * 86_400_000,
        offsetMs: 84 * 86_400_000 + 61_000,
        keep: true,
      }),
    ),
    'clock advanced 84d, now 84d 1m 1s ahead (kept)',
  );
  t.equal(
    describeEvent(
      bus.publish({
        ...head,
        type: 'acme-finished',
        op: 'revoke',
        result: 'Success',
        reason: null,
        serial: '0A1B',
      }),
    ),
    'acme revoke: Success (serial 0A1B)',
  );
  const trap = bus.publish({
    boxId: null,
    hostname: null,
    type: 'trap',
    receivedAt: '2026-12-05T06:00:00.000Z',
    source: '127.0.0.1:40000',
    name: 'coldStart',
    varbinds: [
      { name: 'gigamonSnmpNotifDescription.0', type: 'STRING', value: 'System gigavue-3 cold start' },
    ],
  });
  t.equal(
    formatEventLine(trap),
    '2026-12-05T06:00:00.000Z lab: trap coldStart from 127.0.0.1:40000: System gigavue-3 cold start',
  );
});
