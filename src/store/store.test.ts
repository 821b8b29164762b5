import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, statSync, writeFileSync, chmodSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MemoryStore } from './memory-store.js';
import { LowdbStore, MAX_STATE_WRITES_AT_ONCE } from './lowdb-store.js';
import { sampleDocument, storeContract } from './store.contract.js';
import { StoreCorruptError } from './store.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'gvos-store-'));
/** The temporary files left in a store's directory. */
const strays = (dir: string) => readdirSync(dir).filter((f) => f.includes('.tmp-'));

storeContract(t, 'MemoryStore', async () => new MemoryStore());
storeContract(t, 'LowdbStore', async () => new LowdbStore(tmp()));

t.test(
  'LowdbStore writes the state file with mode 0600 and leaves no temporary file, also over a leftover 0644 temporary of the same name (pid and counter repeat across boots)',
  async (t) => {
    const dir = tmp();
    const s = new LowdbStore(dir);
    // The first write of this store uses this name; written before it, as a boot with the same pid would have left it.
    const leftover = join(dir, `state.json.tmp-${process.pid}-0`);
    writeFileSync(leftover, '{"half": ', { mode: 0o644 });
    chmodSync(leftover, 0o644);
    await s.save(sampleDocument(1));
    t.equal(
      statSync(join(dir, 'state.json')).mode & 0o777,
      0o600,
      'the state file (it holds private keys) is 0600',
    );
    t.same(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')), sampleDocument(1));
    await s.save(sampleDocument(2));
    t.equal(statSync(join(dir, 'state.json')).mode & 0o777, 0o600);
    t.same(strays(dir), []);
  },
);

t.test(
  'LowdbStore: from the third write on, the new document goes into the old .bak file (no file created), longer or shorter, 0600',
  async (t) => {
    const dir = tmp();
    const s = new LowdbStore(dir);
    const main = join(dir, 'state.json');
    const bak = join(dir, 'state.json.bak');
    const long = (n: number) => ({
      ...sampleDocument(n),
      config: { ...sampleDocument(n).config, hostname: 'h'.repeat(200) },
    });
    await s.save(long(1));
    await s.save(long(2));
    const [mainIno, bakIno] = [statSync(main).ino, statSync(bak).ino];
    // A shorter document into the longer one's file: what the old content had beyond it must go.
    await s.save(sampleDocument(3));
    t.equal(statSync(main).ino, bakIno, "state.json is the old .bak's file");
    t.equal(statSync(bak).ino, mainIno, 'the .bak is the previous state.json');
    t.same(JSON.parse(readFileSync(main, 'utf8')), sampleDocument(3));
    t.same(JSON.parse(readFileSync(bak, 'utf8')), long(2));
    // A mode changed by hand on the .bak does not reach the state file.
    chmodSync(bak, 0o644);
    await s.save(sampleDocument(4));
    t.equal(statSync(main).mode & 0o777, 0o600, 'the state file (it holds private keys) is 0600');
    t.same(JSON.parse(readFileSync(main, 'utf8')), sampleDocument(4));
    t.same(JSON.parse(readFileSync(bak, 'utf8')), sampleDocument(3));
    t.same(await new LowdbStore(dir).load(), sampleDocument(4), 'a new store loads the last document');
    t.same(strays(dir), []);
  },
);

t.test('LowdbStore: a data directory removed after a write is made again by the next write', async (t) => {
  const dir = join(tmp(), 'box-1');
  const s = new LowdbStore(dir);
  await s.save(sampleDocument(1));
  execFileSync('rm', ['-rf', dir]);
  await s.save(sampleDocument(2));
  t.equal(statSync(dir).mode & 0o777, 0o700, 'the directory is back, 0700');
  t.equal(statSync(join(dir, 'state.json')).mode & 0o777, 0o600);
  t.equal((await new LowdbStore(dir).load())!.config.hostname, sampleDocument(2).config.hostname);
});

t.test(
  'LowdbStore falls back to the last good copy when state.json is corrupt, keeping the bad one',
  async (t) => {
    const dir = tmp();
    const s = new LowdbStore(dir);
    await s.save(sampleDocument(1));
    await s.save(sampleDocument(2));
    writeFileSync(join(dir, 'state.json'), '{"schema":1, truncated');
    const loaded = await new LowdbStore(dir).load();
    t.equal(loaded!.config.hostname, 'box-1', 'the previous document (state.json.bak)');
    t.match(readFileSync(join(dir, 'state.json.corrupt'), 'utf8'), /truncated/);
  },
);

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

/**
 * Make `dir` read-only for this process, or say why not: root ignores directory permissions,
 * so as root the directory is made immutable with chattr (which binds root too).
 */
function readOnly(dir: string, on: boolean): void {
  if (process.getuid?.() === 0) execFileSync('chattr', [on ? '+i' : '-i', dir], { stdio: 'ignore' });
  else chmodSync(dir, on ? 0o500 : 0o700);
}
const canReadOnly = (() => {
  const dir = tmp();
  try {
    readOnly(dir, true);
    readOnly(dir, false);
    return true;
  } catch {
    return false;
  }
})();

t.test(
  'LowdbStore save fails cleanly on a read-only directory',
  { skip: canReadOnly ? false : 'running as root without chattr' },
  async (t) => {
    const dir = tmp();
    const s = new LowdbStore(dir);
    await s.save(sampleDocument(1));
    readOnly(dir, true);
    await t.rejects(s.save(sampleDocument(2)));
    readOnly(dir, false);
    t.equal((await s.load())!.config.hostname, 'box-1');
    t.same(
      readdirSync(dir).filter((f) => f.includes('.tmp-')),
      [],
      'no temporary file left',
    );
  },
);

t.test('LowdbStore removes temporary files a crash left behind, on load', async (t) => {
  const dir = tmp();
  const s = new LowdbStore(dir);
  await s.save(sampleDocument(1));
  writeFileSync(join(dir, 'state.json.tmp-99999-7'), '{"half": ');
  t.equal((await new LowdbStore(dir).load())!.config.hostname, 'box-1');
  t.same(strays(dir), []);
});

t.test('LowdbStore: after starting from the .bak, the next save keeps the .bak good', async (t) => {
  const dir = tmp();
  const warnings: string[] = [];
  await new LowdbStore(dir).save(sampleDocument(1));
  await new LowdbStore(dir).save(sampleDocument(2));
  writeFileSync(join(dir, 'state.json'), 'garbage');
  const s = new LowdbStore(dir, { warn: (m) => warnings.push(m) });
  t.equal((await s.load())!.config.hostname, 'box-1');
  t.match(warnings, [/started from the last good copy/], 'the recovery is reported');
  await s.save(sampleDocument(3));
  t.equal(
    JSON.parse(readFileSync(join(dir, 'state.json.bak'), 'utf8')).config.hostname,
    'box-1',
    'the .bak is the good copy, not the garbage',
  );
});

t.test('LowdbStore refuses a corrupt .bak when state.json is missing, naming the .bak', async (t) => {
  const dir = tmp();
  writeFileSync(join(dir, 'state.json.bak'), '{');
  await t.rejects(new LowdbStore(dir).load(), {
    name: 'StoreCorruptError',
    message: new RegExp(join(dir, 'state.json.bak') + ' is corrupt'),
  });
});

t.test('a fleet of stores saving at once holds a bounded number of open files', async (t) => {
  // A lab configures and issues every box at once: 400 state writes here.
  const stores = Array.from({ length: 400 }, () => new LowdbStore(tmp()));
  const openFiles = () => readdirSync('/proc/self/fd').length;
  const before = openFiles();
  let peak = before;
  let sampling = true;
  const sample = () => {
    peak = Math.max(peak, openFiles());
    if (sampling) setImmediate(sample);
  };
  sample();
  await Promise.all(stores.map((s, i) => s.save(sampleDocument(i))));
  sampling = false;
  t.ok(
    peak - before <= 2 * MAX_STATE_WRITES_AT_ONCE,
    `at most ${2 * MAX_STATE_WRITES_AT_ONCE} more open files (a file and its directory per write): ${peak - before}`,
  );
  const back = await stores[399]!.load();
  t.equal(back?.config.hostname, sampleDocument(399).config.hostname, 'and every write happened');
});

t.test(
  'LowdbStore keeps no copy of a document it loaded or saved (a lab holds each box state once)',
  async (t) => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    // Let the write's or the read's promises settle, then collect.
    const collect = async () => {
      await new Promise((r) => setImmediate(r));
      gc();
    };
    const s = new LowdbStore(tmp());
    // Each document is made and dropped inside a function: only the store could still hold it.
    const saved = await (async () => {
      const doc = sampleDocument(1);
      await s.save(doc);
      return new WeakRef(doc);
    })();
    await collect();
    t.equal(saved.deref(), undefined, 'the saved document is not kept after its write');
    const loaded = await (async () => {
      const doc = await s.load();
      t.same(doc, sampleDocument(1), 'the saved document loads');
      return new WeakRef(doc!);
    })();
    await collect();
    t.equal(loaded.deref(), undefined, 'the loaded document is not kept after load()');
    t.same(await s.load(), sampleDocument(1), 'load() still reads it from the disk');
  },
);
