/**
 * The terminal tables of `gvos-sim lab` (status, faults, clocks, fleet
 * results, traps): rows of the control plane's answers as text, in the one
 * table layout of lib/table.ts. Pure.
 */
import { table } from '../lib/table.js';
import { NOTIFICATIONS } from '../snmp/oids.js';
import { varbindValue, type ReceivedNotification } from '../snmp/trapd-launcher.js';
import type { FaultState } from './faults.js';
import type { FleetResult, LabBoxStatus } from './lab.js';

const lines = (head: string[], body: string[][]) => table(head, body).join('\n');

/** An ISO time as `2026-01-02 03:04:05Z` (no milliseconds), or `-`. */
function isoShort(iso: string | null | undefined): string {
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
        c.status + (c.reason ? ` (${c.reason.slice(0, 60)})` : ''),
        c.serial ?? '-',
        isoShort(c.expires),
        isoShort(c.nextRenewal),
        req ? `${req.type} ${req.status} ${isoShort(req.at)}` : '-',
        clockOffset(r.clockOffsetMs),
      ];
    }),
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

const TRAP_HEADERS = ['time', 'notification', 'from', 'hostname', 'serial', 'description'];

/** One notification as the cells of TRAP_HEADERS. */
function trapCells(n: ReceivedNotification): string[] {
  return [
    n.receivedMs === undefined ? '-' : isoShort(new Date(n.receivedMs).toISOString()),
    n.name,
    n.transport.replace(/^UDP: /, '').replace(/->.*/, ''),
    varbindValue(n, 'gvosSimHostname') ?? '-',
    varbindValue(n, 'gvosSimCertSerial') ?? '-',
    (varbindValue(n, 'gigamonSnmpNotifDescription') ?? '').slice(0, 80),
  ];
}

/** `lab traps`: one row per notification of the trap log. */
export function trapsTable(rows: readonly ReceivedNotification[]): string {
  return lines(TRAP_HEADERS, rows.map(trapCells));
}

/**
 * The narrowest each column of `lab traps --follow` is, whatever the first
 * page holds: a time `2026-01-02 03:04:05Z`; the longest notification name the
 * simulator sends; `[127.255.255.255]:65535`; a default hostname of a large
 * lab; a Pebble serial. The description, last, is never padded.
 */
const FOLLOW_MIN_WIDTHS = [
  20,
  Math.max(...Object.values(NOTIFICATIONS).map((k) => k.name.length)),
  23,
  14,
  16,
];

/**
 * `lab traps --follow`: a table that grows line by line, so every column
 * keeps one width from the header on: the wider of FOLLOW_MIN_WIDTHS and the
 * widest cell of the `first` notifications (those printed before following).
 * A later cell wider than its column is cut to it, ending in `…` (--json
 * has every value whole); the description is last and never cut further.
 */
export function trapsFollowLayout(first: readonly ReceivedNotification[]): {
  header: string[];
  line: (n: ReceivedNotification) => string;
} {
  const firstCells = first.map(trapCells);
  const widths = TRAP_HEADERS.slice(0, -1).map((h, i) =>
    Math.max(h.length, FOLLOW_MIN_WIDTHS[i] ?? 0, ...firstCells.map((c) => c[i]!.length)),
  );
  const fit = (c: string, w: number | undefined) =>
    w === undefined ? c : (c.length > w ? `${c.slice(0, w - 1)}…` : c).padEnd(w);
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => fit(c, widths[i]))
      .join('  ')
      .trimEnd();
  return {
    header: [line(TRAP_HEADERS), line([...widths.map((w) => '-'.repeat(w)), '-'.repeat(11)])],
    line: (n) => line(trapCells(n)),
  };
}
