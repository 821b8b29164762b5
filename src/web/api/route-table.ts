/**
 * One definition per HTTP route, for every HTTP interface of the simulator
 * (the box's REST API, the lab's control plane). A route is one row: method,
 * path, what the document says of it, its parameters and body schema
 * (TypeBox), its answers, and the handler. From the table come:
 * - the koa routes (mountRoutes), with the request checked before the
 *   handler runs: unknown or repeated query parameters refused, the JSON
 *   body read with a size limit and validated by Ajv (compiled once, when the
 *   routes are mounted);
 * - the handler's types: `body` is Static<typeof schema>, `params` and
 *   `query` have the declared names;
 * - the operations of the OpenAPI 3.1 document (operationOf), with named
 *   schemas as $ref to components/schemas (componentSchemas).
 */
import type Koa from 'koa';
import type { Router, RouterContext } from '@koa/router';
import type { Static, TSchema } from '@sinclair/typebox';
import { clip } from '../../device/validate.js';
import { hasBody, MAX_JSON_BYTES, readJsonBody, type BodyOptions } from './body.js';
import { componentName } from '../../lib/typebox.js';
import type { OpenApiDocument, Operation, Parameter, ResponseObject } from './openapi.js';
import { WebError } from './problem.js';
import { compileSchema, type JsonSchema, type Validate } from '../../lib/json-schema.js';

/** The HTTP methods the interfaces use, as OpenAPI path items name them. */
export type HttpVerb = 'get' | 'post' | 'put' | 'delete';

/** One success answer: its description, its body schema (none: no body) and headers. */
interface SuccessSpec {
  description: string;
  schema?: TSchema | JsonSchema;
  headers?: Record<string, string>;
}

/** Path parameter names of a koa path ("/a/:name/b/:x" -> "name" | "x"). */
type PathParams<P extends string> = P extends `${string}:${infer N}/${infer Rest}`
  ? N | PathParams<`/${Rest}`>
  : P extends `${string}:${infer N}`
    ? N
    : never;

/** What a handler gets besides koa's context: the validated request, and `C` (the interface's own). */
type Call<C, B, P extends string, Q extends string> = C & {
  body: B;
  params: Record<PathParams<P>, string>;
  query: Partial<Record<Q, string>>;
};

/**
 * One route. `B` is the body schema, `P` the path, `Q` the query parameter
 * names, `C` what the interface adds to each call (the box, the actor...).
 */
export interface RouteDef<
  C,
  B extends TSchema | undefined = TSchema | undefined,
  P extends string = string,
  Q extends string = string,
> {
  method: HttpVerb;
  /** Path in koa syntax (":name"), under the interface's prefix. */
  path: P;
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  /** Description of each path parameter. */
  params?: Record<PathParams<P>, string>;
  /** Query parameters (strings; none are required) and their descriptions. */
  query?: Record<Q, string>;
  /** The JSON body's schema; without one the route takes no body. */
  body?: B;
  /** Whether a body must be sent (default true; false: absent means `{}`). */
  bodyRequired?: boolean;
  /** Success answers by status. */
  responses: Record<number, SuccessSpec>;
  /** Names of the error answers (components/responses) beyond those the interface adds itself. */
  errors?: string[];
  /** Extra fields of the OpenAPI operation (x-min-role, security). */
  extra?: Record<string, unknown>;
  handler(
    ctx: Koa.Context,
    call: Call<C, B extends TSchema ? Static<B> : undefined, P, Q>,
  ): Promise<void> | void;
}

/** A route of any types, as tables hold them. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRoute<C> = RouteDef<C, any, string, string>;

/** Type a route row (the handler gets the body, params and query of this row). */
export function route<C>() {
  return <const P extends string, B extends TSchema | undefined = undefined, Q extends string = never>(
    r: RouteDef<C, B, P, Q>,
  ): AnyRoute<C> => r as AnyRoute<C>;
}

/** "/certificates/:name" -> "/certificates/{name}" (OpenAPI path template). */
export function toOpenApiPath(koaPath: string): string {
  return koaPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** A schema as a document shows it: named schemas inside it become $ref; symbols gone. */
function documented(schema: TSchema | JsonSchema, root = false): JsonSchema {
  const name = componentName(schema);
  if (name && !root) return { $ref: `#/components/schemas/${name}` };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'properties') {
      out[k] = Object.fromEntries(
        Object.entries(v as Record<string, TSchema>).map(([p, s]) => [p, documented(s)]),
      );
    } else if ((k === 'items' || k === 'additionalProperties') && typeof v === 'object') {
      out[k] = documented(v as TSchema);
    } else if (k === 'anyOf') {
      out[k] = (v as TSchema[]).map((s) => documented(s));
    } else {
      out[k] = structuredClone(v);
    }
  }
  return out as JsonSchema;
}

/** components/schemas of a document: each named schema at its own definition. */
export function componentSchemas(schemas: readonly TSchema[]): Record<string, JsonSchema> {
  return Object.fromEntries(schemas.map((s) => [componentName(s)!, documented(s, true)]));
}

/** How an interface documents and checks its routes. */
export interface InterfaceSpec {
  /** Error answers (components/responses names) added to every route, given the route. */
  errorsOf: (r: AnyRoute<never>) => string[];
  /** The status of each error answer name. */
  errorStatus: Record<string, number>;
}

/** The OpenAPI operation of a route. */
function operationOf(r: AnyRoute<never>, spec: InterfaceSpec): Operation {
  const parameters: Parameter[] = [
    ...Object.entries<string>(r.params ?? {}).map(([name, description]) => ({
      name,
      in: 'path' as const,
      required: true,
      description,
      schema: { type: 'string' as const },
    })),
    ...Object.entries<string>(r.query ?? {}).map(([name, description]) => ({
      name,
      in: 'query' as const,
      required: false,
      description,
      schema: { type: 'string' as const },
    })),
  ];
  const responses: Record<string, ResponseObject | { $ref: string }> = {};
  for (const [status, s] of Object.entries(r.responses)) {
    const res: ResponseObject = { description: s.description };
    if (s.headers) {
      res.headers = Object.fromEntries(
        Object.entries(s.headers).map(([h, description]) => [h, { description, schema: { type: 'string' } }]),
      );
    }
    if (s.schema) res.content = { 'application/json': { schema: documented(s.schema) } };
    responses[status] = res;
  }
  for (const name of [...spec.errorsOf(r), ...(r.errors ?? [])]) {
    const status = spec.errorStatus[name];
    if (status === undefined) throw new Error(`route ${r.operationId}: unknown error answer ${name}`);
    responses[String(status)] = { $ref: `#/components/responses/${name}` };
  }
  return {
    operationId: r.operationId,
    summary: r.summary,
    ...(r.description !== undefined ? { description: r.description } : {}),
    tags: r.tags,
    ...(r.extra ?? {}),
    ...(parameters.length ? { parameters } : {}),
    ...(r.body
      ? {
          requestBody: {
            required: r.bodyRequired ?? true,
            content: { 'application/json': { schema: documented(r.body as TSchema) } },
          },
        }
      : {}),
    responses,
  };
}

/** The `paths` of a document for a table. */
export function pathsOf(routes: readonly AnyRoute<never>[], spec: InterfaceSpec): OpenApiDocument['paths'] {
  const paths: OpenApiDocument['paths'] = {};
  for (const r of routes) {
    const item = (paths[toOpenApiPath(r.path)] ??= {});
    if (item[r.method]) throw new Error(`route ${r.method} ${r.path} is defined twice`);
    item[r.method] = operationOf(r, spec);
  }
  return paths;
}

/**
 * Register every route of `routes` on `router`. `prepare` runs first for each
 * request (authentication, role: it throws to refuse) and returns what the
 * interface adds to the call; then the query and the body are checked, then
 * the handler runs. Body schemas are checked here; each is compiled at its
 * route's first request, once per process (compileSchema).
 */
export function mountRoutes<C>(
  router: Router,
  routes: readonly AnyRoute<C>[],
  prepare: (ctx: Koa.Context, r: AnyRoute<C>) => Promise<C> | C,
  body: BodyOptions & { maxBytes?: number } = {},
): void {
  for (const r of routes) {
    const validate = r.body ? compileSchema(r.body as JsonSchema, `${r.method} ${r.path}`) : undefined;
    const queryNames = Object.keys(r.query ?? {});
    const bodyRequired = r.bodyRequired ?? true;
    router.register(r.path, [r.method.toUpperCase()], async (ctx: RouterContext) => {
      const c = await prepare(ctx, r);
      const query = checkQuery(ctx, queryNames);
      const value = await readBody(ctx, validate, bodyRequired, body);
      await r.handler(ctx, { ...c, body: value, params: ctx.params, query });
    });
  }
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

/** Read and validate the body; a route without a schema takes no body. */
async function readBody(
  ctx: Koa.Context,
  validate: Validate | undefined,
  required: boolean,
  o: BodyOptions & { maxBytes?: number },
): Promise<unknown> {
  const read = () => readJsonBody(ctx, o.maxBytes ?? MAX_JSON_BYTES, o);
  if (!validate) {
    if (hasBody(ctx) && (await read()) !== undefined) {
      throw new WebError('bad-input', `${ctx.method} ${clip(ctx.path, 100)} takes no request body.`);
    }
    return undefined;
  }
  const body = await read();
  if (body === undefined) {
    if (required) throw new WebError('bad-input', 'A JSON object is required as the request body.');
    return {};
  }
  const violations = validate(body);
  if (violations.length > 0) throw new WebError('bad-input', violations[0]!.message, {}, violations);
  return body;
}
