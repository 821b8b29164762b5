/**
 * Deterministic binary garbage for the CLI tests (unit and end-to-end).
 * Not a test double: the same bytes every run, so a failure can be replayed.
 */
import { createHash } from 'node:crypto';

/**
 * `n` bytes of deterministic binary garbage (SHA-256 in counter mode), so a
 * test never fails by chance: random bytes can spell `ex` + Tab + CR, which
 * is `exit`. The letters q and l never appear: a line `q` or `l` is a unique
 * prefix of `quit` or `logout` and would end the session on purpose.
 */
export function garbage(n: number, seed = 'gvos-cli-garbage'): Buffer {
  const out: Buffer[] = [];
  for (let i = 0; out.length * 32 < n; i++) out.push(createHash('sha256').update(`${seed}/${i}`).digest());
  return Buffer.from(
    Buffer.concat(out)
      .subarray(0, n)
      .map((b) => (LOGOUT_LETTERS.has(b) ? 0x78 : b)),
  );
}

const LOGOUT_LETTERS = new Set([...'qQlL'].map((c) => c.charCodeAt(0)));
