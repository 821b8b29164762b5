/**
 * The terminal tables of `gvos-sim lab` (status, faults, clocks, fleet
 * results; the trap tables are trap-tables.ts): rows of the control plane's
 * answers as text, in the one table layout of lib/table.ts. Pure, and light
 * to load: the lab verbs' client imports it, and so does the control plane,
 * which renders `lab status` for the CLI (GET /v1/boxes?format=table).
 */
import { table } from '../lib/table.js';
import type { FaultState } from './faults.js';
import type { FleetResult, LabBoxStatus } from './lab.js';

const lines = (head: string[], body: string[][]) => table(head, body).join('\n');

/** An ISO time as `2026-01-02 03:04:05Z` (no milliseconds), or `-`. */
export function isoShort(iso: string | null | undefined): string {
  return iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '-';
}

/** How far a box clock is ahead: `real`, or `+23.0 h` / `+84.0 d`. */
function clockOffset(ms: number): string {
  if (ms === 0) return 'real';
  const h = ms / 3_600_000;
  return h < 48 ? `+${h.toFixed(1)} h` : `+${(h / 24).toFixed(1)} d`;
}

/** The final table of `lab up` and `lab status`: times are the box's clock (see the clock column). */
export function statusTable(rows: readonly LabBoxStatus[]): string {
  return lines(
    [
      'box-id',
      'hostname',
      'address',
      'ssh',
      'https',
      'snmp',
      'state',
      'certificate',
      'serial',
      'expires',
      'next renewal',
      'last request',
      'clock',
    ],
    rows.map((r) => {
      const c = r.certificate;
      const req = c.lastRequest;
      return [
        String(r.boxId),
        r.hostname,
        r.address,
        String(r.ports.ssh),
        String(r.ports.https),
        String(r.ports.snmp),
        r.state,
        // Long enough for the CA breaker's reason ("the CA at https://127.0.0.1:40215 has answered nothing for 15 s").
        c.status + (c.reason ? ` (${c.reason.length > 80 ? `${c.reason.slice(0, 79)}…` : c.reason})` : ''),
        c.serial ?? '-',
        isoShort(c.expires),
        isoShort(c.nextRenewal),
        req ? `${req.type} ${req.status} ${isoShort(req.at)}` : '-',
        clockOffset(r.clockOffsetMs),
      ];
    }),
  );
}

/** "5 a, 2 b": counts of each value, most first (ties by name). */
function counts(values: readonly string[]): string {
  const n = new Map<string, number>();
  for (const v of values) n.set(v, (n.get(v) ?? 0) + 1);
  return [...n]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .map(([v, k]) => `${k} ${v}`)
    .join(', ');
}

/**
 * The line under `lab status`'s table (and all of `lab status --summary`):
 * how many boxes in each state and how many certificates in each state, so a
 * 10,000-box lab reads at a glance: `10000 boxes: 9998 running, 2 stopped;
 * certificates: 9990 valid, 8 none, 2 unknown`.
 */
export function statusSummary(rows: readonly LabBoxStatus[]): string {
  if (rows.length === 0) return '0 boxes';
  return (
    `${rows.length} ${rows.length === 1 ? 'box' : 'boxes'}: ${counts(rows.map((r) => r.state))}; ` +
    `certificates: ${counts(rows.map((r) => r.certificate.status))}`
  );
}

/** `lab fault` and `lab faults`. */
export function faultsTable(rows: readonly FaultState[]): string {
  return lines(
    ['box-id', 'fault', 'on', 'count'],
    rows.map((r) => [
      String(r.boxId),
      r.fault + (r.delayMs ? ` (${r.delayMs} ms)` : ''),
      r.on ? 'on' : 'off',
      String(r.count),
    ]),
  );
}

/** `lab time advance`: how far each box's clock is ahead. */
export function clockTable(rows: readonly { boxId: number; offsetMs: number }[]): string {
  return lines(
    ['box-id', 'ahead of real time'],
    rows.map((r) => [String(r.boxId), `${(r.offsetMs / 3_600_000).toFixed(2)} h`]),
  );
}

/** The result table of a fleet ACME operation. */
export function fleetTable(results: readonly FleetResult[]): string {
  return lines(
    ['box-id', 'hostname', 'operation', 'result', 'serial', 'expires', 'time'],
    results.map((r) => [
      String(r.boxId),
      r.hostname,
      r.op,
      r.result.slice(0, 80),
      r.serial ?? '-',
      r.expires ?? '-',
      `${(r.durationMs / 1000).toFixed(1)} s`,
    ]),
  );
}
