/** The lab says at start which open-files limit it met, where its listeners go, and what a topology that does not fit needs. */
import t from 'tap';
import {
  FDS_BASE,
  FDS_CONNECTIONS,
  FDS_NOTIFICATIONS,
  HANDOFF_CHANNELS,
  LISTENER_PROCESS_BASE,
  openFilesLimit,
  planListeners,
} from './open-files.js';

t.test('a lab that fits in this process listens here, and says so with the limit', (t) => {
  const r = planListeners(1000, 20_000);
  t.ok('plan' in r && r.plan.where === 'in-process', '1000 boxes listen in this process');
  if ('plan' in r) t.match(r.plan.line, "of this process's 20000");
  const unknown = planListeners(50_000, null);
  t.ok('plan' in unknown && unknown.plan.where === 'in-process', 'unknown limit: no claim, in this process');
  t.end();
});

t.test(
  '10,000 boxes (trap targets hold no socket between notifications): TCP listeners in listener processes, each under the limit',
  (t) => {
    const r = planListeners(10_000, 20_000);
    if (!('plan' in r)) return t.fail(`refused: ${r.problem}`);
    t.equal(r.plan.where, 'listener-processes');
    t.ok(r.plan.perProcess <= 20_000 - LISTENER_PROCESS_BASE, 'each listener process under its limit');
    // Accepted connections wait in the listener process until the lab takes them: a CA validating
    // hundreds of boxes at once must not meet the limit there (with 80 free, thousands of http-01 failed).
    t.ok(
      20_000 - r.plan.perProcess >= 1000,
      `room for 1000 connections in transit per listener process (${20_000 - r.plan.perProcess})`,
    );
    // Each process hands its connections to the lab one at a time over its own channel: the lab takes
    // new connections (the CA's http-01 fetches) through HANDOFF_CHANNELS of them, not through the 3
    // that the limit alone would need.
    t.equal(r.plan.processes, HANDOFF_CHANNELS, `40,000 listeners over ${HANDOFF_CHANNELS} processes`);
    t.ok(r.plan.processes * r.plan.perProcess >= 40_000, 'every listener has a place');
    t.match(r.plan.line, 'over its limit of 20000 (ulimit -n)');
    t.match(r.plan.line, `40000 TCP listeners go to ${HANDOFF_CHANNELS} listener processes (5000 each`);
    t.end();
  },
);

t.test('a smaller lab over the limit still spreads its listeners, each process given at least 1000', (t) => {
  const r = planListeners(1000, 4000);
  if (!('plan' in r)) return t.fail(`refused: ${r.problem}`);
  t.equal(r.plan.where, 'listener-processes');
  t.equal(r.plan.processes, 4, '4000 listeners: four processes of 1000, not the two the limit needs');
  t.equal(r.plan.perProcess, 1000);
  t.end();
});

t.test('a lab that does not fit even so names the limit, the need and how many boxes fit', (t) => {
  const r = planListeners(10_000, 10_000);
  if (!('problem' in r)) return t.fail('10,000 boxes were said to fit 10,000 open files');
  const shared = FDS_BASE + FDS_CONNECTIONS + FDS_NOTIFICATIONS;
  t.match(r.problem, `need about ${shared + 10_000} open files`);
  t.match(r.problem, 'may open 10000 (ulimit -n)');
  t.match(r.problem, `at most ${10_000 - shared} boxes fit`);
  t.end();
});

t.test("this process's limit is read from /proc", (t) => {
  const l = openFilesLimit();
  t.ok(l === undefined || l > 0, `read ${l}`);
  t.end();
});
