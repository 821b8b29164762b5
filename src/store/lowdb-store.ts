/**
 * A Store in one JSON file per box, through lowdb with an atomic adapter:
 * write a temporary file (mode 0600, since it holds private keys), fsync it,
 * keep the current file as state.json.bak, rename the temporary file over
 * state.json, fsync the directory. A crash at any point leaves state.json
 * (old or new) or, between the two renames, only the .bak (old), which load()
 * falls back to.
 */
import { mkdir, open, readFile, rename, rm, copyFile, chmod } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Low, type Adapter } from 'lowdb';
import type { BoxDocument } from '../device/model.js';
import { StoreCorruptError, type Store } from './store.js';

class AtomicJsonFile implements Adapter<BoxDocument> {
  private seq = 0;
  constructor(private readonly file: string) {}

  async read(): Promise<BoxDocument | null> {
    const main = await readIfExists(this.file);
    if (main !== undefined) {
      try {
        return parseDocument(main);
      } catch (err) {
        const bak = await readIfExists(this.file + '.bak');
        await copyFile(this.file, this.file + '.corrupt');
        if (bak !== undefined) {
          try {
            return parseDocument(bak);
          } catch {
            // fall through: both are bad
          }
        }
        throw new StoreCorruptError(this.file, (err as Error).message);
      }
    }
    const bak = await readIfExists(this.file + '.bak');
    return bak === undefined ? null : parseDocument(bak);
  }

  async write(data: BoxDocument): Promise<void> {
    const dir = dirname(this.file);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp-${process.pid}-${this.seq++}`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(data));
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      try {
        await rename(this.file, this.file + '.bak');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      await rename(tmp, this.file);
      // 0600 even if the file existed with another mode (umask, older version).
      await chmod(this.file, 0o600);
      await syncDir(dir);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
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

function parseDocument(text: string): BoxDocument {
  const doc = JSON.parse(text) as BoxDocument;
  if (!doc || doc.schema !== 1 || !doc.identity || !doc.config || !doc.crypto) throw new Error('not a gvos-sim box document');
  return doc;
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export class LowdbStore implements Store {
  readonly location: string;
  private readonly db: Low<BoxDocument | null>;

  /** `dataDir` holds state.json (and its .bak); created 0700 when missing. */
  constructor(dataDir: string) {
    this.location = join(dataDir, 'state.json');
    this.db = new Low<BoxDocument | null>(new AtomicJsonFile(this.location) as Adapter<BoxDocument | null>, null);
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
