/**
 * The Store: where a box's document lives. One owner of persistence; the
 * device sees it only as BoxPersistence.
 *
 * Contract (checked by store.contract.ts against every implementation):
 * - load() returns the last document saved, or undefined for a fresh box;
 * - save() is atomic: after a crash at any moment, load() returns either the
 *   previous or the new document, never a mix or a torn file;
 * - a corrupt document (one that does not parse, or parses but fails the
 *   state check of state-schema.ts: the line names the field) makes load()
 *   throw StoreCorruptError naming the file
 *   (a copy is kept, and the file stays, so every later boot refuses too:
 *   a box never silently starts empty), unless a last good copy exists,
 *   which is then returned (the corrupt file is moved aside for inspection
 *   and the recovery is reported).
 */
import type { BoxDocument } from '../device/model.js';
import type { BoxPersistence } from '../device/ports.js';

export interface Store extends BoxPersistence {
  load(): Promise<BoxDocument | undefined>;
  save(doc: BoxDocument): Promise<void>;
  /** Where the state is, for messages ("memory" for the memory store). */
  readonly location: string;
}

export class StoreCorruptError extends Error {
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`state file ${file} is corrupt (${reason}); a copy was kept as ${file}.corrupt`);
    this.name = 'StoreCorruptError';
  }
}
