/**
 * The terminal tables of `gvos-sim lab traps` (a table, or one line per
 * notification while following). Pure; loaded by the `traps` verb only (the
 * MIB's names come with it).
 */
import { NOTIFICATIONS } from '../snmp/oids.js';
import { varbindValue, type ReceivedNotification } from '../snmp/trapd-launcher.js';
import { table } from '../lib/table.js';
import { isoShort } from './lab-tables.js';

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
  return table(TRAP_HEADERS, rows.map(trapCells)).join('\n');
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
