/**
 * The state check on its own (stateProblem) and through LowdbStore.load():
 * each kind of parseable-but-broken state named by its field, the bad file
 * kept as .corrupt, and a good .bak used instead when there is one.
 */
import t from 'tap';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BoxDocument } from '../device/model.js';
import { LowdbStore } from './lowdb-store.js';
import { stateProblem } from './state-schema.js';
import { sampleDocument } from './store.contract.js';
import { StoreCorruptError } from './store.js';

/** [what, how to break a good document, the one line expected]. */
export const BROKEN: [string, (d: BoxDocument) => unknown, string | RegExp][] = [
  [
    'a corrupt PEM inside',
    (d) => {
      const c = d.crypto.certificates['default-cert']!;
      // The first line of DER: what OpenSSL then reports as "asn1 encoding routines::wrong tag".
      const lines = c.certPem.split('\n');
      lines[1] = 'A'.repeat(lines[1]!.length);
      c.certPem = lines.join('\n');
    },
    /^crypto\.certificates\.default-cert\.certPem: certificate 1 of the PEM is not a valid X\.509 certificate$/,
  ],
  [
    'a corrupt private key',
    (d) =>
      (d.crypto.certificates['default-cert']!.keyPem =
        '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'),
    'crypto.certificates.default-cert.keyPem: not a valid private key PEM',
  ],
  ['users: {}', (d) => (d.config.users = {}), 'config.users: at least one admin user is required'],
  [
    'users: []',
    (d) => ((d.config as { users: unknown }).users = []),
    'config.users: must be an object, not an array',
  ],
  [
    'no admin among the users',
    (d) => (d.config.users = { mon: { role: 'monitor', passwordHash: 'x' } }),
    'config.users: at least one admin user is required',
  ],
  [
    'a dangling web certificate name',
    (d) => (d.crypto.webCert = 'gone'),
    'crypto.webCert: names "gone", which is not a stored certificate',
  ],
  [
    'a dangling CA list entry',
    (d) => (d.crypto.caList = ['default-cert', 'gone']),
    'crypto.caList[1]: names "gone", which is not a stored certificate',
  ],
  [
    'an unknown crypto mode',
    (d) => ((d.config as { cryptoMode: string }).cryptoMode = 'quantum'),
    'config.cryptoMode: must be one of classic, secure-crypto, fips',
  ],
  [
    'a hostname with escape sequences',
    (d) => (d.config.hostname = 'box\u001b[2J\u009b31m'),
    'config.hostname: has the wrong form (1-63 letters, digits or hyphens, not starting or ending with a hyphen)',
  ],
  ['a missing section', (d) => delete (d as Partial<BoxDocument>).acme, 'acme: missing'],
  [
    'a wrong type deep inside',
    (d) => ((d.snmpEngine as { boots: unknown }).boots = 'many'),
    'snmpEngine.boots: must be an integer, not a string',
  ],
];

t.test('a good document has no problem', async (t) => {
  t.equal(stateProblem(sampleDocument(1)), undefined);
});

t.test('each broken document is named by its field, in one line', async (t) => {
  for (const [what, breakIt, expected] of BROKEN) {
    const d = sampleDocument(1);
    breakIt(d);
    const p = stateProblem(d);
    if (typeof expected === 'string') t.equal(p, expected, what);
    else t.match(p, expected, what);
    // eslint-disable-next-line no-control-regex -- the point: no control character may reach the line
    t.notMatch(p ?? '', /[\x00-\x1f\x7f-\x9f]/, `${what}: no control characters in the line`);
    t.notMatch(p ?? '', /BEGIN|PRIVATE KEY-----|scrypt/, `${what}: no secret quoted`);
  }
});

const tmp = () => mkdtempSync(join(tmpdir(), 'gvos-state-'));

t.test(
  'LowdbStore: a broken document and no .bak is refused naming file and field; a copy is kept',
  async (t) => {
    for (const [what, breakIt] of BROKEN) {
      const dir = tmp();
      const file = join(dir, 'state.json');
      const d = sampleDocument(1);
      breakIt(d);
      writeFileSync(file, JSON.stringify(d));
      const err = await new LowdbStore(dir).load().then(
        () => undefined,
        (e: unknown) => e,
      );
      t.type(err, StoreCorruptError, what);
      t.match((err as Error).message, `state file ${file} is corrupt (${stateProblem(d)})`, what);
      t.equal(
        readFileSync(file + '.corrupt', 'utf8'),
        JSON.stringify(d),
        `${what}: the copy is the bad file`,
      );
      t.equal(
        readFileSync(file, 'utf8'),
        JSON.stringify(d),
        `${what}: the file stays, so every start refuses`,
      );
    }
  },
);

t.test('LowdbStore: a broken document with a good .bak starts from the .bak and says so', async (t) => {
  for (const [what, breakIt] of BROKEN) {
    const dir = tmp();
    const file = join(dir, 'state.json');
    await new LowdbStore(dir).save(sampleDocument(1));
    await new LowdbStore(dir).save(sampleDocument(2));
    const d = sampleDocument(2);
    breakIt(d);
    writeFileSync(file, JSON.stringify(d));
    const warnings: Record<string, unknown>[] = [];
    const loaded = await new LowdbStore(dir, { warn: (_m, f) => warnings.push(f) }).load();
    t.equal(loaded?.config.hostname, 'box-1', `${what}: the last good copy`);
    t.match(warnings, [{ file, reason: stateProblem(d), usedCopy: file + '.bak' }], `${what}: reported`);
    t.equal(readFileSync(file + '.corrupt', 'utf8'), JSON.stringify(d), `${what}: the bad file kept`);
  }
});
