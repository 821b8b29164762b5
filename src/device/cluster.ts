/**
 * The boxes of one cluster in this process. A CLI session on any box reaches
 * the others by box-id (CLI contract). The host replaces a box object when it
 * reloads, so always look boxes up here instead of keeping references.
 *
 * The cluster also remembers its members: a box that stops, crashes or is
 * between two boots stays a member (down), with what was last known of it,
 * until it is removed from the cluster (forget). `show chassis` lists them.
 */
import type { Box } from './box.js';
import { DeviceError } from './errors.js';
import type { BoxIdentity } from './model.js';

/** What the cluster last knew of a member (kept while it is down). */
interface MemberFacts {
  identity: BoxIdentity;
  hostname: string;
  version: string;
}

/** A member of the cluster: its live box when it is up, else what was last known. */
export type Member =
  { boxId: number; state: 'up'; box: Box } | { boxId: number; state: 'down'; last: MemberFacts };

export class Cluster {
  private readonly boxes = new Map<number, Box>();
  private readonly known = new Map<number, MemberFacts>();

  constructor(readonly name: string) {}

  /** Add or replace the box with this box-id. */
  set(box: Box): void {
    this.boxes.set(box.boxId, box);
    this.known.set(box.boxId, { identity: box.identity, hostname: box.hostname, version: box.image.version });
  }

  /** A box left (stopped, crashed, reloading): it stays a member, down, with what was last known of it. */
  delete(boxId: number): void {
    const box = this.boxes.get(boxId);
    if (box)
      this.known.set(boxId, { identity: box.identity, hostname: box.hostname, version: box.image.version });
    this.boxes.delete(boxId);
  }

  /** The box-id is no longer a member (removed from the lab). */
  forget(boxId: number): void {
    this.delete(boxId);
    this.known.delete(boxId);
  }

  /** Every member, up or down, by box-id. */
  members(): Member[] {
    return [...this.known.keys()]
      .sort((a, b) => a - b)
      .map((id): Member => {
        const box = this.boxes.get(id);
        return box
          ? { boxId: id, state: 'up', box }
          : { boxId: id, state: 'down', last: this.known.get(id)! };
      });
  }

  /** The box with this id, or DeviceError('not-found') naming the valid ids. */
  get(boxId: number): Box {
    const b = this.boxes.get(boxId);
    if (!b) {
      const ids = this.ids().join(', ') || 'none';
      throw new DeviceError('not-found', `No box with box-id ${boxId} in the cluster (box-ids: ${ids}).`);
    }
    return b;
  }

  has(boxId: number): boolean {
    return this.boxes.has(boxId);
  }

  ids(): number[] {
    return [...this.boxes.keys()].sort((a, b) => a - b);
  }

  list(): Box[] {
    return this.ids().map((id) => this.boxes.get(id)!);
  }
}
