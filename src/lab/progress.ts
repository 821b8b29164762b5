/**
 * How `lab up` and the fleet operations show progress: a live table on a
 * terminal (redrawn in place, at most every 100 ms), plain lines otherwise
 * (logs, CI, pipes), each with the time since the start.
 */
import type { LabProgress } from './lab.js';

/**
 * Plain lines: `[  1.2s] box 3 gigavue-3: issue...`. A phase line is written
 * at once (with the box lines before it); box lines are gathered and
 * written together at most `flushMs` later (three lines per box, one write
 * each, were a share of a 3000-box start's CPU on a pipe). finish() writes
 * what is left; call it before printing anything else.
 */
export class LineProgress implements LabProgress {
  private readonly t0 = Date.now();
  private pending = '';
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly write: (s: string) => void,
    private readonly flushMs = 100,
  ) {}
  private stamp(): string {
    return `[${((Date.now() - this.t0) / 1000).toFixed(1).padStart(5)}s]`;
  }
  phase(message: string): void {
    this.pending += `${this.stamp()} ${message}\n`;
    this.finish();
  }
  box(boxId: number, hostname: string, state: string): void {
    this.pending += `${this.stamp()} box ${boxId} ${hostname}: ${state}\n`;
    if (!this.timer) {
      this.timer = setTimeout(() => this.finish(), this.flushMs);
      this.timer.unref();
    }
  }
  /** Write the lines not yet written. */
  finish(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.pending) return;
    const out = this.pending;
    this.pending = '';
    this.write(out);
  }
}

/**
 * A table of boxes redrawn in place with ANSI cursor moves (TTY only).
 * Contract: a draw is at most `maxLines` lines (the terminal's height): a
 * cursor move cannot reach above the screen, and redrawing 10,000 rows ten
 * times a second cost the start of a large lab more than its boxes did. When
 * the boxes do not fit, one line counts them per state and the rows shown
 * are the boxes still at work or failed (lowest box-id first; a box that is
 * `running` or whose operation ended `: ok` is only counted).
 */
export class LiveTableProgress implements LabProgress {
  private readonly t0 = Date.now();
  private readonly rows = new Map<number, { hostname: string; state: string }>();
  private phaseText = '';
  private drawnLines = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly write: (s: string) => void,
    private readonly maxLines = 24,
  ) {}

  phase(message: string): void {
    this.phaseText = message;
    this.schedule();
  }

  box(boxId: number, hostname: string, state: string): void {
    this.rows.set(boxId, { hostname, state });
    this.schedule();
  }

  /** Draw the last state and stop redrawing (before the final table is printed). */
  finish(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.draw();
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.draw();
    }, 100);
  }

  private draw(): void {
    const secs = ((Date.now() - this.t0) / 1000).toFixed(1);
    const row = ([id, r]: [number, { hostname: string; state: string }]) =>
      `  ${String(id).padStart(3)}  ${r.hostname.padEnd(24)} ${r.state}`;
    const lines = [`${this.phaseText} (${secs} s)`];
    const room = Math.max(this.maxLines - 2, 1);
    if (this.rows.size <= room) {
      lines.push(...[...this.rows.entries()].sort((a, b) => a[0] - b[0]).map(row));
    } else {
      const counts = new Map<string, number>();
      const busy: [number, { hostname: string; state: string }][] = [];
      for (const e of this.rows) {
        counts.set(e[1].state, (counts.get(e[1].state) ?? 0) + 1);
        if (e[1].state !== 'running' && !e[1].state.endsWith(': ok')) busy.push(e);
      }
      lines.push(`  ${this.rows.size} boxes: ${[...counts].map(([state, n]) => `${n} ${state}`).join(', ')}`);
      lines.push(
        ...busy
          .sort((a, b) => a[0] - b[0])
          .slice(0, room - 1)
          .map(row),
      );
    }
    let out = this.drawnLines > 0 ? `\x1b[${this.drawnLines}A` : '';
    for (const l of lines) out += `\x1b[2K${l.slice(0, 160)}\n`;
    // Fewer lines than the last draw (boxes done): clear what is left of it below.
    if (lines.length < this.drawnLines) out += '\x1b[J';
    this.drawnLines = lines.length;
    this.write(out);
  }
}
