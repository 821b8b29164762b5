/**
 * The front of the box's http port: answers an ACME validator's http-01
 * fetch (RFC 8555 §8.3) from its connection's first packet, without Node's
 * HTTP server, and hands every other connection to that server with every
 * byte intact. A CA's validator opens a connection per fetch, sends one
 * GET with "Connection: close" and reads until the server closes (Pebble's
 * VA, Boulder's: keep-alives off); Node's HTTP server spent about 70 of the
 * 240 us of CPU such a connection costs (parser, request and response
 * objects, timers), and a lab's CA fetches about three times per
 * certificate (bench/lab-regression).
 *
 * The answer is the bytes Node's server writes for the same request
 * (createHttpHandler: status, Content-Type, Content-Length, Date,
 * Connection: close, the key authorization or the 404 text), then the
 * connection ends, as Node ends it. Only a request that Node would answer
 * in that one way is answered here: the first packet holds exactly one
 * whole request head and nothing after it; `GET` of the challenge path with
 * a token and no query, HTTP/1.1; header lines of a token name and
 * printable ASCII value, at most 100; one Host; one Connection whose value
 * is "close"; no Content-Length, Transfer-Encoding, Expect or Upgrade.
 * Anything else (HEAD, a query, keep-alive, a head split over packets, a
 * body, a stray byte) goes to the HTTP server, which applies its own
 * limits and deadlines from then on.
 */
import { STATUS_CODES, type Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import { PortFront } from './port-front.js';

/** The path of an ACME http-01 answer (RFC 8555 §8.3), the token last. */
export const CHALLENGE_PATH = '/.well-known/acme-challenge/';

/** Key authorizations are base64url tokens (RFC 8555 §8.1); anything else is not ours. */
export const CHALLENGE_TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

/** Longer first packets go to the HTTP server (a validator's GET is about 200 bytes). */
const MAX_FAST_HEAD_BYTES = 4096;
/** Node's HTTP server keeps at most this many headers (server.ts bound()); more goes to it. */
const MAX_FAST_HEADERS = 100;

const REQUEST_LINE = /^GET \/\.well-known\/acme-challenge\/([A-Za-z0-9_-]{1,256}) HTTP\/1\.1$/;
/** name ":" OWS value OWS, the name an RFC 9110 token, the value printable ASCII (no obs-text). */
const HEADER_LINE =
  /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([\x21-\x7e](?:[\x20-\x7e\t]*[\x21-\x7e])?)?[ \t]*$/;
/** Headers that change how Node would read or answer the request: those requests go to it. */
const NOT_FAST = new Set(['content-length', 'transfer-encoding', 'expect', 'upgrade']);

/** What Node's HTTP server writes when a connection has sent no whole request head in time. */
const REQUEST_TIMEOUT = 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n';

/**
 * The token of a request head that the front answers itself (see the file
 * comment for the exact form), or undefined when the HTTP server must read
 * it. `packet` is a connection's first packet, read as latin1.
 */
export function fastChallengeToken(packet: string): string | undefined {
  if (packet.length > MAX_FAST_HEAD_BYTES || !packet.endsWith('\r\n\r\n')) return undefined;
  const lines = packet.slice(0, -4).split('\r\n');
  const m = REQUEST_LINE.exec(lines[0]!);
  if (!m || lines.length - 1 > MAX_FAST_HEADERS) return undefined;
  let hosts = 0;
  let closes = 0;
  for (let i = 1; i < lines.length; i++) {
    const h = HEADER_LINE.exec(lines[i]!);
    if (!h) return undefined;
    const name = h[1]!.toLowerCase();
    if (NOT_FAST.has(name)) return undefined;
    if (name === 'host') hosts++;
    else if (name === 'connection') {
      if ((h[2] ?? '').toLowerCase() !== 'close') return undefined;
      closes++;
    }
  }
  return hosts === 1 && closes === 1 ? m[1] : undefined;
}

/** The http-01 answer for a token: the key authorization, or 404 when the box has none for it. */
export interface ChallengeAnswer {
  status: 200 | 404;
  body: string;
}

/** What the front needs. */
export interface HttpFrontOptions {
  /** The HTTP server that reads every other connection (it does not listen itself). */
  http: HttpServer;
  /** The answer to an http-01 fetch of `token` (a CHALLENGE_TOKEN), looked up per request. */
  answer: (token: string) => ChallengeAnswer;
}

/**
 * The listener of the http port: listen on `server`. Each connection's
 * first packet is read, then answered here or handed to the HTTP server.
 * A connection that sends nothing within the HTTP server's headersTimeout
 * gets its 408, as from the HTTP server.
 */
export class HttpFront extends PortFront {
  /** http-01 fetches answered here, without the HTTP server (for tests and benchmarks). */
  fastAnswers = 0;

  constructor(private readonly o: HttpFrontOptions) {
    super();
  }

  /** Held (in `sockets`) until its first packet is answered here or handed to the HTTP server. */
  protected route(socket: Socket): void {
    const onError = () => socket.destroy();
    socket.on('error', onError);
    const deadline = setTimeout(() => socket.end(REQUEST_TIMEOUT), this.o.http.headersTimeout);
    deadline.unref();
    socket.once('close', () => clearTimeout(deadline));
    socket.once('data', (chunk: Buffer) => {
      // Nothing more is read until the HTTP server has the socket (or the answer has ended it).
      socket.pause();
      clearTimeout(deadline);
      const token = fastChallengeToken(chunk.toString('latin1'));
      if (token !== undefined) {
        this.fastAnswers++;
        socket.end(answerBytes(this.o.answer(token)));
        return;
      }
      socket.off('error', onError);
      this.sockets.delete(socket);
      // Give the bytes back: the HTTP server reads what is buffered before the socket's new data.
      socket.unshift(chunk);
      this.o.http.emit('connection', socket);
      socket.resume();
    });
    socket.resume();
  }
}

/** The bytes Node's HTTP server writes for createHttpHandler's answer to a GET with "Connection: close". */
function answerBytes(a: ChallengeAnswer): Buffer {
  const body = Buffer.from(a.body, 'utf8');
  return Buffer.concat([
    Buffer.from(
      `HTTP/1.1 ${a.status} ${STATUS_CODES[a.status]}\r\n` +
        'Content-Type: text/plain; charset=utf-8\r\n' +
        `Content-Length: ${body.length}\r\n` +
        `Date: ${new Date().toUTCString()}\r\n` +
        'Connection: close\r\n\r\n',
      'latin1',
    ),
    body,
  ]);
}
