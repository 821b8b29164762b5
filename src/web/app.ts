/**
 * The koa apps of a box, built apart from any socket so they can be tested
 * without one (koa/hono style):
 * - the HTTPS app: a small landing page (the REST API and GUI have their own issue);
 * - the HTTP app: answers ACME http-01 tokens from the box's ChallengeTokens
 *   (RFC 8555 §8.3) and redirects everything else to HTTPS.
 */
import Koa from 'koa';
import { Router } from '@koa/router';
import type { Box } from '../device/box.js';

/** Key authorizations are base64url tokens (RFC 8555 §8.1); anything else is not ours. */
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/** Security headers on every HTTPS answer. */
function securityHeaders(): Koa.Middleware {
  return async (ctx, next) => {
    await next();
    ctx.set('Strict-Transport-Security', 'max-age=31536000');
    ctx.set('X-Content-Type-Options', 'nosniff');
    ctx.set('X-Frame-Options', 'DENY');
    ctx.set('Content-Security-Policy', "default-src 'self'");
  };
}

/** The HTTPS app. `getBox` is called per request: the host may replace the box on reload. */
export function createHttpsApp(getBox: () => Box): Koa {
  const app = new Koa();
  const router = new Router();
  app.use(securityHeaders());
  router.get('/', (ctx) => {
    const box = getBox();
    const img = box.image;
    const web = box.certificate(box.webCertificateName);
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(box.hostname)} - GigaVUE-OS</title></head>
<body>
<h1>GigaVUE-OS ${esc(img.version)} (simulated)</h1>
<table>
<tr><th>Hostname</th><td id="hostname">${esc(box.hostname)}</td></tr>
<tr><th>Box ID</th><td id="box-id">${box.boxId}</td></tr>
<tr><th>Model</th><td>${esc(box.identity.model)}</td></tr>
<tr><th>Serial</th><td>${esc(box.identity.serial)}</td></tr>
<tr><th>Web certificate</th><td id="web-cert">${esc(web.name)} (serial ${esc(web.facts.serial)})</td></tr>
</table>
</body></html>
`;
  });
  router.get('/health', (ctx) => {
    ctx.body = { status: 'ok', boxId: getBox().boxId };
  });
  app.use(router.routes()).use(router.allowedMethods());
  return app;
}

/**
 * The HTTP app: http-01 answers and a redirect to HTTPS. `httpsPort` is the
 * box's HTTPS port for the redirect.
 */
export function createHttpApp(getBox: () => Box, httpsPort: () => number): Koa {
  const app = new Koa();
  const router = new Router();
  router.get('/.well-known/acme-challenge/:token', (ctx) => {
    const token = ctx.params.token ?? '';
    const keyAuthorization = TOKEN.test(token) ? getBox().challenges.get(token) : undefined;
    if (keyAuthorization === undefined) {
      ctx.status = 404;
      ctx.body = 'no such challenge token\n';
      return;
    }
    ctx.type = 'text/plain';
    ctx.body = keyAuthorization;
  });
  app.use(router.routes());
  app.use((ctx) => {
    // Host header minus any port, then our HTTPS port; the path is kept.
    const host = (ctx.request.hostname || getBox().address).replace(/^\[?([^\]]+)\]?$/, '$1');
    const hostPart = host.includes(':') ? `[${host}]` : host;
    const port = httpsPort();
    ctx.status = 301;
    ctx.redirect(`https://${hostPart}${port === 443 ? '' : ':' + port}${ctx.url}`);
  });
  return app;
}
