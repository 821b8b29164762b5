/**
 * A Store in one JSON file per box, through lowdb with an atomic adapter:
 * write a temporary file (mode 0600, since it holds private keys), fsync it,
 * keep the current file as state.json.bak, rename the temporary file over
 * state.json, fsync the directory. A crash at any point leaves state.json
 * (old or new) or, between the two renames, only the .bak (old), which load()
 * falls back to.
 *
 * The rename of the temporary file is the moment of commit: before it, a
 * failure removes the temporary file and leaves the old document; after it,
 * the new document is in place and the write has happened (a failed fsync of
 * the directory only weakens durability against power loss, and is reported
 * as a warning, not as a failed write). load() removes temporary files that a
 * crash left behind: they never hold the truth. A document is checked whole
 * when it is read (state-schema.ts); one that fails is corrupt, whatever the
 * reason, and is handled like a file that does not parse.
 */
import { closeSync, fsync, open, openSync, writeFile as writeFd } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { Low, type Adapter } from 'lowdb';
import type { BoxDocument } from '../device/model.js';
import { Gate } from '../lib/gate.js';
import { stateProblem } from './state-schema.js';
import { StoreCorruptError, type Store } from './store.js';

/**
 * State writes at once in this process. A lab writes every box's state at
 * once (configuring the fleet, issuing): unbounded, each write holds its
 * file (and its directory, for the sync) open through the fsync, and 10,000
 * boxes took 10,000 more open files. libuv's pool runs four file operations
 * at a time anyway, so the bound costs no throughput.
 */
export const MAX_STATE_WRITES_AT_ONCE = 64;
const WRITES = new Gate(MAX_STATE_WRITES_AT_ONCE);

/** What a LowdbStore may tell its owner that is not an error (recovery from a bad file, a failed fsync). */
type StoreWarning = (message: string, fields: Record<string, unknown>) => void;

class AtomicJsonFile implements Adapter<BoxDocument> {
  private seq = 0;
  /** The directory was made (or found) by an earlier write of this file. */
  private dirMade = false;
  constructor(
    private readonly file: string,
    private readonly warn: StoreWarning,
  ) {}

  async read(): Promise<BoxDocument | null> {
    await this.removeStrayTemporaries();
    const bakFile = this.file + '.bak';
    const main = await readIfExists(this.file);
    if (main === undefined) {
      // A crash between the two renames of write(): the previous document is the .bak.
      const bak = await readIfExists(bakFile);
      if (bak === undefined) return null;
      try {
        return parseDocument(bak);
      } catch (err) {
        await copyFile(bakFile, bakFile + '.corrupt');
        throw new StoreCorruptError(bakFile, (err as Error).message);
      }
    }
    try {
      return parseDocument(main);
    } catch (err) {
      const reason = (err as Error).message;
      const bak = await readIfExists(bakFile);
      let good: BoxDocument | undefined;
      try {
        good = bak === undefined ? undefined : parseDocument(bak);
      } catch {
        // Both are bad: refuse below.
      }
      if (!good) {
        // Copied, not moved: state.json stays in place, so the next boot refuses again instead of
        // starting a fresh box over it.
        await copyFile(this.file, this.file + '.corrupt');
        throw new StoreCorruptError(this.file, reason);
      }
      // Moved aside, so that the next write keeps the good .bak as it is instead of renaming the bad file over it.
      await rename(this.file, this.file + '.corrupt');
      this.warn('state file is corrupt; started from the last good copy', {
        file: this.file,
        reason,
        usedCopy: bakFile,
        keptAs: this.file + '.corrupt',
      });
      return good;
    }
  }

  async write(data: BoxDocument): Promise<void> {
    const release = await WRITES.acquire();
    try {
      await this.writeNow(data);
    } finally {
      release();
    }
  }

  /**
   * One write: nine file calls (no fchmod: see openTemporary). The six that
   * may wait for the disk or its journal (create, write, the two fsyncs, the
   * two renames) go to libuv's pool; the three that never wait (closing the
   * two descriptors, opening the directory) are made here on the calling
   * thread: each call through the pool costs the main thread a promise, a
   * request and a callback, and the process two thread switches, and a lab
   * makes two writes per certificate (bench/lab-regression's profile). The
   * renames and the create are not made here: with fsyncs of other boxes
   * under way they waited for the journal on this thread, and a 300-box
   * lab's issue phase took longer (7.7 against 5.95 s, median of three at load 7-11:
   * bench/results/lab-regression-300-s7-box-1-*).
   */
  private async writeNow(data: BoxDocument): Promise<void> {
    const dir = dirname(this.file);
    const tmp = `${this.file}.tmp-${process.pid}-${this.seq++}`;
    const text = JSON.stringify(data);
    try {
      const fd = await this.openTemporary(tmp, dir);
      try {
        await fdWrite(fd, text);
        await fdSync(fd);
      } finally {
        closeSync(fd);
      }
      try {
        await rename(this.file, this.file + '.bak');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      await rename(tmp, this.file);
    } catch (err) {
      // Disk full or read-only: the partial temporary file must not stay (it would hold space and a half key).
      await rm(tmp, { force: true }).catch(() => undefined);
      throw err;
    }
    try {
      await syncDir(dir);
    } catch (err) {
      this.warn('state written, but the directory could not be synced', {
        dir,
        err: (err as Error).message,
      });
    }
  }

  /**
   * Open a new temporary file, created 0600 (it holds private keys): `wx`
   * (O_EXCL) guarantees the file is new, so it has that mode whatever a file
   * of the same name had (the name repeats across boots: pid and a counter);
   * such a leftover is removed and the open retried. The directory is made at
   * the first write only (a mkdir per write was one more file operation for
   * every certificate of a lab), and again if it has gone since.
   */
  private async openTemporary(tmp: string, dir: string): Promise<number> {
    if (!this.dirMade) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      this.dirMade = true;
    }
    try {
      return await fdOpen(tmp, 'wx', 0o600);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') await rm(tmp, { force: true });
      else if (code === 'ENOENT') await mkdir(dir, { recursive: true, mode: 0o700 });
      else throw err;
      return fdOpen(tmp, 'wx', 0o600);
    }
  }

  /** Remove `state.json.tmp-*` files: what a crash left behind before its rename. */
  private async removeStrayTemporaries(): Promise<void> {
    const prefix = basename(this.file) + '.tmp-';
    let names: string[];
    try {
      names = await readdir(dirname(this.file));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw err;
    }
    for (const n of names) {
      if (!n.startsWith(prefix)) continue;
      await rm(join(dirname(this.file), n), { force: true }).catch((err: Error) =>
        this.warn('could not remove a stray temporary state file', { file: n, err: err.message }),
      );
    }
  }
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Parse and check a state document whole (state-schema.ts): a document that
 * parses but could not boot a working box is as corrupt as one that does not
 * parse. Throws Error whose message names the field.
 */
function parseDocument(text: string): BoxDocument {
  const doc = JSON.parse(text) as unknown;
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc) || (doc as BoxDocument).schema !== 1)
    throw new Error('not a gvos-sim box document');
  const problem = stateProblem(doc);
  if (problem) throw new Error(problem);
  return doc as BoxDocument;
}

/**
 * The pool's file calls on plain descriptors: fs/promises' FileHandle costs
 * the main thread about three times as much per call (an object, a promise
 * and a close tracker each).
 */
const fdOpen = promisify(open) as (path: string, flags: string, mode: number) => Promise<number>;
const fdWrite = promisify(writeFd) as (fd: number, data: string) => Promise<void>;
const fdSync = promisify(fsync);

/** fsync a directory (the renames in it reach the disk); only the fsync goes to the pool. */
async function syncDir(dir: string): Promise<void> {
  const fd = openSync(dir, 'r');
  try {
    await fdSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Options of a LowdbStore. */
export interface LowdbStoreOptions {
  /** Where recoveries and non-fatal problems are reported (default: nowhere). */
  warn?: StoreWarning;
}

export class LowdbStore implements Store {
  readonly location: string;
  private readonly db: Low<BoxDocument | null>;

  /** `dataDir` holds state.json (and its .bak); created 0700 when missing. */
  constructor(dataDir: string, o: LowdbStoreOptions = {}) {
    this.location = join(dataDir, 'state.json');
    const adapter = new AtomicJsonFile(this.location, o.warn ?? (() => undefined));
    this.db = new Low<BoxDocument | null>(adapter as Adapter<BoxDocument | null>, null);
  }

  async load(): Promise<BoxDocument | undefined> {
    await this.db.read();
    return this.db.data ?? undefined;
  }

  async save(doc: BoxDocument): Promise<void> {
    this.db.data = doc;
    await this.db.write();
  }
}
