import t from 'tap';
import { jsonDepth, MAX_JSON_DEPTH } from './body.js';

t.test('jsonDepth counts bracket nesting outside strings', async (t) => {
  const rows: [string, string, number][] = [
    ['a scalar', '1', 0],
    ['an object', '{"a":1}', 1],
    ['nested', '{"a":[{"b":[]}]}', 4],
    ['brackets inside a string', '{"a":"[[[[{{{{"}', 1],
    ['an escaped quote inside a string', '{"a":"\\"[[["}', 1],
    ['the hostile body of the REST test', '['.repeat(60_000) + ']'.repeat(60_000), 60_000],
  ];
  for (const [name, text, depth] of rows) t.equal(jsonDepth(text), depth, name);
  t.ok(MAX_JSON_DEPTH >= 8, 'room for every real request');
});
