// What a reader of a JSON log line sees: the head (t, level, msg), then the
// logger's fields, then the call's, in that order; a call's field replaces a
// logger field of the same name in its place; secrets redacted wherever they
// come from; C1 and bidi controls escaped; lines below the level dropped.
import t from 'tap';
import { JsonLogger, type LogLevel } from './logger.js';

function capture(level: LogLevel, base: Record<string, unknown> = {}) {
  const lines: string[] = [];
  return { lines, logger: new JsonLogger(level, base, (l) => lines.push(l)) };
}

/** The line's members without its time, in order, as [name, value]. */
function entries(line: string): [string, unknown][] {
  const o = JSON.parse(line) as Record<string, unknown>;
  t.match(o.t, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 't is ISO 8601 with milliseconds');
  return Object.entries(o).filter(([k]) => k !== 't');
}

const rows: {
  name: string;
  base: Record<string, unknown>;
  fields?: Record<string, unknown>;
  want: [string, unknown][];
}[] = [
  {
    name: 'no fields at all',
    base: {},
    want: [
      ['level', 'info'],
      ['msg', 'm'],
    ],
  },
  {
    name: 'the logger fields, then the call fields',
    base: { lab: 'l', boxId: 7 },
    fields: { type: 'Issue', ms: 12 },
    want: [
      ['level', 'info'],
      ['msg', 'm'],
      ['lab', 'l'],
      ['boxId', 7],
      ['type', 'Issue'],
      ['ms', 12],
    ],
  },
  {
    name: 'a call field replaces a logger field in its place',
    base: { lab: 'l', boxId: 7, feature: 'acme' },
    fields: { boxId: 8, x: 1 },
    want: [
      ['level', 'info'],
      ['msg', 'm'],
      ['lab', 'l'],
      ['boxId', 8],
      ['feature', 'acme'],
      ['x', 1],
    ],
  },
  {
    name: 'undefined values are left out, an Error is its message, objects stay JSON',
    base: { a: undefined },
    fields: { reason: undefined, err: new Error('boom'), o: { n: [1, 2] }, when: new Date(0) },
    want: [
      ['level', 'info'],
      ['msg', 'm'],
      ['err', 'boom'],
      ['o', { n: [1, 2] }],
      ['when', '1970-01-01T00:00:00.000Z'],
    ],
  },
  {
    name: 'secrets are redacted in the logger fields and in the call fields',
    base: { community: 'c0mm', keyAlgorithm: 'ec' },
    fields: { privateKey: 'PRIVATE', password: 'pw', keyType: 'rsa' },
    want: [
      ['level', 'info'],
      ['msg', 'm'],
      ['community', '[redacted]'],
      ['keyAlgorithm', 'ec'],
      ['privateKey', '[redacted]'],
      ['password', '[redacted]'],
      ['keyType', 'rsa'],
    ],
  },
  {
    name: 'a logger field named msg replaces the message (as an object spread does)',
    base: { msg: 'from base' },
    fields: { x: 1 },
    want: [
      ['level', 'info'],
      ['msg', 'from base'],
      ['x', 1],
    ],
  },
];
for (const r of rows) {
  t.test(r.name, async (t) => {
    const { lines, logger } = capture('info', r.base);
    logger.info('m', r.fields);
    logger.info('m', r.fields); // the second line (the logger fields cached) is the same
    t.equal(lines.length, 2);
    for (const line of lines) t.same(entries(line), r.want);
    t.equal(lines[0]!.slice(30), lines[1]!.slice(30), 'same text after the time');
  });
}

t.test('child() adds its fields after the parent fields; the parent is unchanged', async (t) => {
  const { lines, logger } = capture('info', { lab: 'l' });
  const child = logger.child({ boxId: 3 }).child({ feature: 'acme' });
  child.warn('c', { n: 1 });
  logger.warn('p');
  t.same(entries(lines[0]!), [
    ['level', 'warn'],
    ['msg', 'c'],
    ['lab', 'l'],
    ['boxId', 3],
    ['feature', 'acme'],
    ['n', 1],
  ]);
  t.same(entries(lines[1]!), [
    ['level', 'warn'],
    ['msg', 'p'],
    ['lab', 'l'],
  ]);
});

t.test(
  'C1 and bidi controls are escaped wherever they come from; the values parse back the same',
  async (t) => {
    const evil = 'a\u009b31mb\u202ec';
    const { lines, logger } = capture('info', { host: evil });
    logger.info(evil, { user: evil, [evil]: 1 });
    const line = lines[0]!;
    t.notMatch(line, /[\u0080-\u009f\u202a-\u202e]/, 'no raw control in the text');
    t.same(entries(line), [
      ['level', 'info'],
      ['msg', evil],
      ['host', evil],
      ['user', evil],
      [evil, 1],
    ]);
  },
);

t.test('lines below the level are dropped; silent drops all', async (t) => {
  const { lines, logger } = capture('warn');
  logger.debug('d');
  logger.info('i');
  logger.warn('w');
  logger.error('e');
  t.same(
    lines.map((l) => (JSON.parse(l) as { msg: string }).msg),
    ['w', 'e'],
  );
  const silent = capture('silent');
  silent.logger.error('e');
  t.equal(silent.lines.length, 0);
});
