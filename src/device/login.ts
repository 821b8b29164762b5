/**
 * The login sequence, once for every transport (SSH, TCP CLI, REST Basic
 * and POST /login): lockout check, remembered credentials, reservation in
 * the throttle, the password check, the outcome counted, the failure
 * announced. Each transport maps the LoginResult to its own wire (a `% `
 * line, an SSH banner and userauth failure, a 401 or 429).
 *
 * Contract:
 * - a source or user name that is locked out is refused before anything
 *   else, even with the right password (lib/login-throttle.ts);
 * - correct credentials stay cheap and are never throttled: parallel checks
 *   of the same user name and password from one source share one password
 *   check, and credentials verified in the last REMEMBER_MS are accepted
 *   without one, as long as the user's password record is the same one
 *   (Box.credentialStamp: a password change or removal forgets them at once);
 * - every other check is reserved in the throttle first, so concurrency
 *   cannot exceed its bound;
 * - each failed check emits `login-failed` on the box (user, source,
 *   transport, and the lockout it started, if any): the host logs it and
 *   the SNMP notifier may trap it.
 *
 * Only credentials that were verified are remembered, as an HMAC under a
 * key that lives in memory only: nothing here can be replayed or read back.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Clock } from '../lib/clock.js';
import { lockoutMessage, sourceKey, userLockoutMessage, type LoginThrottle } from '../lib/login-throttle.js';
import type { Box } from './box.js';
import type { LoginTransport } from './events.js';
import type { Role } from './roles.js';

/** How long verified credentials are accepted without a password check. */
const REMEMBER_MS = 30_000;
/** Verified credentials remembered at most (the oldest go first). */
const MAX_REMEMBERED = 256;

/** One login to decide. */
export interface LoginRequest {
  user: string;
  /** undefined: no password was given (HTTP Basic without a colon); a failure like a wrong one. */
  password: string | undefined;
  /** The client's address as the socket reports it (what the throttle counts). */
  address: string;
  /** The audit source ("ssh 127.0.0.1:51234"). */
  source: string;
  transport: LoginTransport;
}

/** The verdict; each transport maps it to its wire. */
export type LoginResult =
  /** Logged in with this role. */
  | { kind: 'ok'; role: Role }
  /** Refused before any password check: locked out, or too many checks at once from the source. */
  | { kind: 'refused'; reason: 'locked-out' | 'busy'; retryAfterMs: number; message: string }
  /** Wrong user name or password; `lockout` when this failure locked the source or user out. */
  | { kind: 'wrong'; lockout?: { retryAfterMs: number; message: string } }
  /** No verdict: the box is being reloaded (the attempt counted neither way). */
  | { kind: 'unavailable' };

export interface LoginsOptions {
  /** Shared by the box's transports and kept across reloads (the host owns it). */
  throttle: LoginThrottle;
  /** The running box; throws while there is none (during a reload). */
  box: () => Box;
  clock: Pick<Clock, 'now'>;
  rememberMs?: number;
  maxRemembered?: number;
}

interface Remembered {
  user: string;
  stamp: string;
  untilMs: number;
}

/** The logins of one box. See the module comment. */
export class Logins {
  private readonly key = randomBytes(32);
  private readonly remembered = new Map<string, Remembered>();
  private readonly checking = new Map<string, Promise<LoginResult>>();
  private readonly rememberMs: number;
  private readonly maxRemembered: number;

  constructor(private readonly o: LoginsOptions) {
    this.rememberMs = o.rememberMs ?? REMEMBER_MS;
    this.maxRemembered = o.maxRemembered ?? MAX_REMEMBERED;
  }

  /** The throttle behind these logins (the SSH banner asks it whether a source is locked out). */
  get throttle(): LoginThrottle {
    return this.o.throttle;
  }

  /** Decide one login. Never throws. */
  async attemptLogin(req: LoginRequest): Promise<LoginResult> {
    const refusal = this.o.throttle.refusal(req.address, req.user);
    if (refusal) return { kind: 'refused', ...refusal };
    const cred = req.password === undefined ? undefined : this.mac(`${req.user}\0${req.password}`);
    if (cred !== undefined) {
      const role = this.recall(cred);
      if (role) return { kind: 'ok', role };
    }
    // The same credentials from the same source while they are being checked: wait for that check.
    const flight = cred === undefined ? undefined : `${sourceKey(req.address)}\0${cred}`;
    const running = flight === undefined ? undefined : this.checking.get(flight);
    if (running) return running;
    const result = this.check(req, cred);
    if (flight !== undefined) {
      this.checking.set(flight, result);
      void result.finally(() => this.checking.delete(flight));
    }
    return result;
  }

  /** Forget every remembered login (tests; a reload keeps them: the stamps guard staleness). */
  forget(): void {
    this.remembered.clear();
  }

  private async check(req: LoginRequest, cred: string | undefined): Promise<LoginResult> {
    const attempt = this.o.throttle.begin(req.address, req.user);
    if (!attempt.allowed) return { kind: 'refused', ...attempt };
    let box: Box;
    let role: Role | null;
    try {
      box = this.o.box();
      role = req.password === undefined ? null : await box.authenticate(req.user, req.password);
    } catch {
      // The box is being reloaded: no login now, and the password was not judged.
      attempt.abandon();
      return { kind: 'unavailable' };
    }
    if (role) {
      attempt.succeeded();
      const stamp = box.credentialStamp(req.user);
      if (cred !== undefined && stamp !== undefined) this.remember(cred, req.user, stamp);
      return { kind: 'ok', role };
    }
    const f = attempt.failed();
    box.events.emit('login-failed', {
      boxId: box.boxId,
      user: req.user,
      address: req.address,
      source: req.source,
      transport: req.transport,
      ...(f.lockedOutMs !== undefined ? { lockedOut: f.locked, lockedOutMs: f.lockedOutMs } : {}),
    });
    if (f.lockedOutMs === undefined) return { kind: 'wrong' };
    const message =
      f.locked === 'user' ? userLockoutMessage(f.lockedOutMs) : lockoutMessage(req.address, f.lockedOutMs);
    return { kind: 'wrong', lockout: { retryAfterMs: f.lockedOutMs, message } };
  }

  /** The role of remembered credentials, if they are still good. */
  private recall(cred: string): Role | undefined {
    const r = this.remembered.get(cred);
    if (!r) return undefined;
    let box: Box;
    try {
      box = this.o.box();
    } catch {
      return undefined;
    }
    if (r.untilMs > this.o.clock.now() && box.credentialStamp(r.user) === r.stamp) {
      const role = box.users().find((u) => u.name === r.user)?.role;
      if (role) return role;
    }
    this.remembered.delete(cred);
    return undefined;
  }

  private remember(cred: string, user: string, stamp: string): void {
    this.remembered.delete(cred);
    while (this.remembered.size >= this.maxRemembered) {
      const oldest = this.remembered.keys().next().value;
      if (oldest === undefined) break;
      this.remembered.delete(oldest);
    }
    this.remembered.set(cred, { user, stamp, untilMs: this.o.clock.now() + this.rememberMs });
  }

  private mac(s: string): string {
    return createHmac('sha256', this.key).update(s).digest('base64url');
  }
}
