/**
 * Who is asking: HTTP Basic over TLS with the box's users, or a session
 * token from POST /api/v1/login. Either way the result is the device's
 * Actor, whose role the Box methods check exactly as for a CLI session, and
 * whose source ("rest <ip>:<port>") goes into every audit event.
 */
import { createHash, randomBytes } from 'node:crypto';
import type Koa from 'koa';
import type { Box } from '../../device/box.js';
import type { Logins } from '../../device/login.js';
import type { Actor, Role } from '../../device/roles.js';
import { WebError } from './problem.js';

/** How sessions expire. Times come from the box's clock, like every time of the simulator. */
export interface SessionOptions {
  /** A session unused this long is gone (sliding). */
  idleMs: number;
  /** A session is gone this long after login, used or not. */
  maxAgeMs: number;
  /** At most this many live sessions per box; the oldest is dropped for a new one. */
  maxSessions: number;
  now: () => number;
}

/** A session unused for 30 minutes ends. */
export const DEFAULT_SESSION_IDLE_MS = 30 * 60_000;
/** Every session ends 12 hours after login. */
export const DEFAULT_SESSION_MAX_AGE_MS = 12 * 3600_000;
/** Live sessions per box; the oldest goes for a new login beyond this. */
export const DEFAULT_MAX_SESSIONS = 256;

interface SessionRecord {
  user: string;
  /** The user's credential stamp at login (Box.credentialStamp): a password change or removal ends the session. */
  stamp: string | undefined;
  createdMs: number;
  lastUsedMs: number;
}

/** A live session as lookup() reports it. */
export interface SessionInfo {
  user: string;
  /** The user's credential stamp when the session was created. */
  stamp: string | undefined;
  /** When the session ends if not used again. */
  expiresMs: number;
}

/**
 * The session tokens of one box, in memory only: a reload or restart logs
 * everybody out, as on the real device. Tokens are 256 random bits; only
 * their SHA-256 is kept, so the table itself holds nothing a client could
 * replay. Not shared between boxes.
 */
export class SessionStore {
  private readonly sessions = new Map<string, SessionRecord>();

  constructor(private readonly o: SessionOptions) {}

  /**
   * A new token for `user`, whose password record is `stamp` now
   * (Box.credentialStamp). The token is returned once and never stored in clear.
   */
  create(user: string, stamp: string | undefined): { token: string; expiresMs: number } {
    this.prune();
    if (this.sessions.size >= this.o.maxSessions) {
      // Maps iterate in insertion order: the first key is the oldest login.
      const oldest = this.sessions.keys().next().value;
      if (oldest !== undefined) this.sessions.delete(oldest);
    }
    const token = randomBytes(32).toString('base64url');
    const now = this.o.now();
    const rec = { user, stamp, createdMs: now, lastUsedMs: now };
    this.sessions.set(hash(token), rec);
    return { token, expiresMs: this.expiry(rec) };
  }

  /** The session of `token`, extending its idle time; undefined when unknown or expired (then forgotten). */
  lookup(token: string): SessionInfo | undefined {
    const key = hash(token);
    const rec = this.sessions.get(key);
    if (!rec) return undefined;
    const now = this.o.now();
    if (now >= this.expiry(rec)) {
      this.sessions.delete(key);
      return undefined;
    }
    rec.lastUsedMs = now;
    return { user: rec.user, stamp: rec.stamp, expiresMs: this.expiry(rec) };
  }

  /** End the session of `token`; true when there was one. */
  revoke(token: string): boolean {
    return this.sessions.delete(hash(token));
  }

  /** Number of sessions held (expired ones included until pruned). */
  get size(): number {
    return this.sessions.size;
  }

  private expiry(r: SessionRecord): number {
    return Math.min(r.lastUsedMs + this.o.idleMs, r.createdMs + this.o.maxAgeMs);
  }

  private prune(): void {
    const now = this.o.now();
    for (const [k, r] of this.sessions) if (now >= this.expiry(r)) this.sessions.delete(k);
  }
}

function hash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** What the auth step leaves in ctx.state. */
export interface AuthState {
  actor: Actor;
  /** How the request authenticated; the token when it was a session. */
  via: { kind: 'basic' } | { kind: 'token'; token: string; expiresMs: number };
}

/** The client's address as the socket reports it (what failed logins are counted under). */
function remoteAddress(ctx: Koa.Context): string {
  return ctx.req.socket.remoteAddress ?? 'unknown';
}

/** The audit source of a request: "rest <ip>:<port>" (IPv6 in brackets, IPv4-mapped shown as IPv4). */
export function restSource(ctx: Koa.Context): string {
  const ip = remoteAddress(ctx).replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
  return `rest ${ip.includes(':') ? `[${ip}]` : ip}:${ctx.req.socket.remotePort ?? 0}`;
}

/** A 429 with Retry-After in seconds (RFC 6585 §4, RFC 9110 §10.2.3). */
function tooMany(message: string, retryAfterMs: number): WebError {
  return new WebError('too-many-attempts', message, {
    'Retry-After': String(Math.ceil(retryAfterMs / 1000)),
  });
}

/**
 * Check a user name and password from `ctx`'s client (device/login.ts):
 * resolves the role; throws WebError 429 when the source is locked out (also
 * when this failure locks it out) or has too many checks running, 503 while
 * the box reloads, or `wrong()` when the password is wrong. Shared by HTTP
 * Basic and POST /login, so both count against one limit.
 */
export async function checkPassword(
  ctx: Koa.Context,
  logins: Logins,
  user: string,
  password: string | undefined,
  wrong: () => WebError,
): Promise<Role> {
  const r = await logins.attemptLogin({
    user,
    password,
    address: remoteAddress(ctx),
    source: restSource(ctx),
    transport: 'rest',
  });
  switch (r.kind) {
    case 'ok':
      return r.role;
    case 'refused':
      throw tooMany(r.message, r.retryAfterMs);
    case 'unavailable':
      throw new WebError('busy', 'The box is restarting; try again shortly.', { 'Retry-After': '1' });
    case 'wrong':
      if (r.lockout) throw tooMany(r.lockout.message, r.lockout.retryAfterMs);
      throw wrong();
  }
}

const REALM = 'realm="gvos-sim", charset="UTF-8"';

/**
 * The challenge sent with a 401. A client that sent a token (the GUI) gets
 * only a Bearer challenge, so that the browser does not pop up its own
 * password dialog over the page; others are offered Basic too (RFC 9110 §11.6.1).
 */
function challenge(sentBearer: boolean): Record<string, string> {
  return { 'WWW-Authenticate': sentBearer ? `Bearer ${REALM}` : `Basic ${REALM}, Bearer ${REALM}` };
}

/**
 * Authenticate a request against `box`'s users. Throws WebError 401 (with a
 * challenge) when there are no credentials, wrong ones, or a token that
 * expired, belongs to a user that no longer exists or whose password was
 * changed since the token was issued; 429 when the client's
 * address is locked out after failed passwords (`throttle`; tokens are not
 * counted: 256 random bits are not guessed, and an expired GUI session must
 * not lock its user out). The role is the user's current role, so a
 * demotion takes effect on the next request.
 */
export async function authenticate(
  ctx: Koa.Context,
  box: Box,
  sessions: SessionStore,
  logins: Logins,
): Promise<AuthState> {
  const header = ctx.get('Authorization');
  const source = restSource(ctx);
  const [scheme = '', value = ''] = header.split(/\s+/, 2);
  switch (scheme.toLowerCase()) {
    case 'basic': {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const user = colon < 0 ? decoded : decoded.slice(0, colon);
      const password = colon < 0 ? undefined : decoded.slice(colon + 1);
      const role = await checkPassword(
        ctx,
        logins,
        user,
        password,
        () => new WebError('unauthenticated', 'Wrong user name or password.', challenge(false)),
      );
      return { actor: { user, role, source }, via: { kind: 'basic' } };
    }
    case 'bearer': {
      const found = value ? sessions.lookup(value) : undefined;
      // A token ends with its user's password: changed or removed since the login, it is refused (and forgotten).
      const s = found && found.stamp === box.credentialStamp(found.user) ? found : undefined;
      if (found && !s) sessions.revoke(value);
      const role = s ? currentRole(box, s.user) : undefined;
      if (!s || !role) {
        throw new WebError(
          'unauthenticated',
          'The session has expired or was closed; log in again (POST /api/v1/login).',
          challenge(true),
        );
      }
      return {
        actor: { user: s.user, role, source },
        via: { kind: 'token', token: value, expiresMs: s.expiresMs },
      };
    }
    default:
      throw new WebError(
        'unauthenticated',
        'Authentication required: use HTTP Basic with a user of the box, or a token from POST /api/v1/login.',
        challenge(false),
      );
  }
}

/** The user's role now, or undefined when the user was removed. */
function currentRole(box: Box, user: string): Role | undefined {
  return box.users().find((u) => u.name === user)?.role;
}
