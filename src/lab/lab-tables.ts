/**
 * The terminal tables of `gvos-sim lab` (status, faults, clocks, fleet
 * results, traps): rows of the control plane's answers as text, in the one
 * table layout of lib/table.ts. Pure.
 */
import { table } from '../lib/table.js';
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

/** `lab traps`: one row per notification of the trap log. */
export function trapsTable(rows: readonly ReceivedNotification[]): string {
  return lines(
    ['time', 'notification', 'from', 'hostname', 'serial', 'description'],
    rows.map((n) => [
      n.receivedMs === undefined ? '-' : isoShort(new Date(n.receivedMs).toISOString()),
      n.name,
      n.transport.replace(/^UDP: /, '').replace(/->.*/, ''),
      varbindValue(n, 'gvosSimHostname') ?? '-',
      varbindValue(n, 'gvosSimCertSerial') ?? '-',
      (varbindValue(n, 'gigamonSnmpNotifDescription') ?? '').slice(0, 80),
    ]),
  );
}
