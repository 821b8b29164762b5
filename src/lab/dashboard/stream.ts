/**
 * The dashboard's live stream (GET /v1/dashboard/stream, server-sent
 * events): the whole fleet once, then only what changed, pushed by the lab
 * as it happens, so an event costs the page no request of its own.
 *
 * Why server-side: the page used to hear an event, wait for the burst to
 * settle, then ask for the rows it named. Under load every one of those
 * steps waits for the lab's busy event loop, and the page redrew the whole
 * view per answer. Now an event marks its box dirty; as soon as the lab's
 * current work is done (a burst published in one go is one message), and
 * then at most once every `flushMs`, the stream reads the dirty boxes' rows,
 * compares them with what
 * it last sent this page and sends one message with only the fields that
 * differ (a renewal: serial, expiry, next renewal, last request) and the
 * events for the feed. The page applies a message in one animation frame.
 *
 * Contract (DashboardFeed):
 * - the first message is `whole`: every box's row and the last `history`
 *   events (or the events after `afterSeq`, a reconnecting page's
 *   Last-Event-ID, at most `history` of them);
 * - after it, every message carries `seq`, the newest event it includes;
 *   each row in it is a patch: `boxId` and the fields that changed since the
 *   previous message; `removed` lists boxes no longer in the lab; a box whose
 *   row did not change sends nothing; events with no box change no row;
 * - changes no event announces (a certificate that becomes `expiring` as time
 *   passes) are found by a sweep of every row every `sweepMs`;
 * - close() unsubscribes and clears its timers: nothing outlives the stream.
 */
import type { LabEvent } from '../lab-events.js';
import type { DashboardRow } from './rows.js';

/** Dirty boxes are read and sent at most this often (the first change after a quiet spell at once). */
const DASHBOARD_FLUSH_MS = 50;
/** Every row is compared this often, for what changes with time alone. */
const SWEEP_MS = 10_000;
/** Events shown from before the page opened. */
const HISTORY = 50;
/**
 * At most this many events wait for one message: the page's feed keeps fewer,
 * so a burst beyond it drops the oldest (`skipped` says how many).
 */
const MAX_EVENTS_PER_MESSAGE = 500;

/** A row as a patch: the box and the fields that changed. */
type DashboardPatch = Pick<DashboardRow, 'boxId'> & Partial<DashboardRow>;

/** One message of the stream (the `data:` of an SSE `dashboard` event). */
export interface DashboardMessage {
  /** The newest lab event this message includes (0: none yet). */
  seq: number;
  /** true: `rows` are every box, whole (the first message); false: patches. */
  whole: boolean;
  rows: DashboardPatch[];
  /** Boxes gone from the lab since the previous message. */
  removed: number[];
  /** Lab events for the feed, oldest first. */
  events: LabEvent[];
  /** Events of a burst not sent (the oldest of it), so the feed can say so. */
  skipped: number;
}

/** What the stream reads: the lab's event bus and its rows (the Lab in the plane; a stand-in in tests). */
export interface DashboardSource {
  events: {
    readonly lastSeq: number;
    since(seq: number): LabEvent[];
    subscribe(fn: (e: LabEvent) => void): () => void;
  };
  /** Every box-id, ascending. */
  ids(): number[];
  /** The row of a box, or undefined when it is no longer in the lab. */
  row(boxId: number): DashboardRow | undefined;
}

const FIELDS_EQUAL = (a: unknown, b: unknown): boolean =>
  Array.isArray(a) && Array.isArray(b) ? a.length === b.length && a.every((x, i) => x === b[i]) : a === b;

/** One page's stream (see the file comment). */
export class DashboardFeed {
  /** What this page has, per box: the last row sent. */
  private readonly sent = new Map<number, DashboardRow>();
  private readonly dirty = new Set<number>();
  private pending: LabEvent[] = [];
  private skipped = 0;
  private seq: number;
  private flushTimer: NodeJS.Timeout | undefined;
  /** When the last message went (performance.now()). */
  private lastFlush = -Infinity;
  private readonly sweepTimer: NodeJS.Timeout;
  private readonly off: () => void;
  private closed = false;
  private readonly flushMs: number;

  constructor(
    private readonly source: DashboardSource,
    private readonly send: (m: DashboardMessage) => void,
    o: { afterSeq?: number; flushMs?: number; sweepMs?: number } = {},
  ) {
    this.flushMs = o.flushMs ?? DASHBOARD_FLUSH_MS;
    const last = source.events.lastSeq;
    const from = Math.max(o.afterSeq ?? 0, last - HISTORY, 0);
    const history = source.events.since(from);
    this.seq = last;
    const rows: DashboardRow[] = [];
    for (const id of source.ids()) {
      const r = source.row(id);
      if (!r) continue;
      rows.push(r);
      this.sent.set(id, r);
    }
    // The bus is synchronous: nothing is published between reading the rows and subscribing.
    this.off = source.events.subscribe((e) => this.take(e));
    this.send({ seq: last, whole: true, rows, removed: [], events: history, skipped: 0 });
    this.sweepTimer = setInterval(() => this.sweep(), o.sweepMs ?? SWEEP_MS);
    this.sweepTimer.unref();
  }

  /** Stop (idempotent): no listener or timer left. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.off();
    clearTimeout(this.flushTimer);
    clearInterval(this.sweepTimer);
  }

  private take(e: LabEvent): void {
    this.pending.push(e);
    if (this.pending.length > MAX_EVENTS_PER_MESSAGE) {
      this.pending.shift();
      this.skipped++;
    }
    this.seq = e.seq;
    if (e.boxId !== null) this.dirty.add(e.boxId);
    this.flushTimer ??= setTimeout(
      () => this.flush(),
      Math.max(0, this.lastFlush + this.flushMs - performance.now()),
    );
  }

  /** Every box dirty: what changed with time alone goes out with the next message. */
  private sweep(): void {
    for (const id of this.source.ids()) this.dirty.add(id);
    for (const id of this.sent.keys()) this.dirty.add(id);
    this.flush();
  }

  private flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.closed) return;
    this.lastFlush = performance.now();
    const rows: DashboardPatch[] = [];
    const removed: number[] = [];
    for (const id of this.dirty) {
      const now = this.source.row(id);
      const before = this.sent.get(id);
      if (!now) {
        if (before) {
          removed.push(id);
          this.sent.delete(id);
        }
        continue;
      }
      this.sent.set(id, now);
      if (!before) {
        rows.push(now);
        continue;
      }
      const patch: DashboardPatch = { boxId: id };
      let changed = false;
      for (const k of Object.keys(now) as (keyof DashboardRow)[]) {
        if (FIELDS_EQUAL(now[k], before[k])) continue;
        (patch as Record<string, unknown>)[k] = now[k];
        changed = true;
      }
      if (changed) rows.push(patch);
    }
    this.dirty.clear();
    const events = this.pending;
    const skipped = this.skipped;
    this.pending = [];
    this.skipped = 0;
    if (rows.length === 0 && removed.length === 0 && events.length === 0) return;
    this.send({ seq: this.seq, whole: false, rows, removed, events, skipped });
  }
}
