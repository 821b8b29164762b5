/**
 * Sockets, once: listening with an error that names the address and port,
 * `host:port` spelling, and a free port for peers that must be told a port
 * number. No domain knowledge; every listener of the project (box web and
 * CLI servers, the lab's control plane and http-01 router) and every harness
 * and benchmark use these.
 */
import { createServer, type AddressInfo, type Server } from 'node:net';
import { createSocket } from 'node:dgram';
import type { Logger } from './logger.js';

/** `host:port`, with brackets around an IPv6 address. */
export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** The host (brackets removed) and port of a URL; the port defaults by scheme (https 443, http 80). */
export function urlHostPort(url: string): [string, number] {
  const u = new URL(url);
  const port = u.port ? Number(u.port) : u.protocol === 'http:' ? 80 : 443;
  return [u.hostname.replace(/^\[|\]$/g, ''), port];
}

/** Why a listen failed, in words a user acts on. */
function listenWhy(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return 'the port is already in use';
    case 'EADDRNOTAVAIL':
      return 'the address is not configured on this host';
    case 'EACCES':
      return 'permission denied (ports below 1024 need privileges)';
    default:
      return err.message;
  }
}

/**
 * Listen on address:port (exclusively: never shared with a cluster worker).
 * Resolves with the bound port (the real one when `port` is 0); rejects with
 * one line `<what>: cannot listen on <host:port>: <why> (<code>).` and leaves
 * the server closed. After that, server errors are logged through `log` when
 * given (never thrown: a listening port keeps serving).
 */
export function listenOn(
  server: Server,
  address: string,
  port: number,
  what: string,
  log?: Logger,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      reject(
        new Error(
          `${what}: cannot listen on ${hostPort(address, port)}: ${listenWhy(err)} (${err.code ?? 'error'}).`,
        ),
      );
    };
    const onListening = () => {
      server.off('error', onError);
      if (log) server.on('error', (err) => log.error(`${what} server error`, { err: err.message }));
      resolve((server.address() as AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ host: address, port, exclusive: true });
  });
}

/** True when a TCP listener can be opened on address:port right now (closed again at once). */
export async function canListen(address: string, port: number): Promise<boolean> {
  return (await listenProblem(address, port)) === undefined;
}

/**
 * Why a TCP listener on address:port cannot be opened now, in a few words
 * ("127.0.0.101:443 is taken (EADDRINUSE)"), or undefined when it can.
 */
export function listenProblem(address: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', (err: NodeJS.ErrnoException) => {
      const where = `${address.includes(':') ? `[${address}]` : address}:${port}`;
      if (err.code === 'EADDRINUSE') resolve(`${where} is taken (EADDRINUSE)`);
      else if (err.code === 'EACCES')
        resolve(`listening on ${where} needs root or CAP_NET_BIND_SERVICE (EACCES)`);
      else if (err.code === 'EADDRNOTAVAIL')
        resolve(`${address} is not an address of this machine (EADDRNOTAVAIL)`);
      else resolve(`cannot listen on ${where} (${err.code ?? err.message})`);
    });
    s.listen({ host: address, port, exclusive: true }, () => s.close(() => resolve(undefined)));
  });
}

/** Which sockets a free port must be free for: `both` when a peer binds TCP and UDP (a DNS server). */
export type PortProtocol = 'tcp' | 'udp' | 'both';

function bindOnce(host: string, protocol: 'tcp' | 'udp', port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    if (protocol === 'tcp') {
      const s = createServer();
      s.once('error', () => resolve(undefined));
      s.listen({ host, port, exclusive: true }, () => {
        const bound = (s.address() as AddressInfo).port;
        s.close(() => resolve(bound));
      });
    } else {
      const u = createSocket(host.includes(':') ? 'udp6' : 'udp4');
      u.once('error', () => resolve(undefined));
      u.bind(port, host, () => {
        const bound = u.address().port;
        u.close(() => resolve(bound));
      });
    }
  });
}

/**
 * A port free on `host` right now (bound to port 0, read, released), for a
 * peer that must be given a port number (Pebble, snmptrapd). The race with
 * another process taking it before the peer binds is accepted: peers' own
 * bind errors report it. Rejects after 20 tries.
 */
export async function freePort(host = '127.0.0.1', protocol: PortProtocol = 'tcp'): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await bindOnce(host, protocol === 'udp' ? 'udp' : 'tcp', 0);
    if (port === undefined) continue;
    if (protocol !== 'both' || (await bindOnce(host, 'udp', port)) !== undefined) return port;
  }
  throw new Error(`no free ${protocol === 'both' ? 'TCP+UDP' : protocol.toUpperCase()} port on ${host}`);
}

/**
 * Where a server's listening socket lives. The server object (net, http,
 * ssh front) stays in this process either way and gets each accepted
 * connection as its 'connection' event; only who holds the listening socket
 * changes: this process (IN_PROCESS) or a listener process
 * (host/listener-pool.ts, for labs larger than one process's open-files
 * limit allows).
 */
export interface Listeners {
  /**
   * Accept connections to address:port for `server`. Resolves with the
   * bound port (the real one when `port` is 0); rejects with the one line
   * listenOn() gives and leaves nothing listening.
   */
  listen(server: Server, address: string, port: number, what: string, log?: Logger): Promise<number>;
  /** Stop accepting for `server` (open connections are the caller's). Resolves once the port is free; a no-op when not listening. */
  close(server: Server): Promise<void>;
}

/** Listening sockets held by this process: listenOn(), and Server.close(). */
export const IN_PROCESS: Listeners = {
  listen: listenOn,
  close: (server) =>
    server.listening ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve(),
};
