import t from 'tap';
import { mkdtempSync, readdirSync, statSync, writeFileSync, chmodSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStore } from './memory-store.js';
import { LowdbStore } from './lowdb-store.js';
import { sampleDocument, storeContract } from './store.contract.js';
import { StoreCorruptError } from './store.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'gvos-store-'));

storeContract(t, 'MemoryStore', async () => new MemoryStore());
storeContract(t, 'LowdbStore', async () => new LowdbStore(tmp()));

t.test('LowdbStore writes the state file with mode 0600 and leaves no temporary file', async (t) => {
  const dir = tmp();
  const s = new LowdbStore(dir);
  await s.save(sampleDocument(1));
  await s.save(sampleDocument(2));
  t.equal(statSync(join(dir, 'state.json')).mode & 0o777, 0o600);
  t.same(readdirSync(dir).filter((f) => f.includes('.tmp-')), []);
});

t.test('LowdbStore falls back to the last good copy when state.json is corrupt, keeping the bad one', async (t) => {
  const dir = tmp();
  const s = new LowdbStore(dir);
  await s.save(sampleDocument(1));
  await s.save(sampleDocument(2));
  writeFileSync(join(dir, 'state.json'), '{"schema":1, truncated');
  const loaded = await new LowdbStore(dir).load();
  t.equal(loaded!.config.hostname, 'box-1', 'the previous document (state.json.bak)');
  t.match(readFileSync(join(dir, 'state.json.corrupt'), 'utf8'), /truncated/);
});

t.test('LowdbStore refuses a corrupt state file with no good copy, naming the file', async (t) => {
  const dir = tmp();
  writeFileSync(join(dir, 'state.json'), 'not json');
  await t.rejects(new LowdbStore(dir).load(), StoreCorruptError);
  await t.rejects(new LowdbStore(dir).load(), { message: new RegExp(join(dir, 'state.json')) });
});

t.test('LowdbStore: a crash between the two renames leaves the old document loadable', async (t) => {
  const dir = tmp();
  const s = new LowdbStore(dir);
  await s.save(sampleDocument(1));
  await s.save(sampleDocument(2));
  // Simulate the window after "state.json -> state.json.bak" and before "tmp -> state.json".
  const { renameSync } = await import('node:fs');
  renameSync(join(dir, 'state.json'), join(dir, 'state.json.bak'));
  t.equal((await new LowdbStore(dir).load())!.config.hostname, 'box-2');
});

t.test('LowdbStore save fails cleanly on a read-only directory', { skip: process.getuid?.() === 0 ? 'root ignores directory permissions' : false }, async (t) => {
  const dir = tmp();
  const s = new LowdbStore(dir);
  await s.save(sampleDocument(1));
  chmodSync(dir, 0o500);
  await t.rejects(s.save(sampleDocument(2)));
  chmodSync(dir, 0o700);
  t.equal((await s.load())!.config.hostname, 'box-1');
});
