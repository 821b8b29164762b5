/**
 * The HTTPS and HTTP servers of one box. Owns the sockets and swaps the
 * certificate with setSecureContext when the box emits
 * web-certificate-changed: no restart, open connections keep their session,
 * new handshakes get the new certificate at once (peers.md §4: 0 failures in
 * ~13,000 handshakes under ~4,000 swaps).
 */
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { SecureContextOptions } from 'node:tls';
import type { Box } from '../device/box.js';
import type { Cluster } from '../device/cluster.js';
import type { Logins } from '../device/login.js';
import type { Logger } from '../lib/logger.js';
import { IN_PROCESS, type Listeners } from '../lib/net.js';
import type { SessionOptions } from './api/auth.js';
import { challengeAnswer, createHttpHandler, createHttpsApp } from './app.js';
import { HttpFront } from './http-front.js';
import { HelloRouter } from './tls-alpn.js';

/**
 * TLS 1.2 and 1.3 only. TLS 1.2 ciphers are ECDHE with AEAD (forward secrecy,
 * no CBC, no RSA key exchange); TLS 1.3 suites are OpenSSL's defaults (all AEAD).
 */
const TLS_OPTIONS = {
  minVersion: 'TLSv1.2',
  maxVersion: 'TLSv1.3',
  ciphers: [
    'TLS_AES_256_GCM_SHA384',
    'TLS_AES_128_GCM_SHA256',
    'TLS_CHACHA20_POLY1305_SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
  honorCipherOrder: true,
} as const;

/** A TLS handshake must be done this long after the connection's hello was routed. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** How often the HTTP deadlines (headers 10 s, request 30 s) are checked. */
const DEADLINE_CHECK_MS = 1_000;

/** FIPS mode: only FIPS 140 approved suites (AES-GCM; no ChaCha20). */
const FIPS_CIPHERS = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
].join(':');

/** FIPS mode: only the NIST curves for ECDHE (SP 800-56A); X25519 and X448 are not approved. */
const FIPS_GROUPS = 'P-256:P-384:P-521';

/**
 * Classic and secure-crypto modes: ECDHE groups only. Without this list
 * OpenSSL 3 also offers the finite-field groups (ffdhe2048-8192) in TLS 1.3,
 * where the README promises ECDHE.
 */
const EC_GROUPS = 'X25519:P-256:X448:P-521:P-384';

/** The TLS settings of the web server for a crypto mode (the certificate comes on top). */
function tlsOptionsFor(mode: string): SecureContextOptions {
  return mode === 'fips'
    ? { ...TLS_OPTIONS, ciphers: FIPS_CIPHERS, ecdhCurve: FIPS_GROUPS }
    : { ...TLS_OPTIONS, ecdhCurve: EC_GROUPS };
}

/** Bounded: slow or idle clients are cut off instead of holding sockets forever. */
function bound(s: HttpServer | HttpsServer): void {
  s.headersTimeout = 10_000;
  s.requestTimeout = 30_000;
  s.keepAliveTimeout = 5_000;
  s.maxHeadersCount = 100;
}

let httpsAppChecked = false;
/** Build one HTTPS app per process (it throws when the routes and the OpenAPI document disagree or a GUI file is missing). */
function checkHttpsAppOnce(box: Box): void {
  if (httpsAppChecked) return;
  createHttpsApp(() => box);
  httpsAppChecked = true;
}

/** What a box's web server is built from; ports may be 0 (any free port). */
export interface WebServerOptions {
  box: Box;
  address: string;
  /** 0 = any free port (listen() resolves the bound one). */
  httpsPort: number;
  /** 0 = any free port. For ACME http-01 it must be the port the CA validates on (80, or Pebble's httpPort). */
  httpPort: number;
  logger: Logger;
  /** The cluster, for /api/v1/system/chassis; without it the API lists this box alone. */
  cluster?: Cluster;
  /** REST session expiry and limits (defaults: 30 min idle, 12 h at most, 256 sessions). */
  sessions?: Partial<Omit<SessionOptions, 'now'>>;
  /** The box's logins, shared with its CLI (default: the REST API's own). */
  logins?: Logins;
  /**
   * Answer ACME tls-alpn-01 validations on the https port (default true).
   * While listening, the box's challenges.responders['tls-alpn-01'] says so,
   * and the ACME agent may choose that challenge.
   */
  tlsAlpn01?: boolean;
  /** Who holds the listening sockets: this process (default) or a lab's listener processes. */
  listeners?: Listeners;
}

/**
 * The HTTPS server (REST API, GUI) and the HTTP server (http-01, redirect)
 * of one box. Not reusable after close(). REST sessions live as long as this
 * server: a reload builds a new one and so logs everybody out.
 */
export class WebServer {
  /** Built at the first HTTPS connection (see https). */
  private httpsServer: HttpsServer | undefined;
  private listening = false;
  /** Reads the connections of the http port that its front does not answer (it never listens itself). */
  private readonly http: HttpServer;
  /** Listens on the http port: answers validators' http-01 fetches, hands everything else to `http`. */
  private readonly httpFront: HttpFront;
  /** Listens on the https port and hands each connection to `https` or answers it as tls-alpn-01. */
  private readonly front: HelloRouter;
  private readonly box: Box;
  private readonly log: Logger;
  private unsubscribe: (() => void) | undefined;
  private ports = { https: 0, http: 0 };
  /** Number of certificate changes received (for tests and benchmarks). */
  swaps = 0;
  /** Number of TLS server contexts built for a swap (for tests and benchmarks): at most one per handshake after a change. */
  contextsBuilt = 0;
  /** The certificate of the last change, not yet in the server's context (see swap()). */
  private pending: SecureContextOptions | undefined;

  constructor(private readonly o: WebServerOptions) {
    this.box = o.box;
    this.log = o.logger;
    // The REST routes against their OpenAPI document and the GUI files are checked here, once per
    // process: a mistake there fails the first box's start, not its first HTTPS request.
    checkHttpsAppOnce(o.box);
    this.http = createHttpServer(
      { connectionsCheckingInterval: DEADLINE_CHECK_MS },
      createHttpHandler(
        () => this.box,
        () => this.ports.https,
      ),
    );
    bound(this.http);
    this.httpFront = new HttpFront({ http: this.http, answer: (token) => challengeAnswer(this.box, token) });
    this.front = new HelloRouter({
      https: () => this.https,
      challenges: () => this.box.challenges,
      logger: o.logger,
      beforeHttps: () => this.applyPending(),
    });
  }

  /**
   * The HTTPS server (REST API, GUI), built at the box's first HTTPS
   * connection: its TLS context (OpenSSL's SSL_CTX with the certificate and
   * key) and its koa app were most of a box's boot CPU, paid by every box of
   * a 10,000-box lab that nobody browses. Built with the box's current
   * certificate, or the last change's.
   */
  private get https(): HttpsServer {
    if (this.httpsServer) return this.httpsServer;
    const creds = this.box.webCredentials();
    const server = createHttpsServer(
      {
        ...tlsOptionsFor(this.box.activeCryptoMode),
        ...(this.pending ?? { cert: creds.certPem, key: creds.keyPem }),
        // A handshake left half done is cut after this (Node's default is 2 minutes).
        handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
        // The deadlines below are enforced by a check every this often (Node's default: 30 s late).
        connectionsCheckingInterval: DEADLINE_CHECK_MS,
      },
      // eslint-disable-next-line @typescript-eslint/no-misused-promises -- koa's callback() catches its own errors
      createHttpsApp(() => this.box, {
        logger: this.o.logger,
        clusterBoxes: this.o.cluster ? () => this.o.cluster!.list() : undefined,
        sessions: this.o.sessions,
        logins: this.o.logins,
      }).callback(),
    );
    if (this.pending) this.contextsBuilt++;
    this.pending = undefined;
    bound(server);
    server.on('tlsClientError', (err) => this.log.debug('TLS client error', { err: err.message }));
    // Node starts enforcing headersTimeout and requestTimeout when a server emits 'listening'.
    // The HTTPS server never listens itself (the front hands it each connection), so without
    // this, a client that trickles its headers (slowloris) would hold its connection forever.
    if (this.listening) server.emit('listening');
    this.httpsServer = server;
    return server;
  }

  /** tls-alpn-01 handshakes answered so far (for tests). */
  get alpnHandshakes(): number {
    return this.front.alpnHandshakes;
  }

  /** Bind both ports (0 = any free port); resolves with the bound ports, rejects naming the address and port. */
  async listen(): Promise<{ https: number; http: number }> {
    this.ports.https = await this.listeners.listen(
      this.front.server,
      this.o.address,
      this.o.httpsPort,
      `HTTPS of box ${this.box.boxId}`,
    );
    this.listening = true;
    this.httpsServer?.emit('listening');
    // Once listening, an accept error (e.g. out of file descriptors) is logged, not thrown: the port keeps serving.
    this.front.server.on('error', (err) => this.log.error('https port error', { err: err.message }));
    try {
      this.ports.http = await this.listeners.listen(
        this.httpFront.server,
        this.o.address,
        this.o.httpPort,
        `HTTP of box ${this.box.boxId}`,
        this.log,
      );
    } catch (err) {
      await this.closeHttps();
      throw err;
    }
    // Node enforces headersTimeout and requestTimeout once a server emits 'listening' (see https).
    this.http.emit('listening');
    this.unsubscribe = this.box.events.on('web-certificate-changed', (e) =>
      this.swap({ cert: e.certPem, key: e.keyPem }),
    );
    if (this.o.tlsAlpn01 !== false) this.box.challenges.responders['tls-alpn-01'] = true;
    return { ...this.ports };
  }

  /**
   * Present this certificate from the next handshake on. The TLS context is
   * built when a connection arrives, not here: building one (OpenSSL
   * decoding the key and certificates, the cipher and group lists) was 5 %
   * of a lab's CPU while a thousand boxes renewed and nobody connected
   * (bench/lab-regression), and a box whose certificate changes twice
   * before its next visitor builds one context, with the latest.
   */
  swap(ctx: SecureContextOptions): void {
    this.pending = ctx;
    this.swaps++;
    this.log.info('web certificate swapped', { boxId: this.box.boxId });
  }

  /** Build the context of the last change, if any is waiting; called before a connection reaches the HTTPS server. */
  private applyPending(): void {
    const ctx = this.pending;
    // No server yet: it is built with the pending certificate.
    if (!ctx || !this.httpsServer) return;
    this.pending = undefined;
    try {
      this.httpsServer.setSecureContext({ ...tlsOptionsFor(this.box.activeCryptoMode), ...ctx });
      this.contextsBuilt++;
    } catch (err) {
      // The box checks a certificate against its key before storing it, so this is not expected;
      // the previous certificate keeps being served rather than no handshake at all.
      this.log.error('web certificate could not be loaded; the previous one is still served', {
        err: err instanceof Error ? err.message : String(err),
      });
    }
  }

  /** Close both listeners and every open connection. */
  async close(): Promise<void> {
    this.unsubscribe?.();
    if (this.o.tlsAlpn01 !== false) this.box.challenges.responders['tls-alpn-01'] = false;
    await Promise.all([this.closeHttps(), this.closeHttp()]);
  }

  /** Stop accepting on the http port and end its connections. */
  private async closeHttp(): Promise<void> {
    const closed = this.listeners.close(this.httpFront.server);
    this.httpFront.closeConnections();
    this.http.closeAllConnections();
    await closed;
    // Stops the deadline checks that 'listening' started (the server never listened itself, so
    // Node reports ERR_SERVER_NOT_RUNNING, which is expected here).
    this.http.close(() => undefined);
  }

  /** http-01 fetches answered by the http port's front (for tests and benchmarks). */
  get fastChallengeAnswers(): number {
    return this.httpFront.fastAnswers;
  }

  private get listeners(): Listeners {
    return this.o.listeners ?? IN_PROCESS;
  }

  /** Stop accepting on the https port and end its connections (the HTTPS server itself never listens). */
  private async closeHttps(): Promise<void> {
    const closed = this.listeners.close(this.front.server);
    this.front.closeConnections();
    const https = this.httpsServer;
    https?.closeAllConnections();
    // Stops the deadline checks started by the 'listening' above (the server itself never
    // listened, so Node reports ERR_SERVER_NOT_RUNNING, which is expected here).
    https?.close(() => undefined);
    await closed;
  }
}
