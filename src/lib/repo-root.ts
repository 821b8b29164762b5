/**
 * The project's root directory (where its package.json is), found from this
 * module's own location. It works the same from the TypeScript sources
 * (src/lib/) and from the compiled tree (dist/src/lib/), which a fixed
 * `../../` cannot: the fast test tier runs the compiled tests (see
 * scripts/test-unit.mjs) and `node dist/src/main.js` reads the version.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/** The absolute path of the directory holding gvos-sim's package.json; throws when there is none. */
export function repoRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'gvos-sim')
      return (cached = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error(`no gvos-sim package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** A path inside the project, e.g. `repoPath('docs', 'cli.md')`. */
export function repoPath(...parts: string[]): string {
  return join(repoRoot(), ...parts);
}
