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
import type { Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { escapeUnsafe } from '../../lib/escape.js';
import { lockoutMessage } from '../../lib/login-throttle.js';
import { MAX_PENDING_CHARS, type Session } from '../session.js';
import { CliServerLifecycle } from './lifecycle.js';
import { tooManySessions, type CliServerOptions } from './listen.js';

/** The options of a CLI server (see listen.ts). */
export type { CliServerOptions } from './listen.js';

/** Longest user name or password line kept at login (the rest is dropped). */
const MAX_LOGIN_LINE = 256;
/** A refused or timed-out client gets this long to take its last line before its socket is destroyed. */
const HANG_UP_GRACE_MS = 1_000;

/**
 * A TCP server for the CLI of one box. listen() resolves with the bound port
 * or rejects naming the address and port; close() ends every session and the
 * listener promptly.
 */
export class TcpCliServer extends CliServerLifecycle {
  /** Refused connections being hung up: not counted, but destroyed by close() like the others. */
  private readonly refused = new Set<Socket>();

  /** The box `o.boxId` must be in the cluster (its clock times the default throttle). */
  constructor(o: CliServerOptions) {
    super(o, 'tcp', { allowHalfOpen: true });
  }

  /** Connections at the login prompt or logged in count against maxSessions; refused ones are being hung up. */
  protected endConnections(): void {
    for (const s of [...this.sockets, ...this.refused]) s.destroy();
  }

  protected onSocket(sock: Socket): void {
    // Connections still at the login prompt count too, so the bound holds for idle ones.
    if (this.sockets.size >= this.maxSessions) {
      this.log.warn('cli connection refused: too many sessions', { max: this.maxSessions });
      this.hangUp(sock, tooManySessions(this.o.boxId, this.maxSessions) + '\n');
      return;
    }
    const address = sock.remoteAddress ?? '';
    const source = `tcp ${address}:${sock.remotePort}`;
    const lockedMs = this.logins.throttle.lockedFor(address);
    if (lockedMs > 0) {
      const why = lockoutMessage(address, lockedMs);
      this.log.warn('cli login refused', { source, why });
      this.hangUp(sock, `% ${why}\n`);
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

    // From the accept, whatever the client sends: then the socket goes, not just our half of it.
    const timer = this.loginDeadline(source, () => {
      this.sockets.delete(sock);
      this.hangUp(sock, '\n% Login timed out.\n');
    });

    const send = (s: string) => {
      if (!sock.destroyed && sock.writable) sock.write(escapeUnsafe(s));
    };

    /** Refuse the rest of this connection (the source is locked out, or has too many logins at once). */
    const refuse = (message: string) => {
      pending = '';
      clearTimeout(timer);
      this.sockets.delete(sock);
      this.hangUp(sock, `% ${message}\n`);
    };

    const onPassword = async (password: string): Promise<void> => {
      const v = await this.checkPassword({
        user,
        password,
        address,
        source,
        failures,
        gone: () => sock.destroyed,
      });
      if (v.kind === 'gone') return;
      if (v.kind === 'refused') {
        send('\n');
        refuse(v.message);
        return;
      }
      if (v.kind === 'incorrect') {
        failures++;
        send('\n% Login incorrect\n');
        if (v.lockout) {
          this.log.warn('cli login refused', { source, why: v.lockout });
          refuse(v.lockout);
          return;
        }
        if (v.last) {
          pending = '';
          clearTimeout(timer);
          this.sockets.delete(sock);
          this.hangUp(sock, '');
        } else {
          send('login: ');
        }
        return;
      }
      clearTimeout(timer);
      session = this.startSession(user, v.role, source, {
        interactive: false,
        write: (s) => {
          // C1 and bidi controls (from certificate subjects, names) are shown escaped, never sent raw.
          if (!sock.destroyed && sock.writable) sock.write(escapeUnsafe(s));
        },
        close: () => sock.end(),
      });
      session.start();
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
      if (session) this.sessionEnded(session);
    });
    // EMULATION: raw TCP has no echo negotiation; the box never echoes (the password is never shown).
    send('login: ');
  }

  /**
   * Send `text` and hang up: the socket is destroyed once the text is out, or
   * after HANG_UP_GRACE_MS whatever the client does (a client that never
   * closes its side must not keep a half-closed socket, nor block close()).
   */
  private hangUp(sock: Socket, text: string): void {
    this.refused.add(sock);
    sock.once('close', () => this.refused.delete(sock));
    const grace = setTimeout(() => sock.destroy(), HANG_UP_GRACE_MS);
    grace.unref();
    sock.once('close', () => clearTimeout(grace));
    if (sock.destroyed) return;
    // Read and drop what the client still sends: unread input would turn our close into a reset.
    sock.resume();
    sock.end(text, () => sock.destroy());
  }
}
