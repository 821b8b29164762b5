/**
 * The CLI over SSH (ssh2 lives only here). It adapts SSH channels to
 * Sessions and does nothing else: password login against the box, a shell
 * with or without a pty, exec channels (never paged), window-change and env.
 *
 * Bounds: sessions per server (maxSessions, refused with a message),
 * connections (twice that), a login timeout and three password attempts.
 * Failed logins also count per source address in the box's LoginThrottle:
 * a source locked out is refused before any password is checked, and a new
 * connection from it is told why in the SSH banner (shown by OpenSSH before
 * "Permission denied"). A client that goes away at any moment only ends its
 * own session.
 *
 * The listener is our own net.Server; sockets are handed to ssh2 with
 * injectSocket, so close() can end every connection at once (a reload must
 * free the port promptly).
 */
import type { Socket } from 'node:net';
import ssh2 from 'ssh2';
import type {
  ClientInfo,
  Connection,
  ParsedKey,
  PseudoTtyInfo,
  ServerChannel,
  Session as SshChannel,
} from 'ssh2';
import type { Role } from '../../device/roles.js';
import type { CryptoMode } from '../../device/model.js';
import { escapeUnsafe } from '../../lib/escape.js';
import { lockoutMessage } from '../../lib/login-throttle.js';
import { hasPrivateKeyForm } from '../../pki/keys.js';
import type { Session } from '../session.js';
import { CliServerLifecycle } from './lifecycle.js';
import { tooManySessions, type CliServerOptions } from './listen.js';
import { SSH_ALGORITHMS } from './ssh-algorithms.js';

/** The options of a CLI server (see listen.ts). */
export type { CliServerOptions } from './listen.js';

const { Server: Ssh2Server, utils } = ssh2;

/** How long close() lets clients take the SSH disconnect before their sockets are destroyed. */
const CLOSE_GRACE_MS = 200;

/**
 * An SSH server for the CLI of one box. listen() resolves with the bound port
 * or rejects naming the address and port; close() ends every session and the
 * listener promptly. Sessions of one server are independent.
 */
export class SshCliServer extends CliServerLifecycle {
  private readonly hostKeyPem: string;
  private readonly cryptoMode: CryptoMode | undefined;
  /** Built at the first connection (see ssh). */
  private sshServer: InstanceType<typeof Ssh2Server> | undefined;
  private readonly clients = new Set<Connection>();
  /** Sockets not logged in yet, by "address:port" (how ssh2's client info names them), for the login deadline. */
  private readonly pending = new Map<string, { sock: Socket; deadline: NodeJS.Timeout }>();

  /**
   * Throws Error when the host key does not have a private key's form
   * (hasPrivateKeyForm; an EC P-256 SEC1 PEM has). One of that form that ssh2
   * cannot use fails at the first connection: logged, connections closed. The box `o.boxId` must be in the cluster (its clock times
   * the default throttle; its crypto mode picks the algorithms unless
   * `cryptoMode` is given: ssh-algorithms.ts).
   */
  constructor(o: CliServerOptions & { hostKeyPem: string; cryptoMode?: CryptoMode }) {
    super(o, 'ssh');
    // The form only, here; ssh2 parses the key (about 1 ms of CPU: OpenSSL, then the public
    // half derived from the private) at the first connection, not at every boot of 10,000 boxes.
    if (!hasPrivateKeyForm(o.hostKeyPem))
      throw new Error(`SSH host key of box ${o.boxId} is not usable: not an unencrypted private key PEM`);
    this.hostKeyPem = o.hostKeyPem;
    this.cryptoMode = o.cryptoMode;
  }

  /** Every SSH connection is ended, and given CLOSE_GRACE_MS to take the disconnect before its socket is destroyed. */
  protected async endConnections(): Promise<void> {
    for (const c of this.clients) {
      try {
        c.end();
      } catch {
        // Already gone.
      }
    }
    const drained = Promise.all(
      [...this.sockets].map((s) => new Promise((r) => (s.destroyed ? r(null) : s.once('close', r)))),
    );
    // Not unref'd: during a reload this wait may be all the process has to do (see BoxHost.reload).
    await Promise.race([drained, new Promise((r) => setTimeout(r, CLOSE_GRACE_MS))]);
    for (const s of this.sockets) s.destroy();
  }

  protected onSocket(sock: Socket): void {
    // Connections that never log in still cost memory: bound them too.
    if (this.sockets.size >= this.maxSessions * 2) {
      sock.destroy();
      return;
    }
    this.sockets.add(sock);
    // An interactive CLI writes a reply in pieces (end of line, output, prompt): with Nagle on,
    // each piece after the first waits for the client's delayed ACK, 40 ms a command.
    sock.setNoDelay(true);
    // The login deadline runs from the accept: a client that never sends its identification
    // string, or stalls anywhere before authenticating, loses its socket and its slot.
    const key = `${sock.remoteAddress}:${sock.remotePort}`;
    const deadline = this.loginDeadline(`ssh ${key}`, () => sock.destroy());
    this.pending.set(key, { sock, deadline });
    sock.once('close', () => {
      clearTimeout(deadline);
      this.sockets.delete(sock);
      if (this.pending.get(key)?.sock === sock) this.pending.delete(key);
    });
    let ssh: InstanceType<typeof Ssh2Server>;
    try {
      ssh = this.ssh;
    } catch (err) {
      this.log.error('ssh server unavailable', { err: (err as Error).message });
      sock.destroy();
      return;
    }
    ssh.injectSocket(sock);
  }

  /** The ssh2 server, built at the first connection; throws when ssh2 cannot use the host key. */
  private get ssh(): InstanceType<typeof Ssh2Server> {
    if (this.sshServer) return this.sshServer;
    const o = this.o;
    const parsed = utils.parseKey(this.hostKeyPem);
    if (parsed instanceof Error)
      throw new Error(`SSH host key of box ${o.boxId} is not usable: ${parsed.message}`);
    const mode = this.cryptoMode ?? o.cluster.get(o.boxId).activeCryptoMode;
    // The key parsed above, not its PEM: ssh2 would parse it again.
    const server = new Ssh2Server(
      {
        hostKeys: [{ key: Array.isArray(parsed) ? (parsed[0] as ParsedKey) : parsed }],
        ident: 'gvos-sim',
        algorithms: SSH_ALGORITHMS[mode],
      },
      (client, info) => this.onClient(client, info),
    );
    server.on('error', (err: Error) => this.log.error('ssh server error', { err: err.message }));
    this.sshServer = server;
    return server;
  }

  private onClient(client: Connection, info: ClientInfo): void {
    const source = `ssh ${info.ip}:${info.port}`;
    const key = `${info.ip}:${info.port}`;
    this.clients.add(client);
    const lockedMs = this.logins.throttle.lockedFor(info.ip);
    if (lockedMs > 0) setUserauthBanner(client, `% ${lockoutMessage(info.ip, lockedMs)}`);
    let user = '';
    let role: Role | undefined;
    let failures = 0;
    client.on('error', (err: Error) => this.log.debug('ssh connection error', { source, err: err.message }));
    client.on('close', () => {
      this.clients.delete(client);
    });
    client.on('authentication', (ctx) => {
      if (this.closing) return ctx.reject();
      if (ctx.method !== 'password') return ctx.reject(['password']);
      const { username, password } = ctx;
      void this.checkPassword({ user: username, password, address: info.ip, source, failures }).then((v) => {
        try {
          if (v.kind === 'ok') {
            user = username;
            role = v.role;
            ctx.accept();
            return;
          }
          if (v.kind === 'refused') {
            ctx.reject();
            client.end();
            return;
          }
          failures++;
          if (v.kind === 'incorrect' && (v.last || v.lockout)) {
            ctx.reject();
            client.end();
            return;
          }
          ctx.reject(['password']);
        } catch {
          // The client left while its password was checked.
        }
      });
    });
    client.on('ready', () => {
      // Logged in: the login deadline no longer applies.
      const p = this.pending.get(key);
      if (p) clearTimeout(p.deadline);
      this.pending.delete(key);
      client.on('session', (accept) => this.onChannel(accept(), user, role!, source));
    });
  }

  private onChannel(ch: SshChannel, user: string, role: Role, source: string): void {
    let pty: PseudoTtyInfo | undefined;
    let session: Session | undefined;
    ch.on('pty', (accept, _reject, info) => {
      pty = info;
      accept?.();
    });
    ch.on('window-change', (accept, _reject, info) => {
      session?.resize(info.cols, info.rows);
      accept?.();
    });
    // Accepted and ignored: the CLI takes nothing from the environment.
    ch.on('env', (accept) => accept?.());
    ch.on('shell', (accept) => {
      session = this.startShell(accept(), user, role, source, pty);
    });
    ch.on('exec', (accept, _reject, info) => {
      this.runExec(accept(), info.command, user, role, source, pty);
    });
  }

  /** Refuse a channel when the box has too many sessions; true when refused. */
  private refuse(stream: ServerChannel, crlf: boolean): boolean {
    if (!this.closing && this.sessions.size < this.maxSessions) return false;
    this.log.warn('cli session refused: too many sessions', { max: this.maxSessions });
    safeWrite(stream, tooManySessions(this.o.boxId, this.maxSessions) + (crlf ? '\r\n' : '\n'));
    finish(stream, 1);
    return true;
  }

  private startShell(
    stream: ServerChannel,
    user: string,
    role: Role,
    source: string,
    pty: PseudoTtyInfo | undefined,
  ): Session | undefined {
    stream.on('error', (err: Error) => this.log.debug('ssh channel error', { source, err: err.message }));
    if (this.refuse(stream, !!pty)) return undefined;
    const session = this.startSession(user, role, source, {
      interactive: !!pty,
      ...(pty ? { cols: pty.cols, rows: pty.rows } : {}),
      write: (s) => safeWrite(stream, s),
      close: () => finish(stream, 0),
    });
    stream.on('data', (d: Buffer) => session.input(d));
    // EOF from the client (stdin closed): finish the typed lines, then close.
    stream.on('end', () => session.inputEnd());
    stream.on('close', () => this.sessionEnded(session));
    session.start();
    return session;
  }

  private runExec(
    stream: ServerChannel,
    command: string,
    user: string,
    role: Role,
    source: string,
    pty: PseudoTtyInfo | undefined,
  ): void {
    stream.on('error', (err: Error) => this.log.debug('ssh channel error', { source, err: err.message }));
    if (this.refuse(stream, !!pty)) return;
    // EMULATION: an exec channel starts in enable mode and may hold several lines (one command each).
    const session = this.startSession(user, role, source, {
      interactive: !!pty,
      startMode: 'enable',
      write: () => undefined,
      close: () => undefined,
    });
    stream.on('close', () => this.sessionEnded(session));
    // The exec command takes no input; drain what the client sends so its window never fills.
    stream.resume();
    void session.runOnce(command).then((out) => {
      this.sessions.delete(session);
      if (session.ended) return;
      safeWrite(stream, out);
      // EMULATION: the exit status is 1 when any command of the exec line failed.
      finish(stream, session.failures > 0 ? 1 : 0);
    });
  }
}

/** Write unless the channel is gone (the client may leave at any moment). */
function safeWrite(stream: ServerChannel, s: string): void {
  if (!stream.writable || stream.destroyed) return;
  try {
    // C1 and bidi controls (from certificate subjects, names) are shown escaped, never sent raw.
    stream.write(escapeUnsafe(s));
  } catch {
    // The client went away between the check and the write.
  }
}

/** Send the exit status and close the channel, unless the client already did. */
function finish(stream: ServerChannel, code: number): void {
  if (!stream.writable || stream.destroyed) return;
  try {
    stream.exit(code);
    stream.end();
  } catch {
    // Already closed by the client.
  }
}

/**
 * Make the SSH userauth banner of this one connection say `text`. ssh2 has
 * only a server-wide banner, so this sets the connection's own copy, which
 * ssh2 sends when the client asks for the userauth service, right after the
 * 'connection' event. If ssh2's internals ever change shape, nothing breaks:
 * the client then sees only "Permission denied" (the box log still says why).
 */
function setUserauthBanner(client: Connection, text: string): void {
  const proto = (client as unknown as { _protocol?: { _banner?: string } })._protocol;
  if (proto && typeof proto === 'object') proto._banner = text + '\r\n';
}
