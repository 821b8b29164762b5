/**
 * The lifecycle both CLI servers (ssh.ts, tcp.ts) share, written once: the
 * listening socket and its close, the connections and sessions a server
 * holds, the login deadline from the accept, the judgement of one password
 * (log lines, failure count, lockout) and a session's start and end. Each
 * transport keeps only what its protocol does differently: how a refusal or
 * a login prompt reaches the client, and how its connections are ended.
 */
import { createServer, type Server as NetServer, type ServerOpts, type Socket } from 'node:net';
import type { Logins } from '../../device/login.js';
import type { Role } from '../../device/roles.js';
import { clip } from '../../device/validate.js';
import type { Logger } from '../../lib/logger.js';
import { IN_PROCESS } from '../../lib/net.js';
import { Session, type SessionOptions } from '../session.js';
import {
  LOGIN_TIMEOUT_MS,
  MAX_LOGIN_ATTEMPTS,
  MAX_SESSIONS_PER_BOX,
  loginsOf,
  type CliServerOptions,
} from './listen.js';

/** The transports a CLI server speaks; also the `transport` of its log lines and its logins. */
export type CliTransport = 'ssh' | 'tcp';

/** What one password attempt decided for its connection (see CliServerLifecycle.checkPassword). */
export type PasswordVerdict =
  /** Logged in (logged as `cli login`). */
  | { kind: 'ok'; role: Role }
  /** Refused before the password was checked: locked out or too busy (logged as `cli login refused`). */
  | { kind: 'refused'; message: string }
  /**
   * Wrong (or the box could not check it): `lockout` is the message when this
   * failure locked the source out; `last` when the connection has had its
   * MAX_LOGIN_ATTEMPTS. Either way the connection ends; otherwise it may try again.
   */
  | { kind: 'incorrect'; lockout?: string; last: boolean }
  /** The client left while the password was checked (only when the caller asked; nothing logged). */
  | { kind: 'gone' };

/** What a transport gives for one session: how it is shown and how it ends by itself. */
export type SessionSpec = Pick<SessionOptions, 'interactive' | 'cols' | 'rows' | 'startMode' | 'write'> & {
  /** The session ended by itself (`exit`, end of input): close the connection or channel. */
  close(): void;
};

/**
 * A CLI server of one box: listen() resolves with the bound port or rejects
 * naming the address and port; close() ends every session and connection and
 * the listener promptly (safe to call more than once).
 */
export abstract class CliServerLifecycle {
  protected readonly o: CliServerOptions;
  protected readonly log: Logger;
  protected readonly maxSessions: number;
  protected readonly logins: Logins;
  protected readonly loginTimeoutMs: number;
  /** Open connections this server answers for (each transport says which ones count against its bound). */
  protected readonly sockets = new Set<Socket>();
  protected readonly sessions = new Set<Session>();
  protected closing = false;
  private readonly listener: NetServer;
  private readonly transport: CliTransport;

  /** The box `o.boxId` must be in the cluster (its clock times the default throttle). */
  protected constructor(o: CliServerOptions, transport: CliTransport, serverOptions: ServerOpts = {}) {
    this.o = o;
    this.transport = transport;
    this.log = o.logger.child({ boxId: o.boxId, transport });
    this.maxSessions = o.maxSessions ?? MAX_SESSIONS_PER_BOX;
    this.logins = loginsOf(o);
    this.loginTimeoutMs = o.loginTimeoutMs ?? LOGIN_TIMEOUT_MS;
    this.listener = createServer(serverOptions, (sock) => this.accept(sock));
  }

  /** Start listening; resolves with the bound port. */
  listen(): Promise<number> {
    return (this.o.listeners ?? IN_PROCESS).listen(
      this.listener,
      this.o.address,
      this.o.port,
      `${this.transport.toUpperCase()} CLI of box ${this.o.boxId}`,
      this.log,
    );
  }

  /** End every session and connection and stop listening. Safe to call more than once. */
  async close(): Promise<void> {
    this.closing = true;
    for (const s of this.sessions) s.end();
    this.sessions.clear();
    const closed = (this.o.listeners ?? IN_PROCESS).close(this.listener);
    await this.endConnections();
    await closed;
  }

  /** Logged-in sessions now (for SSH: shells and exec channels). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** A new connection, not refused for closing; the transport bounds it and starts its login. */
  protected abstract onSocket(sock: Socket): void;

  /** close(): end the connections (the sessions are ended and the listener is closing). */
  protected abstract endConnections(): Promise<void> | void;

  private accept(sock: Socket): void {
    sock.on('error', (err) => this.log.debug(`${this.transport} socket error`, { err: err.message }));
    if (this.closing) {
      sock.destroy();
      return;
    }
    this.onSocket(sock);
  }

  /**
   * The login deadline, from the accept whatever the client sends or does
   * not send: when it passes, the timeout is logged and `expire` ends the
   * connection. Unref'd; the caller clears it at login and at close.
   */
  protected loginDeadline(source: string, expire: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.log.warn('cli login timed out', { source });
      expire();
    }, this.loginTimeoutMs);
    timer.unref();
    return timer;
  }

  /**
   * Check one password against the box's logins (with the per-source
   * throttle) and judge it; `failures` is the connection's wrong passwords
   * before this one. A login and a refusal are logged here, unless `gone`
   * says the client left meanwhile.
   */
  protected async checkPassword(a: {
    user: string;
    password: string;
    address: string;
    source: string;
    failures: number;
    gone?: () => boolean;
  }): Promise<PasswordVerdict> {
    const { user, password, address, source } = a;
    const r = await this.logins.attemptLogin({ user, password, address, source, transport: this.transport });
    if (a.gone?.()) return { kind: 'gone' };
    if (r.kind === 'ok') {
      this.log.info('cli login', { source, user: clip(user), role: r.role });
      return { kind: 'ok', role: r.role };
    }
    if (r.kind === 'refused') {
      this.log.warn('cli login refused', { source, why: r.message });
      return { kind: 'refused', message: r.message };
    }
    const last = a.failures + 1 >= MAX_LOGIN_ATTEMPTS;
    return r.kind === 'wrong' && r.lockout
      ? { kind: 'incorrect', lockout: r.lockout.message, last }
      : { kind: 'incorrect', last };
  }

  /**
   * Start a session of `user` on this server's box: counted in `sessions`
   * until it ends by itself (then `spec.close`) or sessionEnded() is called.
   */
  protected startSession(user: string, role: Role, source: string, spec: SessionSpec): Session {
    const session: Session = new Session({
      cluster: this.o.cluster,
      boxId: this.o.boxId,
      user,
      role,
      source,
      interactive: spec.interactive,
      ...(spec.cols !== undefined ? { cols: spec.cols } : {}),
      ...(spec.rows !== undefined ? { rows: spec.rows } : {}),
      ...(spec.startMode ? { startMode: spec.startMode } : {}),
      logger: this.log,
      write: spec.write,
      close: () => {
        this.sessions.delete(session);
        spec.close();
      },
    });
    this.sessions.add(session);
    return session;
  }

  /** The client's connection or channel closed: the session is no longer counted and ends. */
  protected sessionEnded(session: Session): void {
    this.sessions.delete(session);
    session.end();
  }
}
