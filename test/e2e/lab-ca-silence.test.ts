// A CA that answers nothing must not cost minutes (issue 16): the lab's
// breaker per CA (lib/gate.ts, Lab.fleet). With the lab's real Pebble stopped
// by SIGSTOP (its PID, from the lab's process records) in the middle of a
// fleet issue, the boxes still queued fail at once with a reason naming the
// CA and the silence, before any box that was already talking to it (those
// keep their own deadline); `lab status` shows them `failed` with that
// reason, not `none`. After SIGCONT the next fleet issue runs normally.
import t from 'tap';
import type { FleetResult } from '../../src/lab/lab.js';
import { inProcessLab, inProcessLabSkip } from './lab-harness.js';

const BASE = '127.0.23';
const BOXES = 24;
/** More than the gate's 16 places: 16 boxes hold one, 4 wait for one, 4 wait in the fleet's queue. */
const PARALLEL = 20;
const SILENCE_MS = 3_000;
/** Each request's own deadline, well above the silence. */
const REQUEST_TIMEOUT_MS = 12_000;
const skip = await inProcessLabSkip(BASE);

t.test('a silent CA: queued boxes fail at once with why; the lab recovers', { skip }, async (t) => {
  const { lab, down } = await inProcessLab({
    name: 'e2e-ca-silence',
    base: BASE,
    boxes: BOXES,
    caSilenceMs: SILENCE_MS,
    acmeSettings: { requestTimeoutMs: REQUEST_TIMEOUT_MS },
  });
  const pebble = lab.processes.find((p) => p.name === 'pebble');
  if (!pebble) throw new Error('the lab lists no pebble process');
  let stopped = false;
  t.teardown(async () => {
    if (stopped) process.kill(pebble.pid, 'SIGCONT');
    await down();
  });
  const ids = lab.runner.ids();
  t.equal(
    ids.filter((id) => lab.boxStatus(id).certificate.status === 'valid').length,
    BOXES,
    'lab up issued all',
  );
  // Certificates gone (clear asks the CA nothing), so that an issue that never runs leaves a box without one.
  t.ok(
    (await lab.fleet('clear', ids)).every((r) => r.ok),
    'cleared',
  );

  process.kill(pebble.pid, 'SIGSTOP');
  stopped = true;
  const order: FleetResult[] = [];
  const rows = await lab.fleet('issue', ids, (r) => order.push(r), { parallel: PARALLEL });
  const origin = new URL(lab.directoryUrlFor(1)).origin;
  const silent = new RegExp(`the CA at ${origin} has answered nothing for ${SILENCE_MS / 1000} s`);
  const turnedAway = rows.filter((r) => silent.test(r.result));
  const notStarted = turnedAway.filter((r) => / 4 boxes not started$/.test(r.result));
  t.equal(
    notStarted.length,
    BOXES - PARALLEL,
    'the boxes still in the fleet queue: not started, counted, the CA named',
  );
  t.equal(
    turnedAway.length,
    BOXES - 16,
    'and the boxes waiting for one of the 16 places to the CA: failed with the same reason',
  );
  const talking = rows.filter((r) => !silent.test(r.result));
  t.equal(talking.length, 16, 'the 16 boxes already talking to the CA ...');
  for (const r of talking)
    t.match(r.result, /no answer from .* within 12000 ms/, `box ${r.boxId}: ... end at their own deadline`);
  const lastTurnedAway = Math.max(...turnedAway.map((r) => order.indexOf(r)));
  const firstTalking = Math.min(...talking.map((r) => order.indexOf(r)));
  t.ok(lastTurnedAway < firstTalking, 'every turned-away box had its result before any talking box');
  t.ok(
    rows.every((r) => !r.ok),
    'nothing issued while the CA is stopped',
  );

  for (const s of lab.status()) {
    t.equal(s.certificate.status, 'failed', `box ${s.boxId}: failed, not none`);
    const row = rows.find((r) => r.boxId === s.boxId)!;
    t.ok(
      row.result.endsWith(s.certificate.reason ?? '(no reason)'),
      `box ${s.boxId}: lab status gives the fleet result's reason (${s.certificate.reason})`,
    );
  }

  process.kill(pebble.pid, 'SIGCONT');
  stopped = false;
  const again = await lab.fleet('issue', ids);
  t.same(
    again.filter((r) => !r.ok).map((r) => `${r.boxId}: ${r.result}`),
    [],
    'after SIGCONT the next fleet issue runs normally',
  );
  t.ok(
    lab.status().every((s) => s.certificate.status === 'valid' && s.certificate.reason === undefined),
    'every box valid again, no reason left',
  );
});
