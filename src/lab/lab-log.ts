/**
 * The lab's log file (lab.log): the JSON lines of the lab and its boxes, on
 * one descriptor opened for the process's life, written in batches.
 *
 * Why batches: `lab up` logs at info, about five lines per certificate, and a
 * synchronous write per line was a system call per line on the path.
 * Lines wait at most FLUSH_MS (or until FLUSH_BYTES are waiting) and are
 * written in one call, in order. Nothing is lost when the process ends: the
 * waiting lines are written synchronously on the process's 'exit' event
 * (a normal end, process.exit(), an uncaught exception or rejection) and by
 * the lab's own SIGINT/SIGTERM handler (lab-up.ts calls flush()). Only a
 * SIGKILL (or a crash of Node itself) loses what waits: at most FLUSH_MS.
 */
import { openSync, writeSync } from 'node:fs';
import { JsonLogger, type LogLevel, type Logger } from '../lib/logger.js';

/** How long a line may wait before it is written (a `tail -f lab.log` sees it this late at most). */
const FLUSH_MS = 100;
/** Waiting bytes (UTF-16 units, about bytes for these ASCII-escaped lines) that are written at once. */
export const FLUSH_BYTES = 64 * 1024;

/** Every open lab log's flush, run by one 'exit' listener (a bench opens one per lab run). */
const atExit = new Set<() => void>();

function onExit(flush: () => void): void {
  if (atExit.size === 0) process.on('exit', () => atExit.forEach((f) => f()));
  atExit.add(flush);
}

/** The lab's logger and the file it writes. */
export interface LabLog {
  readonly logger: Logger;
  readonly file: string;
  /** Write every waiting line now, synchronously (signal handlers; tests). */
  flush(): void;
}

/**
 * Open `file` for appending (created if missing) and return the logger that
 * `gvos-sim lab up` uses: JSON lines at `level`, each with `base`'s fields.
 * The descriptor is never closed here, so a late line can never land in
 * whatever file would reuse it (it ends with the process).
 */
export function openLabLog(file: string, level: LogLevel, base: Record<string, unknown>): LabLog {
  // Opened once for the process's life: opening and closing it for every line was a share of a large
  // lab's start (about ten lines per box).
  const fd = openSync(file, 'a');
  let waiting: string[] = [];
  let size = 0;
  let timer: NodeJS.Timeout | undefined;
  const flush = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (waiting.length === 0) return;
    const buf = Buffer.from(waiting.join('\n') + '\n');
    waiting = [];
    size = 0;
    // writeSync may write part of a large buffer: the rest follows, so no line is cut or lost.
    for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off);
  };
  const sink = (line: string): void => {
    waiting.push(line);
    size += line.length + 1;
    if (size >= FLUSH_BYTES) flush();
    // Unref'd: a pending flush never keeps the process alive; the 'exit' handler writes what waits.
    else timer ??= setTimeout(flush, FLUSH_MS).unref();
  };
  onExit(flush);
  return { logger: new JsonLogger(level, base, sink), file, flush };
}
