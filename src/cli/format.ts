/**
 * Small text helpers shared by the show commands. Pure; dates are rendered
 * in the process's local time zone (TZ), as the device shows them.
 */

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** `YYYY/MM/DD HH:MM:SS` in local time (CLI contract, "Status output"). */
export function formatLocalTime(ms: number): string {
  const d = new Date(ms);
  return (
    `${d.getFullYear()}/${pad2(d.getMonth() + 1)}/${pad2(d.getDate())} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`
  );
}

/** A local time, or `n/a` when there is none. */
export function timeOrNa(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? 'n/a' : formatLocalTime(ms);
}

/** `3d 4h 5m 6s`. */
export function formatUptime(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h ${Math.floor((s % 3600) / 60)}m ${s % 60}s`;
}

/** `label:` padded so the values line up, then the value. A row with an empty label is a blank line. */
export function keyValues(rows: readonly (readonly [string, string])[], indent = ''): string[] {
  const width = Math.max(...rows.map(([k]) => k.length)) + 2;
  return rows.map(([k, v]) => (k === '' ? '' : `${indent}${(k + ':').padEnd(width)}${v}`.trimEnd()));
}

/** What stands in for a secret in show output and the running config. */
export const MASK = '********';
