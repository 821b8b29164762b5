/** `lab status`'s summary line: the count of boxes and certificates in each state, most first. */
import t from 'tap';
import type { LabBoxStatus } from './lab.js';
import { statusSummary } from './lab-tables.js';

const row = (state: string, status: string) =>
  ({ state, certificate: { status } }) as unknown as LabBoxStatus;

t.test('counts per state, the most first, ties by name', async (t) => {
  t.equal(statusSummary([]), '0 boxes');
  t.equal(statusSummary([row('running', 'none')]), '1 box: 1 running; certificates: 1 none');
  const rows = [
    ...Array.from({ length: 9990 }, () => row('running', 'valid')),
    ...Array.from({ length: 8 }, () => row('running', 'expiring')),
    row('stopped', 'unknown'),
    row('failed', 'unknown'),
  ];
  t.equal(
    statusSummary(rows),
    '10000 boxes: 9998 running, 1 failed, 1 stopped; certificates: 9990 valid, 8 expiring, 2 unknown',
  );
});
