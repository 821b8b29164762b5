/**
 * What a koa app does with an error that reaches it after the answer began
 * (koa emits them on the app). Koa's default listener prints each one's stack
 * on stderr, which is where the lab's presenter reads the event feed: a page
 * closing its server-sent-event stream (ERR_STREAM_PREMATURE_CLOSE) printed a
 * stack every time.
 */
import type Koa from 'koa';
import type { Logger } from '../lib/logger.js';

/** Codes of a client that went away mid-answer: normal for a stream, nothing to report. */
const CLIENT_GONE = new Set(['ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/**
 * Replace koa's default error printing on `app`: a client that went away is
 * ignored; anything else becomes one `error` line on `logger` (message only,
 * no stack: a stack can carry request data).
 */
export function reportAppErrors(app: Koa, logger: Logger): void {
  // Koa emits a failed body stream's error twice (the stream's own 'error' and the pipeline's end): one line.
  const seen = new WeakSet<object>();
  app.on('error', (err: unknown) => {
    const code = (err as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && CLIENT_GONE.has(code)) return;
    if (typeof err === 'object' && err !== null) {
      if (seen.has(err)) return;
      seen.add(err);
    }
    logger.error('web answer failed', { err: err instanceof Error ? err.message : String(err) });
  });
}
