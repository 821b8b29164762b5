/**
 * The front of the box's https port: reads each connection's TLS
 * ClientHello before any TLS starts and routes it. A hello that offers only
 * the ALPN protocol "acme-tls/1" is an ACME tls-alpn-01 validation (RFC 8737
 * §3): it gets the challenge certificate for its SNI name from the box's
 * ChallengeTokens, negotiates acme-tls/1, and is closed after the
 * handshake. Everything else (including a hello that offers acme-tls/1 among
 * other protocols, and anything that is not TLS) goes unchanged to the
 * ordinary HTTPS server, whose certificate swaps are unaffected.
 *
 * Why in front, not in SNICallback: Node picks the certificate (SNI) before
 * it reads the ALPN list, so only the raw hello tells the two apart.
 */
import type { Socket } from 'node:net';
import { createSecureContext, TLSSocket, type SecureContext, type Server as TlsServer } from 'node:tls';
import {
  ACME_TLS_ALPN_PROTOCOL,
  offeredAlpnProtocols,
  type ChallengeTokens,
} from '../device/challenge-tokens.js';
import type { Logger } from '../lib/logger.js';
import { PortFront } from './port-front.js';

/** A TLS record is at most 2^14 bytes plus its 5-byte header (RFC 8446 §5.1); a longer wait is not a hello we handle. */
const MAX_HELLO_BYTES = 16_384 + 5;
/** TLS content type "handshake": the first byte of every ClientHello. */
const HANDSHAKE_RECORD = 22;

/** What the front of the https port needs. */
export interface HelloRouterOptions {
  /** The HTTPS server that gets every ordinary connection (it does not listen itself); asked per connection, so it may be built at the first. */
  https: () => TlsServer;
  /** The box's challenges, looked up per connection (the lab may replace a lookup to inject faults). */
  challenges: () => ChallengeTokens;
  logger: Logger;
  /**
   * A connection that has not sent its whole hello this long after it
   * connected is closed, however it trickles (default 10 s). The same
   * deadline holds for a whole tls-alpn-01 handshake.
   */
  helloTimeoutMs?: number;
  /** Called just before a connection goes to the HTTPS server (the web server brings its certificate up to date there). */
  beforeHttps?: () => void;
}

/**
 * The listener of the https port: listen on `server`. Each connection is
 * read until its hello is complete (at most one TLS record, within
 * helloTimeoutMs), then handed over with every byte intact.
 */
export class HelloRouter extends PortFront {
  /** tls-alpn-01 handshakes answered (for tests). */
  alpnHandshakes = 0;

  constructor(private readonly o: HelloRouterOptions) {
    super();
  }

  /** Every connection stays in `sockets` until it closes, whoever serves it (closeConnections ends them all). */
  protected route(socket: Socket): void {
    // A deadline, not an idle timeout: one byte every few seconds must not keep a socket forever.
    const deadline = setTimeout(() => socket.destroy(), this.o.helloTimeoutMs ?? 10_000);
    deadline.unref();
    socket.once('close', () => clearTimeout(deadline));
    socket.on('error', () => socket.destroy());
    let hello: Buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      hello = hello.length === 0 ? chunk : Buffer.concat([hello, chunk]);
      const protocols = hello[0] === HANDSHAKE_RECORD ? offeredAlpnProtocols(hello) : [];
      // undefined: the hello is not complete yet; wait for more, within the limit of one record.
      if (protocols === undefined && hello.length < MAX_HELLO_BYTES) return;
      socket.off('data', onData);
      socket.pause();
      clearTimeout(deadline);
      socket.removeAllListeners('error');
      // Give the bytes back: the TLS layer reads what is buffered before the socket (Node's initRead).
      socket.unshift(hello);
      if (protocols && protocols.length === 1 && protocols[0] === ACME_TLS_ALPN_PROTOCOL)
        this.answerChallenge(socket);
      else this.toHttps(socket);
    };
    socket.on('data', onData);
    socket.resume();
  }

  /** Hand an ordinary connection to the HTTPS server; one that cannot be built (a key OpenSSL refuses) closes it, logged. */
  private toHttps(socket: Socket): void {
    let https: TlsServer;
    try {
      this.o.beforeHttps?.();
      https = this.o.https();
    } catch (err) {
      this.o.logger.error('https server unavailable', { err: (err as Error).message });
      socket.destroy();
      return;
    }
    https.emit('connection', socket);
  }

  /** A tls-alpn-01 validation: the challenge certificate for the SNI name, acme-tls/1, then close. */
  private answerChallenge(socket: Socket): void {
    const challenges = this.o.challenges();
    const contextFor = (servername: string | undefined): SecureContext | undefined => {
      const cred = challenges.getAlpnCertificate(servername);
      return cred
        ? createSecureContext({ cert: cred.certPem, key: cred.keyPem, minVersion: 'TLSv1.2' })
        : undefined;
    };
    // Without SNI, the only pending certificate (if there is exactly one) is the default.
    const fallback = contextFor(undefined);
    const tls = new TLSSocket(socket, {
      isServer: true,
      ALPNProtocols: [ACME_TLS_ALPN_PROTOCOL],
      ...(fallback ? { secureContext: fallback } : {}),
      SNICallback: (servername, cb) => {
        const ctx = contextFor(servername);
        if (ctx) cb(null, ctx);
        else cb(new Error(`no tls-alpn-01 certificate for ${servername.slice(0, 80)}`));
      },
    });
    const done = () => tls.destroy();
    const deadline = setTimeout(done, this.o.helloTimeoutMs ?? 10_000);
    deadline.unref();
    tls.once('close', () => clearTimeout(deadline));
    tls.once('secure', () => {
      this.alpnHandshakes++;
      this.o.logger.debug('tls-alpn-01 handshake answered', { servername: tls.servername || undefined });
      // RFC 8737 §3: the validation is the handshake itself; no application data follows.
      tls.end();
    });
    tls.once('error', (err: Error) => {
      this.o.logger.debug('tls-alpn-01 handshake failed', { err: err.message });
      done();
    });
    tls.once('close', done);
  }
}
