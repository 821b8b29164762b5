/**
 * Who may use the control plane, and how the dashboard logs in:
 * - `Authorization: Bearer <token>` (the CLI, scripts): every route;
 * - `Authorization: Basic` with the lab's admin user and password, as
 *   GigaVUE-FM's clients send it (the FM-shaped API, fm-api/): every route;
 *   a wrong one counts as a failed login (the throttle below);
 * - a dashboard session cookie (sessions.ts): every route too, and every
 *   change (any method but GET/HEAD) must carry the session's CSRF token in
 *   the X-CSRF-Token header.
 * A login takes the lab's admin user and password (what `lab up` printed)
 * or the token; it is refused over plain HTTP (the cookie is Secure) and
 * throttled per source like a box's logins (lib/login-throttle.ts: 5
 * failures within a minute lock the source out for a minute).
 */
import type Koa from 'koa';
import { LoginThrottle } from '../../lib/login-throttle.js';
import type { Clock } from '../../lib/clock.js';
import { WebError } from '../../web/api/problem.js';
import {
  CSRF_HEADER,
  DashboardSessions,
  sameSecret,
  sessionIdOf,
  type DashboardSession,
} from './sessions.js';

/** What a login sends: the admin's user and password, or the lab token. */
export interface LoginBody {
  user?: string;
  password?: string;
  token?: string;
}

/** What a logged-in page learns about its session. */
export interface SessionInfo {
  user: string;
  csrfToken: string;
  /** When the session ends at the latest (ISO 8601). */
  expiresAt: string;
}

/** The control plane's gate (see the file comment). One per control plane. */
export class PlaneAuth {
  readonly sessions: DashboardSessions;
  private readonly throttle: LoginThrottle;
  private readonly maxAgeMs = 24 * 3600_000;

  constructor(
    private readonly token: string,
    private readonly adminPassword: string,
    clock: Clock,
  ) {
    this.sessions = new DashboardSessions(() => clock.now(), { maxAgeMs: this.maxAgeMs });
    this.throttle = new LoginThrottle({ clock });
  }

  /**
   * Throw 401 unless the request carries the token or a live session (and,
   * for a change made with a session, its CSRF token: 403). Resolves the
   * session when that is how it came.
   */
  check(ctx: Koa.Context): DashboardSession | undefined {
    const header = ctx.get('Authorization');
    const m = /^bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (m && sameSecret(m[1]!, this.token)) return undefined;
    const basic = /^basic[ \t]+(\S{1,1024})[ \t]*$/i.exec(header);
    if (basic) {
      this.checkBasic(ctx, basic[1]!);
      return undefined;
    }
    const session = m ? undefined : this.sessions.get(sessionIdOf(ctx.get('Cookie')));
    if (!session) throw unauthenticated();
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD' && !sameSecret(ctx.get(CSRF_HEADER), session.csrf))
      throw new WebError(
        'permission-denied',
        `a change from the dashboard needs its ${CSRF_HEADER} header; reload the page`,
      );
    return session;
  }

  /** HTTP Basic: admin and the lab's admin password, throttled per source like a login; 401 or 429 otherwise. */
  private checkBasic(ctx: Koa.Context, b64: string): void {
    const text = Buffer.from(b64, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    const user = colon > 0 ? text.slice(0, colon) : '';
    const attempt = this.throttle.begin(ctx.ip, user || 'admin');
    if (!attempt.allowed)
      throw new WebError('too-many-attempts', attempt.message, {
        'Retry-After': String(Math.ceil(attempt.retryAfterMs / 1000)),
      });
    if (user === 'admin' && sameSecret(text.slice(colon + 1), this.adminPassword)) {
      attempt.succeeded();
      return;
    }
    attempt.failed();
    throw unauthenticated();
  }

  /** Log in (see the file comment): sets the cookie, resolves the session's facts. */
  login(ctx: Koa.Context, body: LoginBody): SessionInfo {
    if (!ctx.secure)
      throw new WebError('bad-input', 'log in over the HTTPS URL (the session cookie is Secure)');
    const user = body.token !== undefined ? 'token' : (body.user ?? 'admin');
    const attempt = this.throttle.begin(ctx.ip, user);
    if (!attempt.allowed)
      throw new WebError('too-many-attempts', attempt.message, {
        'Retry-After': String(Math.ceil(attempt.retryAfterMs / 1000)),
      });
    const ok =
      body.token !== undefined
        ? sameSecret(body.token, this.token)
        : user === 'admin' && sameSecret(body.password ?? '', this.adminPassword);
    if (!ok) {
      attempt.failed();
      throw new WebError('unauthenticated', 'wrong user, password or token');
    }
    attempt.succeeded();
    const s = this.sessions.create(user);
    ctx.set('Set-Cookie', DashboardSessions.cookie(s, this.maxAgeMs));
    return this.info(s);
  }

  /** End the request's session and clear its cookie. */
  logout(ctx: Koa.Context): void {
    const id = sessionIdOf(ctx.get('Cookie'));
    if (id) this.sessions.delete(id);
    ctx.set('Set-Cookie', DashboardSessions.cookie(undefined));
  }

  /** The facts of a session a page may hold (never its id). */
  info(s: DashboardSession): SessionInfo {
    return {
      user: s.user,
      csrfToken: s.csrf,
      expiresAt: new Date(s.createdMs + this.maxAgeMs).toISOString(),
    };
  }
}

/** The 401 of the plane: what it takes, and both challenges (RFC 7235 §4.1). */
function unauthenticated(): WebError {
  return new WebError(
    'unauthenticated',
    'missing or wrong bearer token or Basic credentials (see the lab state file), or no dashboard session (log in)',
    { 'WWW-Authenticate': 'Bearer realm="gvos-sim-lab", Basic realm="gvos-sim-lab", charset="UTF-8"' },
  );
}
