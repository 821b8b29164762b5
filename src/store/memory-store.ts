/** A Store in memory, for unit tests and throw-away boxes. Saves deep copies. */
import type { BoxDocument } from '../device/model.js';
import type { Store } from './store.js';

export class MemoryStore implements Store {
  readonly location = 'memory';
  private doc: BoxDocument | undefined;
  /** Number of saves, for tests. */
  saves = 0;
  /** When set, save() rejects with this error (fault injection in tests). */
  failWith: Error | undefined;

  constructor(initial?: BoxDocument) {
    this.doc = initial ? structuredClone(initial) : undefined;
  }

  async load(): Promise<BoxDocument | undefined> {
    return this.doc ? structuredClone(this.doc) : undefined;
  }

  async save(doc: BoxDocument): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.doc = structuredClone(doc);
    this.saves++;
  }
}
