/**
 * A listener process of a ListenerPool (src/host/listener-pool.ts): started
 * by fork(), it opens and closes listening sockets as its parent asks and
 * passes every accepted connection, unread, to the parent. It holds no box
 * and reads no byte of any connection.
 *
 * Contract: it exits when its parent disconnects or dies (SIGKILL included),
 * within PARENT_CHECK_MS, so no listener outlives the lab.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { listenOn } from '../lib/net.js';

/** What the parent asks (sent in batches: `{ op: 'batch', ops }`). */
export type AcceptorRequest =
  { op: 'listen'; id: number; address: string; port: number; what: string } | { op: 'close'; id: number };

/** What the listener process answers: a request done, or an accepted connection (its socket rides along). */
export type AcceptorReply = AcceptorDone | { op: 'conn' };

/** A request done: a listen's bound address and port, or why it failed. */
export interface AcceptorDone {
  op: 'done';
  id: number;
  port?: number;
  address?: string;
  err?: string;
}

const servers = new Map<number, Server>();

function reply(m: AcceptorReply, sock?: Socket): void {
  // The parent may be gone (it then disconnects us, and we exit): nothing to do with the error.
  if (sock) process.send?.(m, sock, {}, () => undefined);
  else process.send?.(m, undefined, {}, () => undefined);
}

function listen(r: Extract<AcceptorRequest, { op: 'listen' }>): void {
  // pauseOnConnect: not one byte is read here; the parent's server reads the client's first bytes.
  const server = createServer({ pauseOnConnect: true }, (sock) => {
    // Node sends a socket that still names its server with that server's key, and the receiving
    // side then keeps one 'internalMessage' listener per listening server that ever sent one
    // (for a cross-process getConnections() we do not use): 40,000 listeners, each called for
    // every message, in a 10,000-box lab. Unlinked, the socket travels alone.
    (sock as unknown as { server: unknown }).server = null;
    reply({ op: 'conn' }, sock);
  });
  listenOn(server, r.address, r.port, r.what).then(
    (port) => {
      servers.set(r.id, server);
      // Out of file descriptors or similar: said on stderr (the lab's), the port keeps listening.
      server.on('error', (err) => process.stderr.write(`listener ${r.what}: ${err.message}\n`));
      const a = server.address();
      reply({ op: 'done', id: r.id, port, address: typeof a === 'object' && a ? a.address : r.address });
    },
    (err: Error) => reply({ op: 'done', id: r.id, err: err.message }),
  );
}

function close(id: number): void {
  const server = servers.get(id);
  servers.delete(id);
  if (!server) return reply({ op: 'done', id });
  // Not close(callback): that waits for the server's connections to end, and Node still counts every
  // connection this server accepted, since each travelled detached (see listen()) and Node only uncounts a
  // socket sent with its server. The listening socket itself is closed at once (libuv closes a TCP
  // handle's descriptor in uv_close), so the port is free when the parent reads the answer.
  server.close();
  reply({ op: 'done', id });
}

process.on('message', (m: { op: 'batch'; ops: AcceptorRequest[] }) => {
  for (const r of m.ops) {
    if (r.op === 'listen') listen(r);
    else close(r.id);
  }
});
process.once('disconnect', () => process.exit(0));

/** How often the listener process checks that its parent is still there (see below). */
const PARENT_CHECK_MS = 250;
const parentPid = process.ppid;
// 'disconnect' alone is not enough: a socket sent to the parent waits for the parent's acknowledgement
// (Node's NODE_HANDLE_ACK), and while one waits Node postpones 'disconnect' until the queue is flushed,
// which never happens when the parent was SIGKILLed (or hung) with a connection on its way. That left
// a listener holding :443 on thousands of addresses after a lab died. Node does mark the channel
// closed at once (process.connected turns false), and the parent's death re-parents this process; either
// ends it. The timer is unreferenced: the listening sockets are what keep this process up.
setInterval(() => {
  if (!process.connected || process.ppid !== parentPid) process.exit(0);
}, PARENT_CHECK_MS).unref();
