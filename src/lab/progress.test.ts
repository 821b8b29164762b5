/** The live start table: never taller than the terminal, whatever the lab's size. */
import t from 'tap';
import { LineProgress, LiveTableProgress } from './progress.js';

const ESC = String.fromCharCode(27);

/** The lines of the last draw (after its cursor-up), ANSI codes removed. */
function lastDraw(out: string[]): string[] {
  const draw = out.at(-1) ?? '';
  return draw
    .replace(new RegExp(`^${ESC}\\[\\d+A`), '')
    .split('\n')
    .filter((l) => l !== '' && l !== `${ESC}[J`)
    .map((l) => l.replaceAll(`${ESC}[2K`, ''));
}

t.test('a small lab: every box has its row, in box-id order', async (t) => {
  const out: string[] = [];
  const p = new LiveTableProgress((s) => void out.push(s), 24);
  p.phase('starting 3 boxes');
  for (const id of [3, 1, 2]) p.box(id, `gigavue-${id}`, 'configuring');
  p.finish();
  const lines = lastDraw(out);
  t.match(lines[0], /^starting 3 boxes \(\d+\.\d s\)$/);
  t.same(
    lines.slice(1).map((l) => l.trim().split(/\s+/)),
    [1, 2, 3].map((id) => [String(id), `gigavue-${id}`, 'configuring']),
  );
});

t.test('10,000 boxes on a 24-line terminal: a count per state and the boxes still at work', async (t) => {
  const out: string[] = [];
  const p = new LiveTableProgress((s) => void out.push(s), 24);
  p.phase('starting 10000 boxes');
  for (let id = 1; id <= 10_000; id++) p.box(id, `gigavue-${id}`, id <= 9_990 ? 'running' : 'configuring');
  p.box(5, 'gigavue-5', 'issue: no answer from the CA');
  p.finish();
  const lines = lastDraw(out);
  t.ok(lines.length <= 24, `the draw fits the terminal (${lines.length} lines)`);
  t.equal(lines[1], '  10000 boxes: 9989 running, 1 issue: no answer from the CA, 10 configuring');
  t.same(
    lines.slice(2).map((l) => l.trim().split(/\s+/)[0]),
    ['5', ...Array.from({ length: 10 }, (_, i) => String(9_991 + i))],
    'the failed box and the ten still configuring, by box-id; no running box',
  );
  // Later draws move the cursor up by exactly what was drawn, and clear what a shorter draw leaves.
  for (let id = 9_991; id <= 10_000; id++) p.box(id, `gigavue-${id}`, 'running');
  p.finish();
  t.ok(out.at(-1)!.startsWith(`${ESC}[${lines.length}A`), 'cursor up by the previous draw');
  t.ok(out.at(-1)!.endsWith(`${ESC}[J`), 'the rest of the previous draw is cleared');
  t.equal(lastDraw(out).length, 3, 'phase, count, the failed box');
});

t.test(
  'plain lines: box lines gathered into one write, a phase line at once, nothing lost at finish',
  async (t) => {
    const out: string[] = [];
    const p = new LineProgress((s) => void out.push(s), 60_000);
    p.phase('starting 3 boxes');
    t.equal(out.length, 1, 'the phase line is written at once');
    for (const id of [1, 2, 3]) p.box(id, `gigavue-${id}`, 'starting');
    t.equal(out.length, 1, 'box lines wait for the next write');
    p.phase('issuing certificates');
    t.equal(out.length, 2, 'a phase line takes the box lines before it along, in one write');
    t.same(
      out[1]!.split('\n').map((l) => l.replace(/^\[ *\d+\.\ds\] /, '')),
      [
        'box 1 gigavue-1: starting',
        'box 2 gigavue-2: starting',
        'box 3 gigavue-3: starting',
        'issuing certificates',
        '',
      ],
    );
    p.box(3, 'gigavue-3', 'issue: ok');
    p.finish();
    t.equal(out.length, 3);
    t.match(out[2], /box 3 gigavue-3: issue: ok\n$/, 'finish writes what was left');
    p.finish();
    t.equal(out.length, 3, 'nothing more to write');
  },
);

t.test('plain lines: a box line alone is written within flushMs', async (t) => {
  const out: string[] = [];
  const p = new LineProgress((s) => void out.push(s), 20);
  p.box(7, 'gigavue-7', 'running');
  await new Promise((r) => setTimeout(r, 200));
  t.equal(out.length, 1);
  t.match(out[0], /box 7 gigavue-7: running\n$/);
});
