/**
 * What the fronts of a box's ports share (tls-alpn.ts on the https port,
 * http-front.ts on the http port): a net server that gets each connection
 * paused, reads its first bytes to decide who serves it, and can destroy
 * every connection it still holds when the port closes. No protocol here.
 */
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';

export abstract class PortFront {
  /** Listen on this (the port's listener); the front gets each accepted connection. */
  readonly server: NetServer;
  /** The connections this front holds until they close (each front says which). */
  protected readonly sockets = new Set<Socket>();

  constructor() {
    // pauseOnConnect: nothing is read until route() decides how, so no byte is lost or read twice.
    this.server = createNetServer({ pauseOnConnect: true }, (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      this.route(socket);
    });
  }

  /** Read the connection's first bytes and hand it on or answer it. */
  protected abstract route(socket: Socket): void;

  /** Destroy every connection the front holds (close() of the port then ends at once). */
  closeConnections(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }
}
