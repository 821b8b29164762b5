/**
 * A small HTTP/1.1 client over kept-alive TLS connections: what the ACME
 * transport needs of HTTPS and no more (one request per connection at a
 * time, Content-Length or chunked bodies, no redirects, no proxies).
 *
 * Why not node:https: an ACME client of a thousand boxes in one process
 * sends about ten small requests per certificate, and Node's generic client
 * (ClientRequest, OutgoingMessage, IncomingMessage streams, the Agent's
 * bookkeeping, a corked writev per request) cost the simulator more CPU per
 * request than the CA spent answering it (bench/lab-regression's profile).
 * Here a request is one write of one buffer and its answer is parsed from
 * the socket's chunks in place.
 *
 * TLS is node:tls with the caller's SecureContext and Node's own
 * verification (rejectUnauthorized stays true: the chain against the
 * context's CAs, the name against the URL's host), exactly what https.Agent
 * does; sessions are resumed per server as the Agent does.
 */
import { isIP, type LookupFunction } from 'node:net';
import { connect as tlsConnect, type SecureContext, type TLSSocket } from 'node:tls';

/** The head of a response larger than this is refused (Node's default --max-http-header-size is 16 KiB). */
const MAX_HEAD_BYTES = 16 * 1024;

/** Response headers Node's client keeps once (the first wins); others repeated are joined with ", ". */
const SINGLE = new Set([
  'age',
  'authorization',
  'content-length',
  'content-type',
  'etag',
  'expires',
  'from',
  'host',
  'if-modified-since',
  'if-unmodified-since',
  'last-modified',
  'location',
  'max-forwards',
  'proxy-authorization',
  'referer',
  'retry-after',
  'server',
  'user-agent',
]);

/** A parsed response: lower-case header names, the body whole. */
export interface Http1Response {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** One request to send; Host and Content-Length are added here (a caller's are left out). */
export interface Http1RequestOptions {
  /** The URL's host name (an IPv6 address without brackets) and port. */
  hostname: string;
  port: number;
  /** The Host header: the URL's host (with brackets and a non-default port). */
  hostHeader: string;
  method: string;
  /** Path and query, as the URL gives them (already percent-encoded). */
  path: string;
  headers: Record<string, string | number>;
  body?: Buffer;
  /** A body longer than this ends the request with `tooLarge()`. */
  maxBodyBytes: number;
  tooLarge: () => Error;
  /** Called once the status line and headers have arrived. */
  onHead?: () => void;
}

function hangUp(): Error {
  return Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
}

function protocolError(message: string): Error {
  return Object.assign(new Error(message), { code: 'HPE_INVALID' });
}

/** One exchange on one connection; ends once, by its answer or by `destroy`. */
export class Http1Request {
  /** Settles with the answer, or with the error that ended the request. */
  readonly done: Promise<Http1Response>;
  private resolve!: (r: Http1Response) => void;
  private reject!: (e: Error) => void;
  private settled = false;
  private socket: TLSSocket | undefined;

  constructor(readonly host: string) {
    this.done = new Promise<Http1Response>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  /** End the request and its connection (never reused) with `err`; after the answer was read whole, nothing (the connection is back in the pool). */
  destroy(err: Error): void {
    if (this.settled) return;
    this.socket?.destroy();
    this.fail(err);
  }

  /** @internal */
  attach(socket: TLSSocket): void {
    this.socket = socket;
  }

  /** @internal */
  fail(err: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.reject(err);
  }

  /** @internal */
  succeed(r: Http1Response): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.resolve(r);
    return true;
  }

  /** @internal */
  get ended(): boolean {
    return this.settled;
  }
}

/**
 * Kept-alive TLS connections to HTTPS servers, per host and port, with the
 * TLS session of each server kept for resumption. Connections are made on
 * demand, without a bound (the caller's gate bounds the requests in flight);
 * an idle one closes after `idleMs`.
 */
export class Http1Pool {
  private readonly idle = new Map<string, TLSSocket[]>();
  private readonly sessions = new Map<string, Buffer>();
  private readonly open = new Set<TLSSocket>();
  /** Connections waiting in `idle` (their idle timer runs). */
  private readonly resting = new WeakSet<TLSSocket>();

  constructor(
    private readonly context: SecureContext,
    private readonly lookup: LookupFunction,
    private readonly idleMs: number,
  ) {}

  /** Connections open now, idle or busy (tests, diagnostics). */
  get connections(): number {
    return this.open.size;
  }

  /** Send `o` on an idle connection to its server, else on a new one. */
  request(o: Http1RequestOptions): Http1Request {
    const req = new Http1Request(o.hostname);
    const key = `${o.hostname}\0${o.port}`;
    let head = `${o.method} ${o.path} HTTP/1.1\r\nHost: ${o.hostHeader}\r\n`;
    for (const name in o.headers) {
      // Framing is this client's: a caller's Host or Content-Length would make two.
      const lower = name.toLowerCase();
      if (lower === 'host' || lower === 'content-length' || lower === 'transfer-encoding') continue;
      const v = String(o.headers[name]);
      if (/[\r\n]/.test(v)) {
        req.fail(protocolError(`invalid character in the ${name} header`));
        return req;
      }
      head += `${name}: ${v}\r\n`;
    }
    if (o.body) head += `Content-Length: ${o.body.length}\r\n`;
    head += '\r\n';
    const bytes = o.body
      ? Buffer.concat(
          [Buffer.from(head, 'latin1'), o.body],
          Buffer.byteLength(head, 'latin1') + o.body.length,
        )
      : Buffer.from(head, 'latin1');
    const socket = this.takeIdle(key) ?? this.connect(key, o.hostname, o.port);
    req.attach(socket);
    this.exchange(socket, key, req, o, bytes);
    return req;
  }

  /** Close every idle connection (a request still running keeps its own). */
  closeIdle(): void {
    for (const list of this.idle.values()) for (const s of list) s.destroy();
    this.idle.clear();
  }

  /** Close every connection, idle or busy. */
  destroy(): void {
    this.closeIdle();
    for (const s of this.open) s.destroy();
    this.open.clear();
  }

  private takeIdle(key: string): TLSSocket | undefined {
    const list = this.idle.get(key);
    while (list && list.length > 0) {
      const s = list.pop()!;
      this.resting.delete(s);
      if (!s.destroyed) {
        s.setTimeout(0);
        s.removeListener('data', idleData);
        return s;
      }
    }
    return undefined;
  }

  private connect(key: string, hostname: string, port: number): TLSSocket {
    const s = tlsConnect({
      host: hostname,
      port,
      // SNI and the name check: the host name; an address is checked against the certificate's IP SANs.
      ...(isIP(hostname) ? {} : { servername: hostname }),
      secureContext: this.context,
      lookup: this.lookup,
      ...(this.sessions.has(key) ? { session: this.sessions.get(key) } : {}),
    });
    this.open.add(s);
    s.on('session', (session: Buffer) => this.sessions.set(key, session));
    s.once('close', () => {
      this.open.delete(s);
      const list = this.idle.get(key);
      const i = list?.indexOf(s) ?? -1;
      if (i >= 0) list!.splice(i, 1);
    });
    // A connection that failed must not leave its session for the next try (as https.Agent does).
    // This listener stays: an idle connection reset by the server must not throw.
    s.on('error', () => this.sessions.delete(key));
    s.on('timeout', () => {
      if (this.resting.has(s)) s.destroy();
    });
    return s;
  }

  private release(socket: TLSSocket, key: string): void {
    if (socket.destroyed) return;
    let list = this.idle.get(key);
    if (!list) this.idle.set(key, (list = []));
    list.push(socket);
    this.resting.add(socket);
    socket.setTimeout(this.idleMs);
    // Bytes nobody asked for on an idle connection: it cannot be trusted for the next request.
    socket.on('data', idleData);
  }

  private exchange(
    socket: TLSSocket,
    key: string,
    req: Http1Request,
    o: Http1RequestOptions,
    bytes: Buffer,
  ): void {
    const p = new ResponseParser(o.method === 'HEAD', o.maxBodyBytes);
    const cleanup = () => {
      socket.removeListener('data', onData);
      socket.removeListener('error', onError);
      socket.removeListener('close', onClose);
      socket.removeListener('end', onEnd);
    };
    const finish = (r: Http1Response, reusable: boolean) => {
      cleanup();
      if (req.succeed(r) && reusable) this.release(socket, key);
      else socket.destroy();
    };
    const onData = (chunk: Buffer) => {
      let out: ReturnType<ResponseParser['push']>;
      try {
        out = p.push(chunk);
      } catch (e) {
        cleanup();
        req.destroy(p.tooLarge ? o.tooLarge() : (e as Error));
        return;
      }
      if (p.headDone && !p.headTold) {
        p.headTold = true;
        o.onHead?.();
      }
      if (out) finish(out.response, out.reusable);
    };
    const onEnd = () => {
      // Until-close bodies end here; anything else ended early.
      const r = p.endOfStream();
      if (r) finish(r, false);
    };
    const onError = (e: Error) => {
      cleanup();
      req.destroy(e);
    };
    const onClose = () => {
      cleanup();
      req.fail(hangUp());
    };
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.write(bytes);
  }
}

function idleData(this: TLSSocket): void {
  this.destroy();
}

/** Parses one response from the chunks of a connection (RFC 9112). */
class ResponseParser {
  private buf: Buffer | undefined;
  private status = 0;
  private headers: Record<string, string> = {};
  /** Bytes of body still expected (length-delimited), or -1 until close, or -2 chunked. */
  private remaining = 0;
  private readonly body: Buffer[] = [];
  private bodyBytes = 0;
  private keepAlive = true;
  headDone = false;
  headTold = false;
  tooLarge = false;
  private chunkLeft = -1;
  private trailer = false;

  constructor(
    private readonly head: boolean,
    private readonly maxBody: number,
  ) {}

  /** Feed a chunk; the response once it is complete (and whether the connection may carry another). */
  push(chunk: Buffer): { response: Http1Response; reusable: boolean } | undefined {
    this.buf = this.buf && this.buf.length > 0 ? Buffer.concat([this.buf, chunk]) : chunk;
    if (!this.headDone && !this.parseHead()) return undefined;
    return this.parseBody();
  }

  /** The connection ended: the response if its body runs until close, else an error. */
  endOfStream(): Http1Response | undefined {
    if (this.headDone && this.remaining === -1) {
      this.take(this.buf ?? Buffer.alloc(0));
      return this.response();
    }
    return undefined;
  }

  private parseHead(): boolean {
    for (;;) {
      const buf = this.buf!;
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buf.length > MAX_HEAD_BYTES) throw protocolError('response head too large');
        return false;
      }
      const lines = buf.toString('latin1', 0, end).split('\r\n');
      const m = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(lines[0]!);
      if (!m) throw protocolError('not an HTTP/1.x response');
      const status = Number(m[2]);
      this.buf = buf.subarray(end + 4);
      // 1xx (100 Continue, 103 Early Hints): informational, the answer follows.
      if (status >= 100 && status < 200) continue;
      const h: Record<string, string> = {};
      for (let i = 1; i < lines.length; i++) {
        const line = lines[i]!;
        const c = line.indexOf(':');
        if (c <= 0) throw protocolError('malformed response header');
        const name = line.slice(0, c).trim().toLowerCase();
        const value = line.slice(c + 1).trim();
        const had = h[name];
        if (had === undefined) h[name] = value;
        else if (!SINGLE.has(name)) h[name] = `${had}, ${value}`;
      }
      this.status = status;
      this.headers = h;
      this.headDone = true;
      const conn = (h['connection'] ?? '').toLowerCase();
      this.keepAlive = m[1] === '1' ? !/\bclose\b/.test(conn) : /\bkeep-alive\b/.test(conn);
      if (this.head || status === 204 || status === 304) this.remaining = 0;
      else if (/\bchunked\b/i.test(h['transfer-encoding'] ?? '')) this.remaining = -2;
      else if (h['content-length'] !== undefined) {
        if (!/^\d+$/.test(h['content-length'])) throw protocolError('invalid Content-Length');
        this.remaining = Number(h['content-length']);
        if (this.remaining > this.maxBody) {
          this.tooLarge = true;
          throw protocolError('body too large');
        }
      } else {
        this.remaining = -1;
        this.keepAlive = false;
      }
      return true;
    }
  }

  private parseBody(): { response: Http1Response; reusable: boolean } | undefined {
    const buf = this.buf!;
    if (this.remaining >= 0) {
      if (buf.length < this.remaining) {
        // Kept until complete (push() joins the chunks), then taken whole.
        return undefined;
      }
      this.take(buf.subarray(0, this.remaining));
      const extra = buf.length > this.remaining;
      this.buf = undefined;
      // Bytes after the answer: the server is out of step, the connection is not reused.
      return { response: this.response(), reusable: this.keepAlive && !extra };
    }
    if (this.remaining === -1) {
      if (this.bodyBytes + buf.length > this.maxBody) {
        this.tooLarge = true;
        throw protocolError('body too large');
      }
      return undefined;
    }
    return this.parseChunked();
  }

  private parseChunked(): { response: Http1Response; reusable: boolean } | undefined {
    let buf = this.buf!;
    for (;;) {
      if (this.trailer) {
        // Trailer fields (ignored) until an empty line.
        const eol = buf.indexOf('\r\n');
        if (eol < 0) break;
        buf = buf.subarray(eol + 2);
        if (eol === 0) {
          this.buf = undefined;
          return { response: this.response(), reusable: this.keepAlive && buf.length === 0 };
        }
        continue;
      }
      if (this.chunkLeft < 0) {
        const eol = buf.indexOf('\r\n');
        if (eol < 0) {
          if (buf.length > 1024) throw protocolError('malformed chunk size');
          break;
        }
        const size = parseInt(buf.toString('latin1', 0, eol).split(';')[0]!.trim(), 16);
        if (!Number.isFinite(size) || size < 0) throw protocolError('malformed chunk size');
        buf = buf.subarray(eol + 2);
        if (size === 0) {
          this.trailer = true;
          continue;
        }
        if (this.bodyBytes + size > this.maxBody) {
          this.tooLarge = true;
          throw protocolError('body too large');
        }
        this.chunkLeft = size;
      }
      // The chunk's data and its CRLF.
      if (buf.length < this.chunkLeft + 2) break;
      this.take(buf.subarray(0, this.chunkLeft));
      buf = buf.subarray(this.chunkLeft + 2);
      this.chunkLeft = -1;
    }
    this.buf = buf;
    return undefined;
  }

  private take(b: Buffer): void {
    if (b.length === 0) return;
    this.body.push(b);
    this.bodyBytes += b.length;
  }

  private response(): Http1Response {
    const body = this.body.length === 1 ? this.body[0]! : Buffer.concat(this.body, this.bodyBytes);
    return { status: this.status, headers: this.headers, body };
  }
}
