/**
 * A state.json that parses but would boot a broken box (issue 15 item 5),
 * from outside: a real box process (bin/gvos-sim.js) booted on such a state
 * refuses with one line naming the file and the field, keeps the bad file as
 * .corrupt and leaves it in place, or starts from a good .bak and logs it.
 * The unit tests of each check are in src/store/state-schema.test.ts.
 */
import t from 'tap';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BoxDocument } from '../../src/device/model.js';
import type { BoxProcess } from '../harness/box-process.js';
import { checkCorruptRefusal, cli, savedBoxTemplate, startBox } from './helpers.js';

const stateOf = (dir: string) => JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as BoxDocument;

const { savedBox, boot } = await savedBoxTemplate(t);

const brokenStates: [string, string, (d: BoxDocument) => void][] = [
  [
    'a corrupt PEM inside',
    'crypto.certificates.default-cert.certPem',
    (d) => {
      const c = d.crypto.certificates['default-cert']!;
      const lines = c.certPem.split('\n');
      lines[1] = 'A'.repeat(lines[1]!.length);
      c.certPem = lines.join('\n');
    },
  ],
  ['users: {}', 'config.users', (d) => (d.config.users = {})],
  ['users: []', 'config.users', (d) => ((d.config as { users: unknown }).users = [])],
  ['a dangling web certificate name', 'crypto.webCert', (d) => (d.crypto.webCert = 'gone')],
  [
    'an unknown crypto mode',
    'config.cryptoMode',
    (d) => ((d.config as { cryptoMode: string }).cryptoMode = 'quantum'),
  ],
  [
    'a hostname with escape sequences',
    'config.hostname',
    (d) => (d.config.hostname = 'box\u001b[2J\u009b31m'),
  ],
];

for (const [what, field, breakIt] of brokenStates) {
  t.test(`state.json with ${what} and no good copy: refused in one line naming file and field`, async (t) => {
    const dir = savedBox();
    rmSync(join(dir, 'state.json.bak'), { force: true });
    const file = join(dir, 'state.json');
    const d = stateOf(dir);
    breakIt(d);
    writeFileSync(file, JSON.stringify(d));
    const bad = readFileSync(file);
    const line = checkCorruptRefusal(t, await boot(dir), file, bad);
    t.match(line, `state file ${file} is corrupt (${field}: `, 'naming the field');
    // eslint-disable-next-line no-control-regex -- the point: no control character may reach the line
    t.notMatch(line, /[\x00-\x1f\x7f-\x9f]/, 'no control characters');
  });

  t.test(`state.json with ${what} and a good .bak: starts from the .bak and says so`, async (t) => {
    const dir = savedBox();
    const file = join(dir, 'state.json');
    const d = stateOf(dir);
    breakIt(d);
    writeFileSync(file, JSON.stringify(d));
    const b: BoxProcess = await startBox({ dataDir: dir, args: ['--log-level', 'warn'] });
    t.teardown(() => b.kill());
    t.match(await cli(b.ready.ports.cli, ['show version']), /\nsaved-box > $/, 'the saved box');
    t.match(b.stderr(), /"msg":"state file is corrupt; started from the last good copy"/, 'the log says so');
    t.match(b.stderr(), `"reason":"${field}: `, 'naming the field');
    t.equal(readFileSync(file + '.corrupt', 'utf8'), JSON.stringify(d), 'the bad file kept');
  });
}
