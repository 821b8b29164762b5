/**
 * The CLI over raw TCP: a `login: ` and `Password: ` exchange, then the
 * connection is a Session without a pty (no echo, LF output, no paging).
 * It adapts the socket to the Session and does nothing else.
 *
 * Bounds: connections per server (maxSessions, refused with a message), a
 * login timeout, login lines of at most 256 characters, and three wrong
 * passwords close the connection. Failed logins also count per source
 * address in the box's LoginThrottle: a source locked out is told so (one
 * `% ` line with the wait) and disconnected before any password is checked.
 * The server is half-open aware: when the client shuts its side, the typed
 * lines still run and their output is sent before the socket closes.
 */
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import type { Role } from '../../device/roles.js';
import { clip } from '../../device/validate.js';
import { lockoutMessage, type LoginThrottle } from '../../lib/login-throttle.js';
import type { Logger } from '../../lib/logger.js';
import { MAX_PENDING_CHARS, Session } from '../session.js';
import {
  listenOn,
  LOGIN_TIMEOUT_MS,
  MAX_LOGIN_ATTEMPTS,
  MAX_SESSIONS_PER_BOX,
  throttleOf,
  tooManySessions,
  type CliServerOptions,
} from './listen.js';

/** The options of a CLI server (see listen.ts). */
export type { CliServerOptions } from './listen.js';

/** Longest user name or password line kept at login (the rest is dropped). */
const MAX_LOGIN_LINE = 256;

/**
 * A TCP server for the CLI of one box. listen() resolves with the bound port
 * or rejects naming the address and port; close() ends every session and the
 * listener promptly.
 */
export class TcpCliServer {
  private readonly o: CliServerOptions;
  private readonly log: Logger;
  private readonly maxSessions: number;
  private readonly listener: NetServer;
  private readonly sockets = new Set<Socket>();
  private readonly sessions = new Set<Session>();
  private readonly throttle: LoginThrottle;
  private closing = false;

  /** The box `o.boxId` must be in the cluster (its clock times the default throttle). */
  constructor(o: CliServerOptions) {
    this.o = o;
    this.log = o.logger.child({ boxId: o.boxId, transport: 'tcp' });
    this.maxSessions = o.maxSessions ?? MAX_SESSIONS_PER_BOX;
    this.throttle = throttleOf(o);
    this.listener = createServer({ allowHalfOpen: true }, (sock) => this.onSocket(sock));
  }

  /** Start listening; resolves with the bound port. */
  listen(): Promise<number> {
    return listenOn(this.listener, this.o.address, this.o.port, `TCP CLI of box ${this.o.boxId}`, this.log);
  }

  /** End every session and connection and stop listening. Safe to call more than once. */
  async close(): Promise<void> {
    this.closing = true;
    for (const s of this.sessions) s.end();
    this.sessions.clear();
    const closed = new Promise<void>((resolve) => this.listener.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  /** Logged-in sessions now. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  private onSocket(sock: Socket): void {
    sock.on('error', (err) => this.log.debug('tcp socket error', { err: err.message }));
    if (this.closing) {
      sock.destroy();
      return;
    }
    // Connections still at the login prompt count too, so the bound holds for idle ones.
    if (this.sockets.size >= this.maxSessions) {
      this.log.warn('cli connection refused: too many sessions', { max: this.maxSessions });
      sock.end(tooManySessions(this.o.boxId, this.maxSessions) + '\n');
      return;
    }
    const address = sock.remoteAddress ?? '';
    const source = `tcp ${address}:${sock.remotePort}`;
    const lockedMs = this.throttle.lockedFor(address);
    if (lockedMs > 0) {
      const why = lockoutMessage(address, lockedMs);
      this.log.warn('cli login refused', { source, why });
      sock.end(`% ${why}\n`);
      return;
    }
    this.sockets.add(sock);
    sock.setNoDelay(true);
    const decoder = new StringDecoder('utf8');
    /** Decoded input the login has not read yet (lines typed ahead of the prompts). */
    let pending = '';
    let skipLf = false;
    let phase: 'user' | 'password' = 'user';
    let user = '';
    let failures = 0;
    /** A password is being checked: input waits, in order, for the outcome. */
    let checking = false;
    /** The client shut its side before the session started. */
    let ended = false;
    let session: Session | undefined;

    const timer = setTimeout(() => {
      this.log.info('cli login timed out', { source });
      sock.end('\n% Login timed out.\n');
    }, LOGIN_TIMEOUT_MS);
    timer.unref();

    const send = (s: string) => {
      if (!sock.destroyed && sock.writable) sock.write(s);
    };

    /** Refuse the rest of this connection (the source is locked out, or has too many logins at once). */
    const refuse = (message: string) => {
      this.log.warn('cli login refused', { source, why: message });
      send(`% ${message}\n`);
      pending = '';
      sock.end();
    };

    const onPassword = async (password: string): Promise<void> => {
      const attempt = this.throttle.begin(address);
      if (!attempt.allowed) {
        send('\n');
        refuse(attempt.message);
        return;
      }
      /** undefined: no verdict on the password. */
      let role: Role | null | undefined;
      try {
        // Awaited so that an asynchronous password check (scrypt off the event loop) works as well.
        role = await this.o.cluster.get(this.o.boxId).authenticate(user, password);
      } catch {
        // The box is being reloaded: no login now, and the password was not judged.
        role = undefined;
      }
      if (role === undefined) attempt.abandon();
      else if (role) attempt.succeeded();
      const lockedOutMs = role === null ? attempt.failed().lockedOutMs : undefined;
      if (sock.destroyed) return;
      if (!role) {
        failures++;
        this.log.warn('cli login failed', { source, user: clip(user) });
        send('\n% Login incorrect\n');
        if (lockedOutMs !== undefined) {
          refuse(lockoutMessage(address, lockedOutMs));
          return;
        }
        if (failures >= MAX_LOGIN_ATTEMPTS) {
          pending = '';
          sock.end();
        } else {
          send('login: ');
        }
        return;
      }
      clearTimeout(timer);
      this.log.info('cli login', { source, user: clip(user), role });
      session = this.startSession(sock, user, role, source);
    };

    /** Read login lines from `pending`; once logged in, hand what is left to the session. */
    const pump = (): void => {
      while (!session && !checking && !sock.destroyed && sock.writable) {
        if (skipLf && pending !== '') {
          skipLf = false;
          if (pending[0] === '\n' || pending[0] === '\0') pending = pending.slice(1);
        }
        const eol = /[\r\n]/.exec(pending);
        if (!eol) {
          // An overlong login line keeps only its start.
          if (pending.length > MAX_LOGIN_LINE) pending = pending.slice(0, MAX_LOGIN_LINE);
          break;
        }
        const text = pending.slice(0, Math.min(eol.index, MAX_LOGIN_LINE));
        skipLf = eol[0] === '\r';
        pending = pending.slice(eol.index + 1);
        if (phase === 'user') {
          user = text.trim();
          if (user !== '') phase = 'password';
          send(user !== '' ? 'Password: ' : 'login: ');
          continue;
        }
        phase = 'user';
        checking = true;
        void onPassword(text).then(() => {
          checking = false;
          pump();
        });
      }
      if (session) {
        let rest = pending;
        pending = '';
        if (skipLf && (rest[0] === '\n' || rest[0] === '\0')) rest = rest.slice(1);
        // What the client typed ahead after the password belongs to the session.
        if (rest) session.input(rest);
        if (ended) session.inputEnd();
      } else if (ended && !checking) {
        sock.end();
      }
    };

    sock.on('data', (d: Buffer) => {
      if (session) {
        session.input(d);
        return;
      }
      const text = decoder.write(d);
      // Bounded while a password is checked (lines typed ahead wait here).
      if (pending.length + text.length <= MAX_PENDING_CHARS) pending += text;
      pump();
    });
    sock.on('end', () => {
      if (session) {
        session.inputEnd();
        return;
      }
      ended = true;
      pump();
    });
    sock.on('close', () => {
      clearTimeout(timer);
      this.sockets.delete(sock);
      if (session) {
        this.sessions.delete(session);
        session.end();
      }
    });
    // EMULATION: raw TCP has no echo negotiation; the box never echoes (the password is never shown).
    send('login: ');
  }

  private startSession(sock: Socket, user: string, role: Role, source: string): Session {
    const session: Session = new Session({
      cluster: this.o.cluster,
      boxId: this.o.boxId,
      user,
      role,
      source,
      interactive: false,
      logger: this.log,
      write: (s) => {
        if (!sock.destroyed && sock.writable) sock.write(s);
      },
      close: () => {
        this.sessions.delete(session);
        sock.end();
      },
    });
    this.sessions.add(session);
    session.start();
    return session;
  }
}
