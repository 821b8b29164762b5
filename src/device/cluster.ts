/**
 * The boxes of one cluster in this process. A CLI session on any box reaches
 * the others by box-id (CLI contract). The host replaces a box object when it
 * reloads, so always look boxes up here instead of keeping references.
 */
import type { Box } from './box.js';
import { DeviceError } from './errors.js';

export class Cluster {
  private readonly boxes = new Map<number, Box>();

  constructor(readonly name: string) {}

  /** Add or replace the box with this box-id. */
  set(box: Box): void {
    this.boxes.set(box.boxId, box);
  }

  /** Remove a box (when a box is stopped or removed from the lab). */
  delete(boxId: number): void {
    this.boxes.delete(boxId);
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
