/**
 * Follows the lab's snmptrapd log (one line per notification, the format of
 * snmp/trapd-launcher.ts) and hands each new notification on, decoded: the
 * lab publishes them on its event bus as `trap` events.
 *
 * Contract: every complete line appended after start() is parsed once, in
 * order; a line still being written waits for its newline. The log is read
 * by polling its size (a stat every `intervalMs`): inotify would miss
 * nothing either, but a poll also works on any file system and its timer is
 * unref'd, so it never keeps the process up. stop() ends the polling and
 * resolves after a read in progress is over.
 */
import { open, stat } from 'node:fs/promises';
import { parseTrapdLine, type ReceivedNotification } from '../snmp/trapd-launcher.js';

/** How often the log's size is checked: a trap shows in the feed within this. */
const DEFAULT_INTERVAL_MS = 200;
/** At most this much of the log is read per poll (a burst of traps is read over several polls). */
const MAX_READ_BYTES = 1024 * 1024;

/** Follows one trap log (see the file comment). */
export class TrapLogTail {
  private offset = 0;
  /** Bytes after the last newline read (split on bytes, so a UTF-8 character cut by a read stays whole). */
  private partial = Buffer.alloc(0);
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly file: string,
    private readonly onTrap: (n: ReceivedNotification) => void,
    private readonly intervalMs = DEFAULT_INTERVAL_MS,
  ) {}

  /** Start following from byte `fromOffset`, by default the log's current end (what is there was before). */
  async start(fromOffset?: number): Promise<void> {
    this.offset =
      fromOffset ??
      (await stat(this.file).then(
        (s) => s.size,
        () => 0,
      ));
    this.schedule();
  }

  /** Stop following (idempotent). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.reading;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.reading = this.poll().finally(() => {
        this.reading = undefined;
        this.schedule();
      });
    }, this.intervalMs);
    this.timer.unref();
  }

  private async poll(): Promise<void> {
    const size = await stat(this.file).then(
      (s) => s.size,
      () => -1,
    );
    if (size < 0) return;
    // Truncated or replaced (a new lab with the same name): start over.
    if (size < this.offset) {
      this.offset = 0;
      this.partial = Buffer.alloc(0);
    }
    if (size === this.offset) return;
    const fh = await open(this.file, 'r');
    try {
      const want = Math.min(size - this.offset, MAX_READ_BYTES);
      const buf = Buffer.alloc(want);
      const { bytesRead } = await fh.read(buf, 0, want, this.offset);
      this.offset += bytesRead;
      const data = Buffer.concat([this.partial, buf.subarray(0, bytesRead)]);
      const end = data.lastIndexOf(0x0a);
      this.partial = data.subarray(end + 1);
      if (end < 0) return;
      for (const line of data.subarray(0, end).toString('utf8').split('\n')) {
        if (this.stopped) return;
        const n = parseTrapdLine(line);
        if (n) this.onTrap(n);
      }
    } finally {
      await fh.close();
    }
  }
}

/** "UDP: [127.0.0.1]:40000->[127.0.0.1]:16200" -> "127.0.0.1:40000" (the transport text when it is not UDP). */
export function trapSource(transport: string): string {
  const m = /\[([^\]]+)\]:(\d+)->/.exec(transport);
  return m ? `${m[1]}:${m[2]}` : transport;
}
