/**
 * How this process was started, spelled so a user can paste it: the lab's
 * hints ("stop: ... lab down") name the command as it was invoked, since
 * `gvos-sim` is often not on the PATH (a clone runs `node dist/src/main.js`
 * or `npx gvos-sim`).
 */
import { realpathSync, statSync } from 'node:fs';
import { basename, delimiter, isAbsolute, join, relative } from 'node:path';

/** Quote a word for a POSIX shell when it needs it. */
function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** `path` relative to `cwd` when it is below it, else absolute. */
function shortPath(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

/** The real path of the `gvos-sim` found on PATH, if any. */
function onPath(env: NodeJS.ProcessEnv): string | undefined {
  for (const d of (env.PATH ?? '').split(delimiter)) {
    if (!d) continue;
    const p = join(d, 'gvos-sim');
    try {
      if (statSync(p).isFile()) return realpathSync(p);
    } catch {
      // not there
    }
  }
  return undefined;
}

/**
 * The command that runs gvos-sim as this process was run: "npx gvos-sim"
 * under npx, "gvos-sim" when that name on the PATH is this launcher, the
 * launcher's path when it is not, "node bin/gvos-sim.js" or "node
 * dist/src/main.js" (relative to the working directory when below it) for a
 * script run by node.
 */
export function invokedAs(
  argv: readonly string[] = process.argv,
  env: NodeJS.ProcessEnv = process.env,
  cwd: string = process.cwd(),
): string {
  const script = argv[1] ?? '';
  const name = basename(script);
  // npx runs the bin link (node_modules/.bin/gvos-sim). npm_command alone is not enough: a child started
  // as `node bin/gvos-sim.js` under an npx-launched parent (a test runner) inherits it.
  if (env.npm_command === 'exec' && name === 'gvos-sim') return 'npx gvos-sim';
  if (name === 'gvos-sim') {
    let real = script;
    try {
      real = realpathSync(script);
    } catch {
      // keep it as given
    }
    if (onPath(env) === real) return 'gvos-sim';
    return shellWord(shortPath(script, cwd));
  }
  if (!script) return 'gvos-sim';
  return `node ${shellWord(shortPath(script, cwd))}`;
}
