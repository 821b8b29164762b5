/**
 * The box's ACME status as a server-sent event stream (GET /api/v1/acme/events),
 * so the web GUI shows a change made from anywhere (CLI, REST, the lab's
 * fleet commands, the renewal timer) without reloading or polling.
 *
 * Contract: the stream starts with one `acme` event carrying the status
 * (the body of GET /api/v1/acme) and sends another after each change of the
 * box's ACME state (a request started or finished, a certificate issued,
 * renewed, revoked, cleared, or the web certificate swapped), coalesced
 * within 50 ms; `: keepalive` every 15 s. It ends after 10 minutes (the
 * client reconnects, and its credentials are checked again), when the client
 * goes, or when the box object is replaced (reload: its emitter is cleared;
 * the GUI reconnects to the new one). At most MAX_STREAMS per box at once;
 * beyond that the box answers busy (409).
 */
import { PassThrough } from 'node:stream';
import type Koa from 'koa';
import type { Box } from '../../device/box.js';
import { DeviceError } from '../../device/errors.js';
import type { DeviceEvents } from '../../device/events.js';
import { acmeJson } from './views.js';

/** Streams one box serves at once. */
const MAX_STREAMS = 32;
const KEEPALIVE_MS = 15_000;
const LIFETIME_MS = 10 * 60_000;
const COALESCE_MS = 50;

/** The events after which the ACME status may read differently. */
const CHANGES: (keyof DeviceEvents)[] = [
  'acme-request-started',
  'acme-request-finished',
  'certificate-issued',
  'certificate-renewed',
  'certificate-renewal-failed',
  'certificate-revoked',
  'certificate-cleared',
  'web-certificate-changed',
];

/** Open streams of one app (one box). */
export interface StreamCount {
  open: number;
}

/** Answer `ctx` with the stream (see the file comment). */
export function streamAcme(ctx: Koa.Context, box: Box, streams: StreamCount): void {
  if (streams.open >= MAX_STREAMS)
    throw new DeviceError(
      'busy',
      `Too many status streams open (${MAX_STREAMS}); close a GUI tab and retry.`,
    );
  streams.open++;
  const out = new PassThrough();
  ctx.status = 200;
  ctx.type = 'text/event-stream';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = out;
  let pending: NodeJS.Timeout | undefined;
  const send = () => {
    pending = undefined;
    out.write(`event: acme\ndata: ${JSON.stringify(acmeJson(box))}\n\n`);
  };
  const changed = () => (pending ??= setTimeout(send, COALESCE_MS));
  const offs = CHANGES.map((e) => box.events.on(e, changed));
  const keepalive = setInterval(() => out.write(': keepalive\n\n'), KEEPALIVE_MS);
  const lifetime = setTimeout(() => end(), LIFETIME_MS);
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    streams.open--;
    for (const off of offs) off();
    clearTimeout(pending);
    clearInterval(keepalive);
    clearTimeout(lifetime);
    out.end();
  };
  ctx.req.once('close', end);
  ctx.res.once('close', end);
  out.write('retry: 1000\n\n');
  send();
}
