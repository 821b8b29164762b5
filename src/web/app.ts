/**
 * The koa apps of a box, built apart from any socket so they can be tested
 * without one (koa/hono style):
 * - the HTTPS app: the REST API under /api/v1 (api/router.ts), the web GUI
 *   at / (gui/), and /health;
 * - the HTTP app: answers ACME http-01 tokens from the box's ChallengeTokens
 *   (RFC 8555 §8.3) and redirects everything else to HTTPS.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import Koa from 'koa';
import { Router } from '@koa/router';
import type { Box } from '../device/box.js';
import { certificateFacts } from '../pki/certificate.js';
import type { Logins } from '../device/login.js';
import { silentLogger, type Logger } from '../lib/logger.js';
import { reportAppErrors } from './app-errors.js';
import { CHALLENGE_PATH, CHALLENGE_TOKEN, type ChallengeAnswer } from './http-front.js';
import {
  DEFAULT_MAX_SESSIONS,
  DEFAULT_SESSION_IDLE_MS,
  DEFAULT_SESSION_MAX_AGE_MS,
  SessionStore,
  type SessionOptions,
} from './api/auth.js';
import { createApiMiddleware } from './api/router.js';
import { createGuiRouter } from './gui/gui-router.js';

/**
 * The policy of every HTTPS answer. The GUI has no inline script or style
 * and loads nothing from elsewhere, so 'self' is all it needs.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** Security headers on every HTTPS answer (set before the handlers, so errors carry them too). */
function securityHeaders(): Koa.Middleware {
  return async (ctx, next) => {
    ctx.set('Strict-Transport-Security', 'max-age=31536000');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Referrer-Policy', 'no-referrer');
    ctx.set('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    await next();
  };
}

/** Options of the HTTPS app; everything has a default. */
export interface HttpsAppOptions {
  logger?: Logger;
  /** The boxes of the cluster (for /api/v1/system/chassis); just this box when absent. */
  clusterBoxes?: () => Box[];
  /** Session expiry and limits (times on the box's clock). */
  sessions?: Partial<Omit<SessionOptions, 'now'>>;
  /** The box's logins, shared with its CLI (default: the app's own, on the box's clock). */
  logins?: Logins;
}

/**
 * The HTTPS app. `getBox` is called per request: the host may replace the
 * box on reload. Sessions live in this app (one per box), in memory.
 * Throws at construction when the REST routes and the OpenAPI document
 * disagree or the GUI files are missing.
 */
export function createHttpsApp(getBox: () => Box, o: HttpsAppOptions = {}): Koa {
  const app = new Koa();
  const logger = o.logger ?? silentLogger;
  reportAppErrors(app, logger);
  const sessions = new SessionStore({
    idleMs: o.sessions?.idleMs ?? DEFAULT_SESSION_IDLE_MS,
    maxAgeMs: o.sessions?.maxAgeMs ?? DEFAULT_SESSION_MAX_AGE_MS,
    maxSessions: o.sessions?.maxSessions ?? DEFAULT_MAX_SESSIONS,
    now: () => getBox().clock.now(),
  });
  const gui = createGuiRouter(getBox);
  const router = new Router();
  router.get('/health', (ctx) => {
    ctx.body = { status: 'ok', boxId: getBox().boxId };
  });
  app.use(securityHeaders());
  app.use(
    createApiMiddleware({
      getBox,
      clusterBoxes: o.clusterBoxes,
      sessions,
      logins: o.logins,
      logger,
    }),
  );
  app.use(gui.routes()).use(gui.allowedMethods());
  app.use(router.routes()).use(router.allowedMethods());
  return app;
}

/** The http-01 answer to a fetch of `token`: the box's key authorization for it, else 404. */
export function challengeAnswer(box: Box, token: string): ChallengeAnswer {
  const keyAuthorization = CHALLENGE_TOKEN.test(token) ? box.challenges.get(token) : undefined;
  return keyAuthorization === undefined
    ? { status: 404, body: 'no such challenge token\n' }
    : { status: 200, body: keyAuthorization };
}

/**
 * The HTTP port's request handler: http-01 answers (GET or HEAD of
 * /.well-known/acme-challenge/<token>) straight from the box's challenges,
 * every other request through the app that redirects to HTTPS. The answers
 * skip koa: the CA's validator asks three times per certificate, and koa's
 * context and router were most of the port's CPU in a lab's issuance
 * (bench/lab-regression). Most validator fetches do not reach this handler
 * at all: the port's front answers them (http-front.ts) with the same bytes.
 * `httpsPort` is the box's HTTPS port for the redirect.
 */
export function createHttpHandler(
  getBox: () => Box,
  httpsPort: () => number,
): (req: IncomingMessage, res: ServerResponse) => void {
  const redirect = createHttpRedirectApp(getBox, httpsPort).callback();
  return (req, res) => {
    const url = req.url ?? '';
    if ((req.method === 'GET' || req.method === 'HEAD') && url.startsWith(CHALLENGE_PATH)) {
      const q = url.indexOf('?');
      const a = challengeAnswer(getBox(), url.slice(CHALLENGE_PATH.length, q < 0 ? undefined : q));
      res.writeHead(a.status, {
        'Content-Type': 'text/plain; charset=utf-8',
        'Content-Length': Buffer.byteLength(a.body),
      });
      res.end(req.method === 'HEAD' ? undefined : a.body);
      return;
    }
    void redirect(req, res);
  };
}

/** The HTTP port's app for everything but http-01 answers: a redirect to HTTPS. */
function createHttpRedirectApp(getBox: () => Box, httpsPort: () => number): Koa {
  const app = new Koa();
  app.use((ctx) => {
    // Never reflect the Host header as it came (an open redirect): it is used only when it is one
    // of the box's own names (its address, hostname, or a DNS name of the certificate it serves);
    // anything else goes to the box's address.
    const box = getBox();
    const asked = (ctx.request.hostname || '').replace(/^\[?([^\]]+)\]?$/, '$1').toLowerCase();
    const host = ownNames(box).has(asked) ? asked : box.address;
    const hostPart = host.includes(':') ? `[${host}]` : host;
    const port = httpsPort();
    ctx.status = 301;
    ctx.redirect(`https://${hostPart}${port === 443 ? '' : ':' + port}${ctx.url}`);
  });
  return app;
}

/** The names a client may reach `box` by: its address, its hostname, the DNS and IP names of its web certificate. */
function ownNames(box: Box): Set<string> {
  const names = new Set([box.address.toLowerCase(), box.hostname.toLowerCase()]);
  try {
    for (const san of certificateFacts(box.webCredentials().certPem).subjectAltNames) {
      const m = /^(?:DNS|IP):(.+)$/.exec(san);
      if (m) names.add(m[1]!.toLowerCase());
    }
  } catch {
    // No certificate to read names from: the address and hostname remain.
  }
  return names;
}
