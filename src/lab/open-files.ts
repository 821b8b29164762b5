/**
 * Whether a lab's boxes fit in this process's open-files limit, said at
 * start instead of failing obscurely (EMFILE) half way through the boot.
 */
import { readFileSync } from 'node:fs';

/**
 * File descriptors one box holds: its listeners (SSH, CLI, HTTPS, HTTP and
 * the SNMP agent's UDP socket) and one keep-alive connection to its ACME
 * server while it issues.
 */
export const FDS_PER_BOX = 6;
/** What the process holds besides the boxes (peers' pipes, logs, the control plane, state writes). */
export const FDS_BASE = 200;

/** The soft open-files limit of this process (/proc/self/limits), or undefined where it cannot be read. */
export function openFilesLimit(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * One line naming the limit `boxes` would exceed and what they need, or
 * undefined when they fit or the limit is unknown (null).
 */
export function openFilesProblem(
  boxes: number,
  limit: number | null = openFilesLimit() ?? null,
): string | undefined {
  if (limit === null) return undefined;
  const need = FDS_BASE + boxes * FDS_PER_BOX;
  if (need <= limit) return undefined;
  const fit = Math.max(0, Math.floor((limit - FDS_BASE) / FDS_PER_BOX));
  return (
    `${boxes} boxes need about ${need} open files (${FDS_PER_BOX} per box: 5 listeners and an ACME connection, ` +
    `plus ${FDS_BASE}) but this process may open ${limit} (ulimit -n); at most ${fit} boxes fit: ` +
    `raise the limit (ulimit -n ${need}, or the container's nofile) or run fewer boxes`
  );
}
