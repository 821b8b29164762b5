import t from 'tap';
import { escapeUnsafe, escapeUnsafeJson } from './escape.js';

t.test('C1 and bidi controls are shown as \\uXXXX; everything else is kept', async (t) => {
  t.equal(escapeUnsafe('a\u009b31mb'), 'a\\u009b31mb', '8-bit CSI');
  t.equal(escapeUnsafe('\u0080\u009f'), '\\u0080\\u009f', 'both ends of C1');
  t.equal(escapeUnsafe('x\u202ey\u2066z\u200f\u061c'), 'x\\u202ey\\u2066z\\u200f\\u061c', 'bidi controls');
  t.equal(
    escapeUnsafe('r\u00e9sum\u00e9 \u00a0 \u2014 \r\n\x1b[1m'),
    'r\u00e9sum\u00e9 \u00a0 \u2014 \r\n\x1b[1m',
    'printable, C0 and ESC kept',
  );
});

t.test('the JSON form parses back to the same value', async (t) => {
  const v = { user: 'adm\u009b2J\u202ein' };
  const json = escapeUnsafeJson(JSON.stringify(v));
  t.equal(json, '{"user":"adm\\u009b2J\\u202ein"}');
  t.same(JSON.parse(json), v);
});
