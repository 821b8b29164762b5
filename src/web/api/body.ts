/**
 * Reading a JSON request body with a size limit. Written here (about fifty
 * lines) instead of a body-parser package so that every refusal is a
 * problem+json with a stable code and a message that says what to do.
 */
import type Koa from 'koa';
import { WebError } from './problem.js';

/** Largest JSON body the API reads (a PEM of 64 KiB plus its JSON escaping fits). */
export const MAX_JSON_BYTES = 128 * 1024;

/**
 * Deepest nesting of arrays and objects a body may have. No request of the API nests beyond a few
 * levels; a bound keeps every later walk of the value (validation, error ordering) off deep
 * recursion, which a body of 60,000 brackets would otherwise turn into a stack overflow (a 500).
 */
export const MAX_JSON_DEPTH = 32;

/** How a body is read beyond the size limit. */
export interface BodyOptions {
  /** Read a body without a Content-Type as JSON (the lab's clients send none); otherwise 415. */
  untypedIsJson?: boolean;
  /** The whole body must arrive within this many ms, or the answer is 400 and the connection closes. */
  deadlineMs?: number;
}

/** True when the request announces a body (RFC 9112 §6.3: Content-Length > 0 or a Transfer-Encoding). */
export function hasBody(ctx: Koa.Context): boolean {
  const len = ctx.get('Content-Length');
  return (len !== '' && len !== '0') || ctx.get('Transfer-Encoding') !== '';
}

/**
 * The parsed JSON body, or undefined when the request has none. Throws
 * WebError: 415 unless the type is application/json (or +json), 413 when the
 * body is larger than `limitBytes` (refused from Content-Length before
 * reading, or as soon as the stream passes the limit), 400 for bytes that are
 * not UTF-8 or text that is not JSON, or a body slower than `o.deadlineMs`.
 */
export async function readJsonBody(
  ctx: Koa.Context,
  limitBytes = MAX_JSON_BYTES,
  o: BodyOptions = {},
): Promise<unknown> {
  if (!hasBody(ctx)) return undefined;
  const type = ctx.get('Content-Type').split(';')[0]!.trim().toLowerCase();
  const untyped = type === '' && o.untypedIsJson === true;
  if (!untyped && type !== 'application/json' && !/^application\/[a-z0-9.+-]+\+json$/.test(type)) {
    throw new WebError(
      'unsupported-media-type',
      `The request body must be JSON: send "Content-Type: application/json"${type ? `, not ${type.slice(0, 60)}` : ''}.`,
    );
  }
  // Connection: close, so that Node discards the rest of the body and then drops the socket
  // instead of reading a huge upload into a kept-alive connection.
  const tooLarge = () =>
    new WebError(
      'payload-too-large',
      `The request body is too large: at most ${limitBytes / 1024} KiB of JSON.`,
      { Connection: 'close' },
    );
  const declared = Number(ctx.get('Content-Length') || '0');
  if (declared > limitBytes) throw tooLarge();

  const chunks: Buffer[] = [];
  let size = 0;
  const read = (async () => {
    for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limitBytes) throw tooLarge();
      chunks.push(chunk);
    }
  })();
  if (o.deadlineMs === undefined) await read;
  else {
    // A client that trickles its body must not hold a connection open: answer, then close it.
    read.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new WebError(
              'bad-input',
              `The request body did not arrive within ${o.deadlineMs! / 1000} s; send it at once.`,
              { Connection: 'close' },
            ),
          ),
        o.deadlineMs,
      );
    });
    try {
      await Promise.race([read, late]);
    } finally {
      clearTimeout(timer);
    }
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new WebError('bad-input', 'The request body is not valid UTF-8 text.');
  }
  if (text.trim() === '') return undefined;
  if (jsonDepth(text) > MAX_JSON_DEPTH) {
    throw new WebError(
      'bad-input',
      `The request body nests arrays or objects too deeply: at most ${MAX_JSON_DEPTH} levels.`,
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new WebError(
      'bad-input',
      `Malformed JSON in the request body (${(e as Error).message.slice(0, 120)}); send one JSON object.`,
    );
  }
}

/** The deepest bracket nesting of JSON text, brackets inside strings not counted. One pass, no recursion. */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // a backslash escapes the next character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}
