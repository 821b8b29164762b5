import t from 'tap';
import { backoffDelay } from './backoff.js';

const o = { initialMs: 60_000, maxMs: 3_600_000, factor: 2 };
const rows: { name: string; attempt: number; want: number }[] = [
  { name: 'no retry before the first attempt', attempt: 0, want: 0 },
  { name: 'first retry waits the initial delay', attempt: 1, want: 60_000 },
  { name: 'second retry doubles', attempt: 2, want: 120_000 },
  { name: 'capped at the maximum', attempt: 20, want: 3_600_000 },
];
for (const r of rows) {
  t.test(r.name, async (t) => {
    t.equal(backoffDelay(r.attempt, o), r.want);
  });
}
