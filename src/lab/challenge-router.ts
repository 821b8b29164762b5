/**
 * The lab's http-01 front door when boxes share one address (ports mode):
 * Pebble's VA dials one port for every name, so this server listens there
 * and passes each request to the box whose name is in the Host header, on
 * that box's own HTTP port. The box's web server answers, as it would on
 * port 80 of its own address. Only /.well-known/acme-challenge/ is passed.
 */
import { createServer, request, type Server } from 'node:http';
import { listenOn } from '../lib/net.js';

/** The router of one lab (see the file comment). close() frees its port; requests in flight are cut. */
export class ChallengeRouter {
  private readonly server: Server;
  /** How many requests were passed to a box. */
  forwarded = 0;

  /** `target` maps a lower-case host name (no port) to the box's HTTP address and port. */
  constructor(private readonly target: (host: string) => { address: string; port: number } | undefined) {
    this.server = createServer((req, res) => {
      const host = (req.headers.host ?? '')
        .replace(/:\d+$/, '')
        .replace(/^\[|\]$/g, '')
        .toLowerCase();
      const to = this.target(host);
      if (!to || !req.url?.startsWith('/.well-known/acme-challenge/')) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('no box for this name\n');
        return;
      }
      this.forwarded++;
      const up = request(
        {
          host: to.address,
          port: to.port,
          path: req.url,
          method: req.method,
          headers: req.headers,
          timeout: 10_000,
        },
        (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        },
      );
      up.on('timeout', () => up.destroy(new Error('timeout')));
      up.on('error', () => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end('box did not answer\n');
      });
      req.pipe(up);
    });
  }

  /** Listen on address:port; resolves the bound port. */
  listen(address: string, port: number): Promise<number> {
    return listenOn(this.server, address, port, 'the http-01 router');
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    await new Promise<void>((r) => {
      this.server.close(() => r());
      this.server.closeAllConnections();
    });
  }
}
