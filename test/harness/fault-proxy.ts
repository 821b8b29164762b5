/**
 * Test tooling (the lab injects its faults in the box's own ACME transport:
 * src/lib/connect-faults.ts): a TCP proxy in front of the CA on 127.0.0.1;
 * a box's ACME directory URL points at it, so a test can make the CA
 * unreachable or slow for that box without touching the CA or the box. TLS passes through
 * untouched (the box still verifies the CA's own certificate: Pebble's
 * listener certificate names 127.0.0.1, and Pebble builds its directory
 * links from the Host the box used, so they point back at the proxy).
 *
 * Faults and their counters:
 * - unreachable: open connections are cut and every new one is reset at once
 *   (the box sees ECONNRESET); `refused` counts the connections turned away.
 * - slow: every chunk the CA sends is held back `slowMs` before it is
 *   passed on; `delayed` counts the chunks held back.
 * Counters only grow; they survive turning the fault off and on.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { listenOn } from '../../src/lib/net.js';

/** The counters of one proxy. */
export interface FaultProxyCounters {
  /** Connections passed through. */
  connections: number;
  /** Connections reset while unreachable. */
  refused: number;
  /** CA-to-box chunks held back while slow. */
  delayed: number;
}

/** One box's proxy in front of the CA (see the file comment); close() frees its port and cuts every connection. */
export class FaultProxy {
  private readonly server: Server;
  private readonly open = new Set<Socket>();
  private unreachableOn = false;
  private slowMsValue = 0;
  private boundPort = 0;
  private closed = false;
  readonly counters: FaultProxyCounters = { connections: 0, refused: 0, delayed: 0 };

  /** Forwards to upstreamHost:upstreamPort; call listen() before use. */
  constructor(
    private readonly upstreamHost: string,
    private readonly upstreamPort: number,
    private readonly listenAddress = '127.0.0.1',
  ) {
    this.server = createServer((client) => this.accept(client));
  }

  /** Open the listener (port 0 = any free port); resolves the bound port. */
  listen(port = 0): Promise<number> {
    if (this.closed) return Promise.reject(new Error('the CA proxy was closed'));
    return listenOn(this.server, this.listenAddress, port, 'the CA fault proxy').then(
      (bound) =>
        new Promise<number>((resolve, reject) => {
          this.boundPort = bound;
          // Closed while binding (the lab went down): do not leave the port open.
          if (this.closed) this.server.close(() => reject(new Error('the CA proxy was closed')));
          else resolve(bound);
        }),
    );
  }

  get port(): number {
    return this.boundPort;
  }

  get address(): string {
    return this.listenAddress;
  }

  get unreachable(): boolean {
    return this.unreachableOn;
  }

  /** Turn the unreachable fault on (cuts every open connection) or off. */
  setUnreachable(on: boolean): void {
    this.unreachableOn = on;
    if (on) for (const s of [...this.open]) s.destroy();
  }

  /** Delay applied to each chunk from the CA, in ms (0 = off). */
  get slowMs(): number {
    return this.slowMsValue;
  }

  setSlow(ms: number): void {
    if (!(ms >= 0) || !Number.isFinite(ms)) throw new RangeError('slow takes a delay in ms >= 0');
    this.slowMsValue = ms;
  }

  /** Close the listener and every connection. */
  async close(): Promise<void> {
    this.closed = true;
    for (const s of [...this.open]) s.destroy();
    if (!this.server.listening) return;
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private accept(client: Socket): void {
    if (this.unreachableOn) {
      this.counters.refused++;
      client.resetAndDestroy();
      return;
    }
    this.counters.connections++;
    const upstream = createConnection({ host: this.upstreamHost, port: this.upstreamPort });
    this.open.add(client);
    this.open.add(upstream);
    const done = () => {
      this.open.delete(client);
      this.open.delete(upstream);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', done).on('close', done);
    upstream.on('error', done).on('close', done);
    client.pipe(upstream);
    // CA -> box: held back while slow, in order (each chunk waits for the previous one).
    let chain = Promise.resolve();
    upstream.on('data', (chunk: Buffer) => {
      const delay = this.slowMsValue;
      if (delay > 0) this.counters.delayed++;
      if (delay > 0) upstream.pause();
      chain = chain.then(async () => {
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
        if (!client.destroyed) client.write(chunk);
        if (delay > 0) upstream.resume();
      });
    });
    upstream.on('end', () => void chain.then(() => client.end()));
  }
}
