/**
 * Dashboard sessions of the lab's control plane. A login (the lab's admin
 * user and password, or the lab token) makes a session: a random id that
 * travels only in a cookie (HttpOnly, Secure, SameSite=Strict, `__Host-`
 * prefix: no Domain, Path=/), and a CSRF token the page sends in a header
 * on every change. So a page of another site can neither read the id nor
 * make the browser act with it (SameSite=Strict keeps the cookie off its
 * requests; the header is what a form or an image cannot set).
 *
 * Contract: ids and CSRF tokens are 32 random bytes, base64url; a session
 * ends after `idleMs` without a request or `maxAgeMs` after login,
 * whichever is first, or on logout; at most `maxSessions` live at once
 * (the oldest goes first). Compared in constant time. In memory only: a
 * restarted lab forgets them (its token changes too).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

/** The session cookie's name (`__Host-`: the browser refuses it without Secure, with a Domain, or a Path other than /). */
export const SESSION_COOKIE = '__Host-gvos-lab';
/** The header carrying the CSRF token on every change. */
export const CSRF_HEADER = 'X-CSRF-Token';

/** One logged-in dashboard. */
export interface DashboardSession {
  id: string;
  csrf: string;
  user: string;
  createdMs: number;
  lastUsedMs: number;
}

/** The sessions of one control plane (see the file comment). */
export class DashboardSessions {
  private readonly byId = new Map<string, DashboardSession>();
  private readonly idleMs: number;
  private readonly maxAgeMs: number;
  private readonly maxSessions: number;

  constructor(
    private readonly now: () => number,
    o: { idleMs?: number; maxAgeMs?: number; maxSessions?: number } = {},
  ) {
    this.idleMs = o.idleMs ?? 8 * 3600_000;
    this.maxAgeMs = o.maxAgeMs ?? 24 * 3600_000;
    this.maxSessions = o.maxSessions ?? 64;
  }

  /** A new session for `user`. */
  create(user: string): DashboardSession {
    const t = this.now();
    const s: DashboardSession = {
      id: randomBytes(32).toString('base64url'),
      csrf: randomBytes(32).toString('base64url'),
      user,
      createdMs: t,
      lastUsedMs: t,
    };
    while (this.byId.size >= this.maxSessions) this.byId.delete(this.byId.keys().next().value!);
    this.byId.set(s.id, s);
    return s;
  }

  /** The live session of this id (its idle time restarts), or undefined. */
  get(id: string | undefined): DashboardSession | undefined {
    if (!id || id.length > 100) return undefined;
    const s = this.byId.get(id);
    if (!s) return undefined;
    const t = this.now();
    if (t - s.lastUsedMs > this.idleMs || t - s.createdMs > this.maxAgeMs) {
      this.byId.delete(id);
      return undefined;
    }
    s.lastUsedMs = t;
    return s;
  }

  /** End a session (logout). */
  delete(id: string): void {
    this.byId.delete(id);
  }

  /** The cookie that carries `s` (or, without `s`, the one that clears it). */
  static cookie(s: DashboardSession | undefined, maxAgeMs = 24 * 3600_000): string {
    const attrs = 'Path=/; Secure; HttpOnly; SameSite=Strict';
    return s
      ? `${SESSION_COOKIE}=${s.id}; ${attrs}; Max-Age=${Math.floor(maxAgeMs / 1000)}`
      : `${SESSION_COOKIE}=; ${attrs}; Max-Age=0`;
  }
}

/** The session id of a Cookie header, if it carries one. */
export function sessionIdOf(cookieHeader: string | undefined): string | undefined {
  for (const part of (cookieHeader ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Constant-time equality of two strings (false when the lengths differ). */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
