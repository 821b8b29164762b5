/**
 * A Store in one JSON file per box, through lowdb with an atomic adapter:
 * write a temporary file (mode 0600, since it holds private keys; the
 * previous .bak's file when this store wrote it, else a new one), fsync it,
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
import {
  closeSync,
  constants,
  fchmod,
  fstatSync,
  fsync,
  ftruncate,
  open,
  openSync,
  write,
  writeFile as writeFd,
} from 'node:fs';
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
  /**
   * The last write of this object succeeded: state.json and its .bak are
   * files it wrote, so the next write may take the .bak's file for the new
   * document (see takeBak). False after a load (the .bak may be the copy
   * the box started from, kept as it is) and after a failed write.
   */
  private bakIsOurs = false;
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
   * One write. The new document goes into a temporary file, fsynced, then
   * state.json becomes the .bak and the temporary file state.json, and the
   * directory is fsynced. The temporary file is the old .bak's file when
   * this object wrote it (takeBak), else a new one: creating a file and
   * freeing the old .bak's were most of a write's system time on ext4
   * (about 0.45 of 0.65 ms per write, beside 0.17 ms for the whole write
   * with the file reused; bench/lab-regression's labs make two writes per
   * certificate).
   *
   * The calls that may wait for the disk or its journal (create, write,
   * truncate, the fsyncs, the renames) go to libuv's pool; the ones that
   * never do (close, the directory's open, fstat) are made here: each call
   * through the pool costs the main thread a promise, a request and a
   * callback. Made here, the renames and the create waited for the journal
   * behind other boxes' fsyncs and blocked the event loop (a 300-box issue
   * phase took 7.7 against 5.95 s: bench/results/lab-regression-300-s7-box-1-*).
   */
  private async writeNow(data: BoxDocument): Promise<void> {
    const dir = dirname(this.file);
    const tmp = `${this.file}.tmp-${process.pid}-${this.seq++}`;
    const text = JSON.stringify(data);
    const bakWasOurs = this.bakIsOurs;
    this.bakIsOurs = false;
    try {
      const reused = bakWasOurs ? await this.takeBak(tmp) : undefined;
      const fd = reused?.fd ?? (await this.openTemporary(tmp, dir));
      try {
        if (reused === undefined) await fdWrite(fd, text);
        else await overwrite(fd, Buffer.from(text), reused.size);
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
    this.bakIsOurs = true;
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
   * The .bak's file, renamed to `tmp` and opened for writing (mode made
   * 0600 if it was changed by hand), with its size for the overwrite's cut
   * (one fstat serves both), or undefined when there is none or it cannot be
   * taken (then a new file is made). From the rename until the
   * write's end there is no .bak: state.json, untouched, is the document; a
   * crash then leaves it and the temporary file, which load() removes. A
   * failed write leaves no .bak either; the next write that succeeds makes one.
   */
  private async takeBak(tmp: string): Promise<{ fd: number; size: number } | undefined> {
    try {
      await rename(this.file + '.bak', tmp);
    } catch {
      return undefined;
    }
    try {
      // O_NOFOLLOW: a symbolic link put in the .bak's place is not followed (refused, then a new file).
      const fd = await fdOpen(tmp, constants.O_RDWR | constants.O_NOFOLLOW, 0o600);
      const st = fstatSync(fd);
      if ((st.mode & 0o777) !== 0o600) {
        try {
          await fdChmod(fd, 0o600);
        } catch (err) {
          closeSync(fd);
          throw err;
        }
      }
      return { fd, size: st.size };
    } catch {
      await rm(tmp, { force: true });
      return undefined;
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
const fdOpen = promisify(open) as (path: string, flags: string | number, mode: number) => Promise<number>;
const fdWrite = promisify(writeFd) as (fd: number, data: string) => Promise<void>;
/** write(2) at a position; resolves with the bytes written (util.promisify(write) resolves with an object). */
function fdWriteAt(
  fd: number,
  buf: Buffer,
  offset: number,
  length: number,
  position: number,
): Promise<number> {
  return new Promise((resolve, reject) =>
    write(fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))),
  );
}
const fdTruncate = promisify(ftruncate);
const fdChmod = promisify(fchmod);
const fdSync = promisify(fsync);

/**
 * Replace a file's content with `buf` from its start, through its
 * descriptor, and cut what the old content (`oldSize` bytes, from the
 * caller's fstat) had beyond it.
 */
async function overwrite(fd: number, buf: Buffer, oldSize: number): Promise<void> {
  let done = 0;
  while (done < buf.length) done += await fdWriteAt(fd, buf, done, buf.length - done, done);
  if (oldSize > buf.length) await fdTruncate(fd, buf.length);
}

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

  /**
   * The document on disk, or undefined. The store keeps no copy of it
   * between calls (nor of a saved one after its write): the box holds its
   * document, and a copy here per box was a second copy of every box's
   * state in a lab's memory.
   */
  async load(): Promise<BoxDocument | undefined> {
    this.db.data = null;
    await this.db.read();
    const doc = this.db.data ?? undefined;
    this.db.data = null;
    return doc;
  }

  async save(doc: BoxDocument): Promise<void> {
    this.db.data = doc;
    // Low's write() takes the document when called: it may go at once.
    const written = this.db.write();
    this.db.data = null;
    await written;
  }
}
