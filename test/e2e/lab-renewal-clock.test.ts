// Renewals of a lab whose box clocks move, against a real Pebble (issue 14,
// item 5):
// - `lab time advance 23h --keep` on 24-hour certificates: the box renews
//   once, not in a loop (before the fix each new certificate was already
//   due by the box's advanced clock: ~7 renewals a second), its next renewal
//   is anchored on its own clock, and the advance warns;
// - an advance without --keep whose renewal fails while the box is ahead:
//   once the box is back on real time, Last Failed Renewal is not in the
//   future and the retry is the table's minute away, not 17 hours;
// - `lab status` (and --json): next renewal, last request and clock columns,
//   and `renewal-failing` for a box whose renewal fails in its renew window.
import t from 'tap';
import { HOUR_MS, MINUTE_MS } from '../../src/acme/scheduler.js';
import { statusTable } from '../../src/lab/lab-tables.js';
import { inProcessLab, inProcessLabSkip } from './lab-harness.js';

const BASE = '127.0.14';
const skip = await inProcessLabSkip(BASE);

const waitFor = async (what: string, test: () => boolean, ms = 20_000) => {
  const until = Date.now() + ms;
  while (!test()) {
    if (Date.now() > until) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

t.test('box clocks ahead of the CA', { skip }, async (t) => {
  // A 1-second gap between auto-renewals (1 minute by default) keeps the third case short.
  const { lab, down } = await inProcessLab({
    name: 'e2e-renew',
    base: BASE,
    boxes: 2,
    acmeSettings: { autoRenewalMinGapMs: 1_000 },
  });
  t.teardown(down);

  await t.test('advance 23h --keep: one renewal, not a loop, and a warning', async (t) => {
    const box = lab.runner.box(1)!;
    const before = box.acmeState().issued!;
    const renewals: string[] = [];
    const off = box.events.on('certificate-renewed', (e) => renewals.push(e.serial));
    t.teardown(off);
    // 24-hour certificates fall due 16 h after notBefore: 23 h ahead, every new one is due by the box's clock.
    const rows = lab.advanceTime(23 * HOUR_MS, [1], true);
    t.match(rows, [
      { boxId: 1, offsetMs: 23 * HOUR_MS, warning: /box 1: its clock is 23 h ahead.*not in a loop/ },
    ]);
    await waitFor('the auto-renewal', () => renewals.length > 0);
    // Before the fix this window held dozens of renewals.
    await new Promise((r) => setTimeout(r, 5_000));
    t.equal(renewals.length, 1, `one renewal in 5 s after the advance (${renewals.length})`);
    const now = box.acmeState().issued!;
    t.not(now.serial, before.serial, 'a new certificate');
    t.equal(lab.runner.clock(1).offset, 23 * HOUR_MS, 'the box stays ahead');
    const boxNow = lab.runner.clock(1).now();
    t.ok(
      now.nextRenewalMs! > boxNow + 15 * HOUR_MS,
      `the next renewal is 16 h of box time away (${new Date(now.nextRenewalMs!).toISOString()})`,
    );
    t.match(box.acmeState().lastRequest, { type: 'Auto-Renew', status: 'Success' });
  });

  await t.test(
    'advance 17h, the renewal fails while ahead: the retry comes back with the clock',
    async (t) => {
      const box = lab.runner.box(2)!;
      lab.setFault('acme-unreachable', true, [2]);
      const failed = new Promise<void>((resolve) => {
        const off = box.events.on('certificate-renewal-failed', () => {
          off();
          resolve();
        });
      });
      lab.advanceTime(17 * HOUR_MS, [2], false);
      await failed;
      await waitFor('box 2 back on real time', () => lab.runner.clock(2).offset === 0);
      // The agent moves its times back as the clock comes back (one state write).
      await waitFor(
        'the retry planned on real time',
        () => {
          const { issued, lastRequest } = box.acmeState();
          const now = Date.now();
          return (
            (issued!.nextRenewalMs ?? Infinity) < now + 2 * MINUTE_MS &&
            issued!.lastFailedRenewalMs! <= now &&
            lastRequest!.startedMs <= now &&
            (lastRequest!.finishedMs ?? 0) <= now
          );
        },
        5_000,
      ).catch(() => undefined);
      const issued = box.acmeState().issued!;
      const req = box.acmeState().lastRequest!;
      t.equal(issued.failedAttempts, 1);
      t.ok(
        issued.lastFailedRenewalMs! <= Date.now(),
        `Last Failed Renewal not in the future (${new Date(issued.lastFailedRenewalMs!).toISOString()})`,
      );
      t.equal(
        issued.nextRenewalMs! - issued.lastFailedRenewalMs!,
        MINUTE_MS,
        'the retry: the table’s minute after it',
      );
      t.ok(issued.nextRenewalMs! < Date.now() + 2 * MINUTE_MS, 'minutes away, not 17 hours');
      t.ok(
        req.startedMs <= Date.now() && (req.finishedMs ?? 0) <= Date.now(),
        'the last request is not in the future',
      );
    },
  );

  await t.test('lab status: a box whose renewal fails in its renew window is not valid', async (t) => {
    const box = lab.runner.box(2)!;
    const failed = new Promise<void>((resolve) => {
      const off = box.events.on('certificate-renewal-failed', () => {
        off();
        resolve();
      });
    });
    // Still unreachable: the retry falls due at once on a clock 17 h ahead, inside the 8 h renew window.
    lab.advanceTime(17 * HOUR_MS, [2], true);
    await failed;
    await waitFor('box 2 idle', () => box.acmeState().lastRequest?.status !== 'In Progress');
    const [one, two] = lab.status();
    t.match(one, { boxId: 1, clockOffsetMs: 23 * HOUR_MS, certificate: { status: 'valid' } });
    t.match(two, {
      boxId: 2,
      clockOffsetMs: 17 * HOUR_MS,
      certificate: {
        status: 'renewal-failing',
        reason: /\S/,
        lastRequest: { type: 'Auto-Renew', status: 'Failed' },
        nextRenewal: new Date(box.acmeState().issued!.nextRenewalMs!).toISOString(),
      },
    });
    const table = statusTable(lab.status());
    t.match(table, /next renewal\s+last request\s+clock/, 'the new columns');
    t.match(table, /\n\s*2 .* renewal-failing .* Auto-Renew Failed \S+ \S+Z\s+\+17\.0 h/, "box 2's row");
    t.match(table, /\n\s*1 .* valid .* Auto-Renew Success \S+ \S+Z\s+\+23\.0 h/, "box 1's row");
    t.comment(table);
    lab.setFault('acme-unreachable', false, [2]);
  });
});
