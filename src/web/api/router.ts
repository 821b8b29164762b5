/**
 * The REST API of a box under /api/v1. Every route is one row of ROUTES:
 * method, path, the lowest role allowed, and a handler that calls one Box
 * method (the command layer shared with the CLI) and shapes its answer.
 *
 * Each request passes, in order: authentication (HTTP Basic or a session
 * token), the role check (refused early with the CLI's "Permission denied.";
 * the Box checks again), query parameters and the JSON body against the
 * OpenAPI document, then the handler. Anything thrown becomes problem+json.
 * Changes carry the Actor "rest <ip>:<port>", so the Box's audit event names
 * the user and where the request came from.
 */
import type Koa from 'koa';
import { Router, type RouterContext } from '@koa/router';
import type { Box } from '../../device/box.js';
import { DeviceError } from '../../device/errors.js';
import { DEFAULT_SNMP_RATE_PER_SEC, type CryptoMode, type SnmpTarget } from '../../device/model.js';
import { roleAllows, type Actor, type Role } from '../../device/roles.js';
import { clip, validateInt } from '../../device/validate.js';
import { LoginThrottle } from '../../lib/login-throttle.js';
import type { Logger } from '../../lib/logger.js';
import { authenticate, checkPassword, restSource, type AuthState, type SessionStore } from './auth.js';
import { hasBody, readJsonBody } from './body.js';
import {
  API_PREFIX,
  openApiDocument,
  type HttpVerb,
  type OpenApiDocument,
  type Operation,
} from './openapi.js';
import { problemMiddleware, WebError } from './problem.js';
import { SchemaValidator, type JsonSchema } from './schema.js';
import {
  acmeJson,
  certificateJson,
  chassisJson,
  cryptoModeJson,
  FM_ALGORITHMS,
  isoOrNull,
  snmpTargetJson,
  systemJson,
  versionJson,
  webCertificateJson,
  type FmAlgorithm,
} from './views.js';

/** What the API needs from the host. */
export interface ApiOptions {
  /** The box, looked up per request. */
  getBox: () => Box;
  /** The boxes of the cluster for /system/chassis; just this box when absent. */
  clusterBoxes?: () => Box[];
  sessions: SessionStore;
  /**
   * Failed passwords per source (HTTP Basic and POST /login), shared with the
   * box's CLI transports. Default: the API's own, on the box's clock.
   */
  loginThrottle?: LoginThrottle;
  logger: Logger;
}

/** ApiOptions once the defaults are filled in. */
type ResolvedApiOptions = ApiOptions & { loginThrottle: LoginThrottle };

/** What a handler gets: the box, the caller (absent on public routes), the validated body and the path parameters. */
interface Call {
  box: Box;
  actor: Actor;
  auth: AuthState | undefined;
  body: unknown;
  params: Record<string, string>;
  query: Record<string, string>;
}

/** One REST operation. `role` undefined = no login (the OpenAPI document and login only). */
export interface RouteSpec {
  method: HttpVerb;
  /** Path under /api/v1 in koa syntax (":name"). */
  path: string;
  role: Role | undefined;
  handler: (ctx: Koa.Context, call: Call, o: ResolvedApiOptions) => Promise<void> | void;
}

/** The status URL every ACME operation points to. */
export const ACME_STATUS_URL = `${API_PREFIX}/acme`;

/** Body types after validation (the schemas in openapi.ts). */
interface AcmeBody {
  domain?: string;
  acmeServerUrl?: string;
  algorithm?: FmAlgorithm;
  renewDays?: number | null;
}

function send(ctx: Koa.Context, status: number, body?: unknown): void {
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  if (body !== undefined) ctx.body = body;
}

function acmeAccepted(ctx: Koa.Context, operation: 'issue' | 'renew' | 'revoke' | 'clear'): void {
  ctx.set('Location', ACME_STATUS_URL);
  send(ctx, 202, { operation, statusUrl: ACME_STATUS_URL });
}

const certUrl = (name: string) => `${API_PREFIX}/certificates/${encodeURIComponent(name)}`;

/** Every operation of the API. The OpenAPI document lists the same ones (checked at start and by a test). */
export const ROUTES: readonly RouteSpec[] = [
  {
    method: 'get',
    path: '/openapi.json',
    role: undefined,
    handler: (ctx) => send(ctx, 200, openApiDocument()),
  },
  {
    method: 'post',
    path: '/login',
    role: undefined,
    handler: async (ctx, { box, body }, o) => {
      const { username, password } = body as { username: string; password: string };
      const role = await checkPassword(ctx, box, o.loginThrottle, username, password, () => {
        o.logger.warn('REST login failed', { user: username.slice(0, 64), source: restSource(ctx) });
        // A Bearer challenge only: the GUI's login form must not trigger the browser's own dialog.
        return new WebError('unauthenticated', 'Wrong user name or password.', {
          'WWW-Authenticate': 'Bearer realm="gvos-sim"',
        });
      });
      const s = o.sessions.create(username);
      o.logger.info('REST login', { user: username, source: restSource(ctx) });
      send(ctx, 200, {
        token: s.token,
        tokenType: 'Bearer',
        expiresAt: isoOrNull(s.expiresMs),
        user: username,
        role,
      });
    },
  },
  {
    method: 'post',
    path: '/logout',
    role: 'monitor',
    handler: (ctx, { auth }, o) => {
      if (auth?.via.kind === 'token') o.sessions.revoke(auth.via.token);
      send(ctx, 204);
    },
  },
  {
    method: 'get',
    path: '/session',
    role: 'monitor',
    handler: (ctx, { actor, auth }) => {
      const via = auth!.via;
      send(ctx, 200, {
        user: actor.user,
        role: actor.role,
        authenticatedBy: via.kind,
        expiresAt: via.kind === 'token' ? isoOrNull(via.expiresMs) : null,
      });
    },
  },
  {
    method: 'get',
    path: '/system',
    role: 'monitor',
    handler: (ctx, { box }) => send(ctx, 200, systemJson(box)),
  },
  {
    method: 'get',
    path: '/system/version',
    role: 'monitor',
    handler: (ctx, { box }) => send(ctx, 200, versionJson(box)),
  },
  {
    method: 'get',
    path: '/system/chassis',
    role: 'monitor',
    handler: (ctx, { box }, o) => {
      const boxes = o.clusterBoxes?.() ?? [box];
      send(
        ctx,
        200,
        boxes.map((b) => chassisJson(b, box.boxId)),
      );
    },
  },
  {
    method: 'get',
    path: '/system/crypto-mode',
    role: 'monitor',
    handler: (ctx, { box }) => send(ctx, 200, cryptoModeJson(box)),
  },
  {
    method: 'put',
    path: '/system/crypto-mode',
    role: 'admin',
    handler: (ctx, { box, actor, body }) => {
      box.setCryptoMode(actor, (body as { mode: CryptoMode }).mode);
      send(ctx, 200, cryptoModeJson(box));
    },
  },
  {
    method: 'post',
    path: '/system/write-memory',
    role: 'operator',
    handler: async (ctx, { box, actor }) => {
      await box.writeMemory(actor);
      send(ctx, 204);
    },
  },
  {
    method: 'get',
    path: '/certificates',
    role: 'monitor',
    handler: (ctx, { box }) => send(ctx, 200, box.certificates().map(certificateJson)),
  },
  {
    method: 'post',
    path: '/certificates',
    role: 'operator',
    handler: async (ctx, { box, actor, body }) => {
      const { name, pem } = body as { name: string; pem: string };
      await box.addPublicCertificate(actor, name, pem);
      ctx.set('Location', certUrl(name));
      send(ctx, 201, certificateJson(box.certificate(name)));
    },
  },
  {
    method: 'get',
    path: '/certificates/:name',
    role: 'monitor',
    handler: (ctx, { box, params }) => send(ctx, 200, certificateJson(box.certificate(params.name!))),
  },
  {
    method: 'delete',
    path: '/certificates/:name',
    role: 'operator',
    handler: async (ctx, { box, actor, params }) => {
      await box.deleteCertificate(actor, params.name!);
      send(ctx, 204);
    },
  },
  {
    method: 'put',
    path: '/certificates/:name/private-key',
    role: 'operator',
    handler: async (ctx, { box, actor, params, body }) => {
      await box.addPrivateKey(actor, params.name!, (body as { pem: string }).pem);
      send(ctx, 200, certificateJson(box.certificate(params.name!)));
    },
  },
  {
    method: 'get',
    path: '/ca-list',
    role: 'monitor',
    handler: (ctx, { box }) => send(ctx, 200, caList(box)),
  },
  {
    method: 'post',
    path: '/ca-list',
    role: 'operator',
    handler: async (ctx, { box, actor, body }) => {
      await box.addCaListEntry(actor, (body as { name: string }).name);
      send(ctx, 200, caList(box));
    },
  },
  {
    method: 'delete',
    path: '/ca-list/:name',
    role: 'operator',
    handler: async (ctx, { box, actor, params }) => {
      await box.removeCaListEntry(actor, params.name!);
      send(ctx, 204);
    },
  },
  {
    method: 'get',
    path: '/web/certificate',
    role: 'monitor',
    handler: (ctx, { box }) => send(ctx, 200, webCertificateJson(box)),
  },
  {
    method: 'put',
    path: '/web/certificate',
    role: 'operator',
    handler: async (ctx, { box, actor, body }) => {
      await box.setWebCertificate(actor, (body as { name: string }).name);
      send(ctx, 200, webCertificateJson(box));
    },
  },
  {
    method: 'get',
    path: '/snmp/targets',
    role: 'monitor',
    handler: (ctx, { box }) => send(ctx, 200, box.config.snmp.targets.map(snmpTargetJson)),
  },
  {
    method: 'post',
    path: '/snmp/targets',
    role: 'operator',
    handler: (ctx, { box, actor, body }) => {
      const b = body as Omit<SnmpTarget, 'port' | 'ratePerSec'> & { port?: number; ratePerSec?: number };
      const target: SnmpTarget = {
        ...b,
        port: b.port ?? 162,
        ratePerSec: b.ratePerSec ?? DEFAULT_SNMP_RATE_PER_SEC,
      };
      box.snmpSetTarget(actor, target);
      ctx.set('Location', `${API_PREFIX}/snmp/targets/${encodeURIComponent(target.host)}`);
      send(ctx, 201, snmpTargetJson(target));
    },
  },
  {
    method: 'delete',
    path: '/snmp/targets/:host',
    role: 'operator',
    handler: (ctx, { box, actor, params, query }) => {
      const port = query.port === undefined ? undefined : validateInt('port', query.port, 1, 65535);
      box.snmpRemoveTarget(actor, params.host!, port);
      send(ctx, 204);
    },
  },
  { method: 'get', path: '/acme', role: 'monitor', handler: (ctx, { box }) => send(ctx, 200, acmeJson(box)) },
  {
    method: 'post',
    path: '/acme/issue',
    role: 'admin',
    handler: async (ctx, { box, actor, body }) => {
      const b = body as AcmeBody;
      await box.acmeIssue(actor, {
        domain: b.domain!,
        directoryUrl: b.acmeServerUrl!,
        keyAlgorithm: b.algorithm === undefined ? undefined : FM_ALGORITHMS[b.algorithm],
        renewDays: b.renewDays ?? undefined,
      });
      acmeAccepted(ctx, 'issue');
    },
  },
  {
    method: 'post',
    path: '/acme/renew',
    role: 'admin',
    handler: async (ctx, { box, actor, body }) => {
      await box.acmeRenew(actor, (body as AcmeBody).domain!);
      acmeAccepted(ctx, 'renew');
    },
  },
  {
    method: 'post',
    path: '/acme/revoke',
    role: 'admin',
    handler: async (ctx, { box, actor, body }) => {
      await box.acmeRevoke(actor, (body as AcmeBody).domain!);
      acmeAccepted(ctx, 'revoke');
    },
  },
  {
    method: 'post',
    path: '/acme/clear',
    role: 'admin',
    handler: async (ctx, { box, actor }) => {
      await box.acmeClear(actor);
      acmeAccepted(ctx, 'clear');
    },
  },
];

function caList(box: Box) {
  return box
    .certificates()
    .filter((c) => c.inCaList)
    .map(certificateJson);
}

/** "/certificates/:name" -> "/certificates/{name}" (OpenAPI path template). */
export function toOpenApiPath(koaPath: string): string {
  return koaPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** The operation of `doc` for a route; throws (at start) when the document lacks it or disagrees on the role. */
function operationFor(doc: OpenApiDocument, r: RouteSpec): Operation {
  const op = doc.paths[toOpenApiPath(r.path)]?.[r.method];
  if (!op) throw new Error(`REST route ${r.method.toUpperCase()} ${r.path} is not in the OpenAPI document`);
  if (op['x-min-role'] !== r.role) {
    throw new Error(
      `REST route ${r.method.toUpperCase()} ${r.path}: role ${r.role} but the document says ${op['x-min-role']}`,
    );
  }
  return op;
}

/**
 * The API as one koa middleware: requests under /api/v1 get the routes,
 * with problem+json for every error (unknown paths and methods included);
 * other requests pass to `next`. Throws at construction like createApiRouter.
 */
export function createApiMiddleware(o: ApiOptions): Koa.Middleware {
  const router = createApiRouter(o);
  const problems = problemMiddleware(o.logger);
  const routes = router.routes() as unknown as Koa.Middleware;
  // Bare 405/501 for a known path with another method; problemMiddleware turns them into problem+json.
  const allowed = router.allowedMethods() as unknown as Koa.Middleware;
  return (ctx, next) => {
    if (ctx.path !== API_PREFIX && !ctx.path.startsWith(API_PREFIX + '/')) return next();
    return problems(ctx, () => routes(ctx, () => allowed(ctx, async () => undefined)));
  };
}

/**
 * The router of ROUTES (prefix /api/v1), without the error middleware: see
 * createApiMiddleware. Throws at construction if ROUTES and the OpenAPI
 * document disagree or a schema uses a keyword the validator does not know.
 */
export function createApiRouter(options: ApiOptions): Router {
  const o: ResolvedApiOptions = {
    ...options,
    loginThrottle:
      options.loginThrottle ?? new LoginThrottle({ clock: { now: () => options.getBox().clock.now() } }),
  };
  const doc = openApiDocument();
  const validator = new SchemaValidator(doc.components.schemas);
  const router = new Router({ prefix: API_PREFIX });

  for (const r of ROUTES) {
    const op = operationFor(doc, r);
    const bodySchema = op.requestBody?.content['application/json'].schema;
    if (bodySchema) validator.assertSupported(bodySchema, `${r.method} ${r.path}`);
    const queryNames = (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);

    router.register(r.path, [r.method.toUpperCase()], async (ctx: RouterContext) => {
      const box = o.getBox();
      let auth: AuthState | undefined;
      if (r.role) {
        auth = await authenticate(ctx, box, o.sessions, o.loginThrottle);
        if (!roleAllows(auth.actor.role, r.role))
          throw new DeviceError('permission-denied', 'Permission denied.');
      }
      const query = checkQuery(ctx, queryNames);
      const body = await readBody(ctx, validator, bodySchema, op.requestBody?.required ?? false);
      // Public routes (login, the document) change nothing, so their stand-in actor is never audited.
      const actor = auth?.actor ?? { user: '', role: 'monitor', source: restSource(ctx) };
      await r.handler(ctx, { box, actor, auth, body, params: ctx.params, query }, o);
    });
  }
  return router;
}

/** Query parameters as single strings; unknown or repeated ones are refused (as unknown body fields are). */
function checkQuery(ctx: Koa.Context, allowed: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(ctx.query)) {
    if (!allowed.includes(k)) {
      const what = allowed.length ? `allowed: ${allowed.join(', ')}` : 'this resource takes none';
      throw new WebError('bad-input', `Unknown query parameter "${clip(k)}"; ${what}.`);
    }
    if (typeof v !== 'string')
      throw new WebError('bad-input', `Query parameter "${clip(k)}" is given more than once.`);
    out[k] = v;
  }
  return out;
}

/** Read and validate the body against the operation's schema; an operation without one takes no body. */
async function readBody(
  ctx: Koa.Context,
  validator: SchemaValidator,
  schema: JsonSchema | undefined,
  required: boolean,
): Promise<unknown> {
  if (!schema) {
    if (hasBody(ctx) && (await readJsonBody(ctx)) !== undefined) {
      throw new WebError('bad-input', `${ctx.method} ${clip(ctx.path, 100)} takes no request body.`);
    }
    return undefined;
  }
  const body = await readJsonBody(ctx);
  if (body === undefined) {
    if (required) throw new WebError('bad-input', 'A JSON object is required as the request body.');
    return {};
  }
  const violations = validator.validate(schema, body);
  if (violations.length > 0) throw new WebError('bad-input', violations[0]!.message, {}, violations);
  return body;
}
