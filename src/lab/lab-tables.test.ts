/** `lab status`'s summary line: the count of boxes and certificates in each state, most first. */
import t from 'tap';
import type { LabBoxStatus } from './lab.js';
import { statusSummary, statusTable } from './lab-tables.js';

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

t.test(
  "a failed certificate's reason: the CA breaker's whole, a longer one cut with an ellipsis",
  async (t) => {
    const box = (reason: string) =>
      ({
        boxId: 1,
        hostname: 'gigavue-1',
        address: '127.0.0.101',
        ports: { ssh: 22, cli: 23, https: 443, http: 80, snmp: 161 },
        state: 'running',
        certificate: {
          status: 'failed',
          reason,
          serial: null,
          expires: null,
          nextRenewal: null,
          lastRequest: null,
        },
        clockOffsetMs: 0,
      }) as LabBoxStatus;
    const silent = 'the CA at https://127.0.0.1:40215 has answered nothing for 15 s; 734 boxes not started';
    t.match(
      statusTable([box(silent)]),
      'failed (the CA at https://127.0.0.1:40215 has answered nothing for 15 s; 734 boxes',
    );
    const long = `x${'y'.repeat(200)}`;
    const table = statusTable([box(long)]);
    t.match(table, `failed (x${'y'.repeat(78)}…)`, 'cut at 80 characters, and says so');
    t.notMatch(table, 'y'.repeat(79));
  },
);
