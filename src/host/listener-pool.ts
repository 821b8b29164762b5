/**
 * Listening sockets held by listener processes, for a lab with more boxes
 * than this process's open-files limit has room for (issue 16: a process
 * here may hold at most 20,000 files, and a box listens on four TCP ports).
 *
 * Each listener process (src/host/acceptor.ts, a child of this one) binds the
 * very addresses and ports a box would bind itself (box N on its own
 * loopback address: nothing wider than today is opened) and passes every
 * accepted connection to this process over Node's IPC channel
 * (`subprocess.send(message, socket)`, the documented way to hand a socket to
 * another Node process). This process looks up the server by the address and
 * port the client dialled (`socket.localAddress`, `socket.localPort`) and
 * emits the socket as that server's 'connection', so the boxes, their
 * sessions and every verb stay in this one process. A connection to an
 * address no box (no longer) serves is destroyed.
 *
 * Contract:
 * - listen() resolves with the bound port or rejects with listenOn()'s line
 *   (`<what>: cannot listen on <host:port>: <why> (<code>).`);
 * - close() resolves once the listener process has closed the port;
 * - each listener process holds at most `perProcess` listeners; a new one is
 *   started when all are full;
 * - stop() ends every listener process; their ports close with them (a
 *   later listen() starts new ones).
 *
 * Cost (measured in bench/scale.ts and in the README's architecture section):
 * one IPC message per accepted connection, and the listener processes' own
 * memory (Node itself and about 6 KiB per listening socket).
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { Server, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { hostPort, type Listeners } from '../lib/net.js';
import type { Logger } from '../lib/logger.js';
import type { AcceptorDone, AcceptorReply, AcceptorRequest } from './acceptor.js';

/** What a listener pool is built from. */
export interface ListenerPoolOptions {
  /** Listeners per listener process, at most (its open-files limit, less what Node itself holds). */
  perProcess: number;
  logger: Logger;
}

interface Worker {
  child: ChildProcess;
  /** Listeners it holds or is opening. */
  count: number;
  pending: Map<number, (r: AcceptorDone) => void>;
  /** Requests not sent yet: sent together once per turn of the event loop (a lab opens 40,000 at once). */
  queue: AcceptorRequest[];
  exited: boolean;
  /** stop() ended it: its exit is expected. */
  ending: boolean;
}

interface Route {
  worker: Worker;
  key: string;
  id: number;
}

/** See the file comment. */
export class ListenerPool implements Listeners {
  private readonly workers: Worker[] = [];
  /** `host:port` as the client dialled it -> the server that gets its connections. */
  private readonly routes = new Map<string, Server>();
  private readonly byServer = new Map<Server, Route>();
  private nextId = 1;
  /** Connections destroyed because no server listens on the address dialled (for tests and benchmarks). */
  unrouted = 0;

  constructor(private readonly o: ListenerPoolOptions) {}

  /** The listener processes (pid and listeners held), for status and benchmarks. */
  get processes(): { pid: number; listeners: number }[] {
    return this.workers.filter((w) => !w.exited).map((w) => ({ pid: w.child.pid ?? 0, listeners: w.count }));
  }

  /** See Listeners.listen and the file comment. */
  async listen(server: Server, address: string, port: number, what: string): Promise<number> {
    const worker = this.workerWithRoom();
    worker.count++;
    const id = this.nextId++;
    const reply = await this.request(worker, { op: 'listen', id, address, port, what });
    if (reply.err !== undefined || reply.port === undefined || reply.address === undefined) {
      worker.count--;
      throw new Error(reply.err ?? `${what}: cannot listen on ${hostPort(address, port)}: no answer.`);
    }
    const key = hostPort(reply.address, reply.port);
    this.routes.set(key, server);
    this.byServer.set(server, { worker, key, id });
    // An http(s) server starts its header and request deadlines on 'listening'; it never listens itself here.
    server.emit('listening');
    return reply.port;
  }

  /** See Listeners.close. */
  async close(server: Server): Promise<void> {
    const route = this.byServer.get(server);
    if (!route) return;
    this.byServer.delete(server);
    this.routes.delete(route.key);
    route.worker.count--;
    if (!route.worker.exited) await this.request(route.worker, { op: 'close', id: route.id });
  }

  /** End every listener process (their listening sockets close with them). */
  async stop(): Promise<void> {
    this.routes.clear();
    this.byServer.clear();
    const workers = this.workers.splice(0);
    for (const w of workers) w.ending = true;
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.exited) return resolve();
            w.child.once('exit', () => resolve());
            // Disconnecting is the listener process's signal to exit; a kill by its PID if it does not.
            w.child.disconnect();
            setTimeout(() => w.child.kill('SIGKILL'), 2000).unref();
          }),
      ),
    );
  }

  private workerWithRoom(): Worker {
    const w = this.workers.find((x) => !x.exited && x.count < this.o.perProcess);
    return w ?? this.spawn();
  }

  private spawn(): Worker {
    // The acceptor next to this module: acceptor.js once built, acceptor.ts under the tests' TypeScript loader
    // (fork() passes this process's execArgv, loader included).
    const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
    const child = fork(fileURLToPath(new URL(`./acceptor.${ext}`, import.meta.url)), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
    });
    const worker: Worker = { child, count: 0, pending: new Map(), queue: [], exited: false, ending: false };
    child.on('message', (m: AcceptorReply, handle?: Socket) => {
      if (m.op === 'conn') {
        if (handle) this.dispatch(handle);
        return;
      }
      const done = worker.pending.get(m.id);
      worker.pending.delete(m.id);
      done?.(m);
    });
    child.once('exit', (code, signal) => {
      worker.exited = true;
      for (const done of worker.pending.values())
        done({ op: 'done', id: 0, err: `the listener process exited (${signal ?? code})` });
      worker.pending.clear();
      if (!worker.ending) {
        this.o.logger.error('a listener process exited: the ports it held are closed', {
          pid: child.pid,
          code,
          signal,
          listeners: worker.count,
        });
      }
    });
    child.on('error', (err) => this.o.logger.error('listener process error', { err: err.message }));
    this.workers.push(worker);
    return worker;
  }

  private request(worker: Worker, req: AcceptorRequest): Promise<AcceptorDone> {
    return new Promise((resolve) => {
      worker.pending.set(req.id, resolve);
      if (worker.queue.push(req) === 1) {
        setImmediate(() => {
          const ops = worker.queue.splice(0);
          if (worker.exited) return;
          worker.child.send({ op: 'batch', ops }, (err) => {
            if (!err) return;
            for (const r of ops) worker.pending.get(r.id)?.({ op: 'done', id: r.id, err: err.message });
          });
        });
      }
    });
  }

  /**
   * Hand an accepted connection to the server of the address and port the
   * client dialled; destroy it when none listens there (its box stopped
   * while the connection was on its way). Returns whether a server got it.
   */
  dispatch(sock: Socket): boolean {
    const server =
      sock.localAddress !== undefined && sock.localPort !== undefined
        ? this.routes.get(hostPort(sock.localAddress, sock.localPort))
        : undefined;
    if (!server) {
      this.unrouted++;
      sock.destroy();
      return false;
    }
    // A socket handed over IPC is made with Node's defaults; keep the server's half-open choice
    // (the TCP CLI answers a client that has sent its last line and EOF).
    (sock as { allowHalfOpen: boolean }).allowHalfOpen = (
      server as unknown as { allowHalfOpen: boolean }
    ).allowHalfOpen;
    server.emit('connection', sock);
    return true;
  }
}
