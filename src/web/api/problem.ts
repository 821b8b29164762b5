/**
 * Errors at the REST edge, answered as problem+json (RFC 9457): `type`,
 * `title`, `status`, `detail` and a stable `code`. A DeviceError keeps its
 * code and its message: `detail` is exactly what the CLI prints after "% ".
 * The edge adds a few codes of its own for what only HTTP can get wrong
 * (no credentials, a body too large, the wrong media type or method).
 */
import type Koa from 'koa';
import { HTTP_STATUS, isDeviceError, type DeviceErrorCode } from '../../device/errors.js';
import { clip } from '../../device/validate.js';
import type { Logger } from '../../lib/logger.js';
import type { SchemaViolation } from '../../lib/json-schema.js';

/** Codes only the HTTP edge produces. */
type EdgeErrorCode =
  | 'unauthenticated'
  | 'too-many-attempts'
  | 'payload-too-large'
  | 'unsupported-media-type'
  | 'method-not-allowed';

/** Every `code` a problem can carry (stable: managers match on it). */
export type ProblemCode = DeviceErrorCode | EdgeErrorCode;

/** The body of an error answer. `errors` lists every schema violation of a request body. */
interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ProblemCode;
  errors?: SchemaViolation[];
}

/** `type` URIs: not dereferenceable (RFC 9457 §3.1.1 allows that), one per code. */
export const PROBLEM_TYPE_PREFIX = 'urn:gvos-sim:problem:';

const TITLES: Record<ProblemCode, string> = {
  'bad-input': 'Bad input',
  'not-found': 'Not found',
  exists: 'Already exists',
  'in-use': 'In use',
  'permission-denied': 'Permission denied',
  precondition: 'Precondition failed',
  busy: 'Busy',
  unsupported: 'Unsupported',
  storage: 'Storage failure',
  internal: 'Internal error',
  unauthenticated: 'Authentication required',
  'too-many-attempts': 'Too many failed logins',
  'payload-too-large': 'Payload too large',
  'unsupported-media-type': 'Unsupported media type',
  'method-not-allowed': 'Method not allowed',
};

/** Every problem code, in a stable order (the OpenAPI enum lists them so). */
export const PROBLEM_CODES = Object.keys(TITLES) as ProblemCode[];

/** The HTTP status of every problem code. */
const PROBLEM_STATUS: Record<ProblemCode, number> = {
  ...HTTP_STATUS,
  unauthenticated: 401,
  'too-many-attempts': 429,
  'payload-too-large': 413,
  'unsupported-media-type': 415,
  'method-not-allowed': 405,
};

/** An error raised by the edge itself; `headers` are added to the answer (WWW-Authenticate, Allow). */
export class WebError extends Error {
  constructor(
    readonly code: ProblemCode,
    message: string,
    readonly headers: Record<string, string> = {},
    readonly errors?: SchemaViolation[],
  ) {
    super(message);
    this.name = 'WebError';
  }
}

/** The problem document for a code and a message. */
function problem(code: ProblemCode, detail: string, errors?: SchemaViolation[]): Problem {
  return {
    type: PROBLEM_TYPE_PREFIX + code,
    title: TITLES[code],
    status: PROBLEM_STATUS[code],
    detail,
    code,
    ...(errors ? { errors } : {}),
  };
}

/** Answer `ctx` with a problem. */
function sendProblem(ctx: Koa.Context, p: WireProblem, headers: Record<string, string> = {}): void {
  ctx.status = p.status;
  for (const [k, v] of Object.entries(headers)) ctx.set(k, v);
  ctx.set('Cache-Control', 'no-store');
  ctx.type = 'application/problem+json';
  ctx.body = JSON.stringify(p);
}

/** How an interface adapts the problem middleware. */
export interface ProblemOptions {
  /** Where a 404 says the routes are listed (default: the box API's document). */
  routesAt?: string;
  /** The interface's own problem for an error it knows (checked first); undefined: the usual mapping. */
  classify?: (err: unknown) => WireProblem | undefined;
}

/** A problem of any interface: the box's codes, or an interface's own. */
type WireProblem = Omit<Problem, 'code'> & { code: string };

/**
 * Middleware for the API: turns anything thrown below it into problem+json,
 * and the router's bare 404/405/501 into problems too. Unknown errors become
 * a 500 whose detail says nothing of the internals; the real reason goes to
 * the log (never a stack or a secret to the client).
 */
export function problemMiddleware(log: Logger, o: ProblemOptions = {}): Koa.Middleware {
  const routesAt = o.routesAt ?? '/api/v1/openapi.json';
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      const own = o.classify?.(err);
      if (own) {
        sendProblem(ctx, own);
      } else if (err instanceof WebError) {
        sendProblem(ctx, problem(err.code, err.message, err.errors), err.headers);
      } else if (isDeviceError(err)) {
        if (err.code === 'internal' || err.code === 'storage')
          log.error('REST request failed', { path: ctx.path, code: err.code, reason: err.message });
        sendProblem(ctx, problem(err.code, err.message));
      } else {
        log.error('REST request failed', {
          method: ctx.method,
          path: ctx.path,
          err: err instanceof Error ? err.message : String(err),
        });
        sendProblem(ctx, problem('internal', 'Internal error; the reason is in the box log.'));
      }
      return;
    }
    if (ctx.body !== undefined && ctx.body !== null) return;
    // @koa/router answers an unknown method with 501 and a known path with the wrong method with 405,
    // both without a body. An unknown method is the client's mistake too: 405 either way, never a 5xx.
    if (ctx.status === 405 || ctx.status === 501) {
      const allow = ctx.response.get('Allow');
      sendProblem(
        ctx,
        problem(
          'method-not-allowed',
          `Method ${clip(ctx.method, 20)} is not allowed on ${clip(ctx.path, 100)}${allow ? `; use ${allow}` : ''}.`,
        ),
        allow ? { Allow: allow } : {},
      );
    } else if (ctx.status === 404) {
      sendProblem(
        ctx,
        problem(
          'not-found',
          `No API resource at ${clip(ctx.path, 100)}; the routes are listed in ${routesAt}.`,
        ),
      );
    }
  };
}
