/**
 * Deterministic binary garbage for the CLI tests (unit and end-to-end).
 * Not a test double: the same bytes every run, so a failure can be replayed.
 */
import { createHash } from 'node:crypto';

/**
 * `n` bytes of deterministic binary garbage (SHA-256 in counter mode), so a
 * test never fails by chance: random bytes can spell `ex` + Tab + CR, which
 * is `exit`.
 */
export function garbage(n: number, seed = 'gvos-cli-garbage'): Buffer {
  const out: Buffer[] = [];
  for (let i = 0; out.length * 32 < n; i++) out.push(createHash('sha256').update(`${seed}/${i}`).digest());
  return Buffer.concat(out).subarray(0, n);
}
