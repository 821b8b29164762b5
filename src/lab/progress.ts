/**
 * How `lab up` and the fleet operations show progress: a live table on a
 * terminal (redrawn in place, at most every 100 ms), plain lines otherwise
 * (logs, CI, pipes), each with the time since the start.
 */
import type { LabProgress } from './lab.js';

/** Plain lines: `[  1.2s] box 3 gigavue-3: issue...`. */
export class LineProgress implements LabProgress {
  private readonly t0 = Date.now();
  constructor(private readonly write: (s: string) => void) {}
  private stamp(): string {
    return `[${((Date.now() - this.t0) / 1000).toFixed(1).padStart(5)}s]`;
  }
  phase(message: string): void {
    this.write(`${this.stamp()} ${message}\n`);
  }
  box(boxId: number, hostname: string, state: string): void {
    this.write(`${this.stamp()} box ${boxId} ${hostname}: ${state}\n`);
  }
}

/** A table of boxes redrawn in place with ANSI cursor moves (TTY only). */
export class LiveTableProgress implements LabProgress {
  private readonly t0 = Date.now();
  private readonly rows = new Map<number, { hostname: string; state: string }>();
  private phaseText = '';
  private drawnLines = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly write: (s: string) => void) {}

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
    const lines = [
      `${this.phaseText} (${secs} s)`,
      ...[...this.rows.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([id, r]) => `  ${String(id).padStart(3)}  ${r.hostname.padEnd(24)} ${r.state}`),
    ];
    let out = this.drawnLines > 0 ? `\x1b[${this.drawnLines}A` : '';
    for (const l of lines) out += `\x1b[2K${l.slice(0, 160)}\n`;
    this.drawnLines = lines.length;
    this.write(out);
  }
}
