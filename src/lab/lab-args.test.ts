import t, { type Test } from 'tap';
import { LabUsageError, parseBoxList, parseDuration, parseLabArgs } from './lab-args.js';
import { MAX_LAB_BOXES } from '../device/limits.js';

const fails = (t: Test, argv: string[], msg: RegExp) =>
  t.throws(() => parseLabArgs(argv), { constructor: LabUsageError, message: msg }, argv.join(' '));

t.test('a verb on box 150 and on box 65535 (the whole box-id range)', async (t) => {
  for (const id of [1, 99, 150, 4097, 65535]) {
    for (const verb of ['stop', 'start', 'kill', 'reload', 'remove'] as const)
      t.match(parseLabArgs([verb, String(id)]), { verb: 'box', action: verb, boxId: id });
    t.match(parseLabArgs(['add', '--box-id', String(id)]), { verb: 'add', body: { boxId: id } });
  }
  t.same(parseBoxList('1-120')?.length, 120, '--box 1-120');
  t.same(parseBoxList('150,65535'), [150, 65535]);
  t.same(parseBoxList('65530-65535'), [65530, 65531, 65532, 65533, 65534, 65535]);
  t.match(parseLabArgs(['acme', 'renew', '--box', '1-120']), { verb: 'acme', op: 'renew' });
  t.match(parseLabArgs(['fault', 'acme-slow', 'on', '--box', '150']), { boxes: [150] });
  t.match(parseLabArgs(['time', 'advance', '30d', '--box', '65535']), {
    boxes: [65535],
    ms: 30 * 86_400_000,
  });
});

t.test('box-ids outside 1-65535 are refused with the range', async (t) => {
  fails(t, ['stop', '0'], /lab stop must be a box-id from 1 to 65535, got "0"/);
  fails(t, ['kill', '65536'], /lab kill must be a box-id from 1 to 65535, got "65536"/);
  fails(t, ['stop', 'x'], /lab stop must be a box-id/);
  fails(t, ['stop'], /lab stop needs a box-id, e.g. "gvos-sim lab stop 3"/);
  fails(t, ['add', '--box-id', '70000'], /--box-id must be a box-id from 1 to 65535/);
  fails(t, ['acme', 'issue', '--box', '1-65536'], /--box must be a box-id from 1 to 65535, got "65536"/);
  fails(t, ['acme', 'issue', '--box', '1,,3'], /--box takes box-ids like 1,3,5 or 2-4 or all/);
});

t.test('--boxes is a lab size (1 to MAX_LAB_BOXES), not a box-id', async (t) => {
  t.match(parseLabArgs(['up', '--boxes', '1000']), { verb: 'up', boxes: 1000 });
  t.match(parseLabArgs(['up', '--boxes', String(MAX_LAB_BOXES)]), { boxes: MAX_LAB_BOXES });
  const over = String(MAX_LAB_BOXES + 1);
  fails(
    t,
    ['up', '--boxes', over],
    new RegExp(`--boxes must be a number from 1 to ${MAX_LAB_BOXES}, got "${over}"`),
  );
  fails(t, ['up', '--boxes', '0'], new RegExp(`--boxes must be a number from 1 to ${MAX_LAB_BOXES}`));
});

t.test('up: file, name, state, log level', async (t) => {
  t.same(parseLabArgs(['up', 'x.yaml', '--name', 'demo', '--keep-state', '--log-level', 'debug']), {
    verb: 'up',
    name: 'demo',
    labsDir: '.gvos-sim/labs',
    labsDirGiven: false,
    file: 'x.yaml',
    keepState: true,
    logLevel: 'debug',
  });
  fails(t, ['up', '--name', 'Bad_Name'], /--name must be 1-32 lower-case letters/);
  fails(t, ['up', '--log-level', 'loud'], /--log-level:/);
  fails(t, ['up', 'a.yaml', 'b.yaml'], /unexpected argument "b.yaml"/);
});

t.test('labs dir: option, then environment, then default', async (t) => {
  t.match(parseLabArgs(['status'], {}), { labsDir: '.gvos-sim/labs' });
  t.match(parseLabArgs(['status'], { GVOS_SIM_LABS_DIR: '/e' }), { labsDir: '/e' });
  t.match(parseLabArgs(['status', '--labs-dir', '/o'], { GVOS_SIM_LABS_DIR: '/e' }), { labsDir: '/o' });
});

t.test('the other verbs', async (t) => {
  t.same(parseLabArgs([]), { verb: 'help' });
  t.same(parseLabArgs(['stop', '--help']), { verb: 'help' });
  t.match(parseLabArgs(['boxes', '--json']), { verb: 'status', json: true });
  t.same(parseLabArgs(['status', '--summary', '--box', '3,1-2'], {}), {
    verb: 'status',
    labsDir: '.gvos-sim/labs',
    labsDirGiven: false,
    json: false,
    summary: true,
    boxes: [1, 2, 3],
  });
  t.notOk('boxes' in parseLabArgs(['status', '--box', 'all']), '--box all: every box, no selector');
  fails(t, ['status', '--summary', '--json'], /--summary is a line for people; --json gives every row/);
  fails(t, ['status', '--box', '0'], /--box must be a box-id from 1 to 65535/);
  t.match(parseLabArgs(['down', '--name', 'x']), { verb: 'down', name: 'x' });
  t.match(parseLabArgs(['fault', 'acme-slow', 'on', '--delay-ms', '500']), {
    verb: 'fault',
    fault: 'acme-slow',
    on: true,
    delayMs: 500,
  });
  fails(t, ['fault', 'bogus', 'on'], /lab fault needs one of acme-unreachable/);
  fails(t, ['fault', 'acme-slow', 'maybe'], /needs on or off/);
  fails(t, ['fault', 'acme-slow', 'on', '--delay-ms', '-1'], /--delay-ms|argument is ambiguous/);
  t.match(parseLabArgs(['time', 'advance', '20h', '--keep']), {
    verb: 'time',
    ms: 20 * 3_600_000,
    keep: true,
  });
  fails(t, ['time', 'back', '1d'], /use "gvos-sim lab time advance <duration>"/);
  fails(t, ['acme', 'destroy'], /lab acme needs one of issue, renew, revoke, clear/);
  t.match(parseLabArgs(['inventory', '--format', 'csv', '--output', 'x.csv']), {
    verb: 'inventory',
    format: 'csv',
    output: 'x.csv',
  });
  fails(t, ['inventory', '--format', 'xml'], /--format must be json or csv/);
  t.match(parseLabArgs(['traps', '--json']), { verb: 'traps', json: true });
  fails(t, ['explode'], /unknown lab verb "explode"/);
  fails(t, ['status', '--bogus'], /Unknown option '--bogus'/);
});

t.test('time advance needs a unit (a bare 61 was taken as 61 ms)', async (t) => {
  fails(t, ['time', 'advance', '61'], /duration "61" needs a unit: 61d, 61h, 61m, 61s or 61ms/);
  t.match(parseLabArgs(['time', 'advance', '61d']), { verb: 'time', ms: 61 * 86_400_000 });
  t.match(parseLabArgs(['time', 'advance', '1500ms']), { verb: 'time', ms: 1500 });
});

t.test('durations', async (t) => {
  t.equal(parseDuration('30d'), 30 * 86_400_000);
  t.equal(parseDuration('1.5h'), 5_400_000);
  t.equal(parseDuration('45s'), 45_000);
  t.throws(() => parseDuration('soon'), {
    constructor: LabUsageError,
    message: /duration must look like 30d/,
  });
  t.throws(() => parseDuration('-1d'), { constructor: LabUsageError, message: /duration must look like/ });
});

t.test('events, traps, hosts; --since as an event number, a time or a duration ago', async (t) => {
  const now = Date.parse('2026-12-05T07:00:00Z');
  t.match(parseLabArgs(['events'], {}, now), {
    verb: 'events',
    follow: false,
    json: false,
    labsDirGiven: false,
  });
  t.match(parseLabArgs(['events', '--follow', '--since', '42'], {}, now), {
    follow: true,
    since: { seq: 42 },
  });
  t.match(parseLabArgs(['events', '-f', '--since', '10m'], {}, now), {
    follow: true,
    since: { timeMs: now - 600_000 },
  });
  t.match(parseLabArgs(['events', '--since', '2026-12-05T06:00:00Z'], {}, now), {
    since: { timeMs: Date.parse('2026-12-05T06:00:00Z') },
  });
  fails(t, ['events', '--since', 'yesterday'], /--since takes an event number \(42\), a time/);
  t.match(parseLabArgs(['traps', '--tail', '5', '--since', '1h', '--follow'], {}, now), {
    verb: 'traps',
    tail: 5,
    sinceMs: now - 3_600_000,
    follow: true,
  });
  fails(t, ['traps', '--since', '42'], /--since takes a time .* or a duration ago/);
  fails(t, ['traps', '--tail', 'x'], /--tail takes a number/);
  t.match(parseLabArgs(['hosts', '--name', 'demo']), { verb: 'hosts', name: 'demo' });
  t.match(parseLabArgs(['status', '--labs-dir', '/x']), { labsDir: '/x', labsDirGiven: true });
  t.match(parseLabArgs(['status'], { GVOS_SIM_LABS_DIR: '/y' }), { labsDir: '/y', labsDirGiven: true });
});
