import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { ALL_COMMANDS } from './commands/index.js';
import { findEmulations, renderCliReference } from './docs.js';
import { repoRoot } from '../lib/repo-root.js';

/** The repository (a unit test imports no peer harness, so not box-process.ts's REPO_ROOT). */
const REPO_ROOT = repoRoot();

t.test('docs/cli.md is what the command tables generate (npm run docs:cli)', async (t) => {
  const committed = readFileSync(join(REPO_ROOT, 'docs', 'cli.md'), 'utf8');
  const generated = renderCliReference(findEmulations(join(REPO_ROOT, 'src')));
  t.equal(committed, generated, 'docs/cli.md is stale: run npm run docs:cli and commit it');
  for (const s of ALL_COMMANDS)
    t.ok(committed.includes(`\`${s.syntax.replace(/\|/g, '\\|')}\``), `entry for ${s.syntax}`);
  t.match(committed, /\| src\/cli\/line-editor\.ts \| .*history depth/, 'the EMULATION table has the editor');
});

t.test('the README points to the shipped reference, never to ../shared', async (t) => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  t.notMatch(readme, /\.\.\/shared/);
  t.match(readme, /docs\/cli\.md/);
});
