/**
 * The koa side of the box's REST API: the routes of the table in routes.ts,
 * each request passing, in order: authentication (HTTP Basic or a session
 * token), the role check (refused early with the CLI's "Permission denied.";
 * the Box checks again), query parameters and the JSON body against the
 * route's schemas, then the handler. Anything thrown becomes problem+json.
 * Changes carry the Actor "rest <ip>:<port>", so the Box's audit event names
 * the user and where the request came from.
 */
import type Koa from 'koa';
import { Router } from '@koa/router';
import type { Box } from '../../device/box.js';
import { DeviceError } from '../../device/errors.js';
import { Logins } from '../../device/login.js';
import { roleAllows } from '../../device/roles.js';
import { LoginThrottle } from '../../lib/login-throttle.js';
import type { Logger } from '../../lib/logger.js';
import { authenticate, restSource, type AuthState, type SessionStore } from './auth.js';
import { API_PREFIX, buildOpenApiDocument, type OpenApiDocument } from './openapi.js';
import { problemMiddleware } from './problem.js';
import { mountRoutes } from './route-table.js';
import { ROUTES, type BoxCall } from './routes.js';

export { ROUTES } from './routes.js';
export { toOpenApiPath } from './route-table.js';

/** What the API needs from the host. */
export interface ApiOptions {
  /** The box, looked up per request. */
  getBox: () => Box;
  /** The boxes of the cluster for /system/chassis; just this box when absent. */
  clusterBoxes?: () => Box[];
  sessions: SessionStore;
  /**
   * The box's logins (device/login.ts) for HTTP Basic and POST /login, with
   * the failed passwords per source shared with the box's CLI transports.
   * Default: the API's own, on the box's clock.
   */
  logins?: Logins;
  logger: Logger;
}

/** The box API's OpenAPI document, generated from the route table (a fresh object each call). */
export function openApiDocument(): OpenApiDocument {
  return buildOpenApiDocument(ROUTES);
}

/**
 * The document every box serves: built on first use and shared by the
 * boxes of the process (building it took about 5 ms per box at boot); never
 * changed (the route clones it for each answer).
 */
let served: OpenApiDocument | undefined;

/**
 * The API as one koa middleware: requests under /api/v1 get the routes,
 * with problem+json for every error (unknown paths and methods included);
 * other requests pass to `next`.
 */
export function createApiMiddleware(o: ApiOptions): Koa.Middleware {
  const router = createApiRouter(o);
  const problems = problemMiddleware(o.logger);
  const routes = router.routes() as unknown as Koa.Middleware;
  // Bare 405/501 for a known path with another method; problemMiddleware turns them into problem+json.
  const allowed = router.allowedMethods() as unknown as Koa.Middleware;
  return (ctx, next) => {
    if (ctx.path !== API_PREFIX && !ctx.path.startsWith(API_PREFIX + '/')) return next();
    // eslint-disable-next-line @typescript-eslint/no-unsafe-return -- koa's Middleware type returns any
    return problems(ctx, () => routes(ctx, () => allowed(ctx, async () => undefined)));
  };
}

/** Logins of the API alone (no CLI shares them), on the box's clock. */
function defaultLogins(getBox: () => Box): Logins {
  const clock = { now: () => getBox().clock.now() };
  return new Logins({ throttle: new LoginThrottle({ clock }), box: getBox, clock });
}

/**
 * The router of ROUTES (prefix /api/v1), without the error middleware: see
 * createApiMiddleware. The body validators are compiled here, once; a schema
 * keyword the validator cannot word throws here, at start.
 */
export function createApiRouter(options: ApiOptions): Router {
  const logins = options.logins ?? defaultLogins(options.getBox);
  const document = (served ??= openApiDocument());
  const router = new Router({ prefix: API_PREFIX });
  const streams = { open: 0 };
  mountRoutes<BoxCall>(router, ROUTES, async (ctx, r) => {
    const box = options.getBox();
    const role = (r as (typeof ROUTES)[number]).role;
    let auth: AuthState | undefined;
    if (role) {
      auth = await authenticate(ctx, box, options.sessions, logins);
      if (!roleAllows(auth.actor.role, role))
        throw new DeviceError('permission-denied', 'Permission denied.');
    }
    return {
      box,
      // Public routes (login, the document) change nothing, so their stand-in actor is never audited.
      actor: auth?.actor ?? { user: '', role: 'monitor', source: restSource(ctx) },
      auth,
      clusterBoxes: options.clusterBoxes,
      sessions: options.sessions,
      logins,
      logger: options.logger,
      document,
      streams,
    };
  });
  return router;
}
