/** The live start table: never taller than the terminal, whatever the lab's size. */
import t from 'tap';
import { LiveTableProgress } from './progress.js';

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
