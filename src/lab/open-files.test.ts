/** The lab says at start which open-files limit a topology exceeds, and what it needs. */
import t from 'tap';
import { FDS_BASE, FDS_PER_BOX, openFilesLimit, openFilesProblem } from './open-files.js';

t.test(
  'a topology that fits says nothing; one that does not names the limit, the need and what fits',
  (t) => {
    t.equal(openFilesProblem(1000, 20_000), undefined, '1000 boxes fit in 20,000');
    const msg = openFilesProblem(10_000, 20_000);
    t.ok(msg, '10,000 boxes do not fit in 20,000');
    t.match(msg!, `need about ${FDS_BASE + 10_000 * FDS_PER_BOX} open files`);
    t.match(msg!, 'may open 20000 (ulimit -n)');
    t.match(msg!, `at most ${Math.floor((20_000 - FDS_BASE) / FDS_PER_BOX)} boxes fit`);
    t.equal(openFilesProblem(10_000, null), undefined, 'unknown limit: no claim');
    t.end();
  },
);

t.test("this process's limit is read from /proc", (t) => {
  const l = openFilesLimit();
  t.ok(l === undefined || l > 0, `read ${l}`);
  t.end();
});
