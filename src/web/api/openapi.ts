/**
 * The OpenAPI 3.1 document of the box's REST API, served at
 * /api/v1/openapi.json. It is generated: the operations from the route table
 * (routes.ts), the schemas from the TypeBox definitions (models.ts), which
 * are the very objects the router validates with. Nothing here can drift
 * from what the API does.
 */
import type { Role } from '../../device/roles.js';
import { COMPONENTS } from './models.js';
import {
  componentSchemas,
  pathsOf,
  type AnyRoute,
  type HttpVerb,
  type InterfaceSpec,
} from './route-table.js';
import type { JsonSchema } from '../../lib/json-schema.js';

/** The subset of OpenAPI 3.1 the simulator's documents use. */
export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description: string };
  servers: { url: string }[];
  security: Record<string, string[]>[];
  paths: Record<string, Partial<Record<HttpVerb, Operation>>>;
  components: {
    schemas: Record<string, JsonSchema>;
    securitySchemes: Record<
      string,
      | { type: 'http'; scheme: string; description: string }
      | { type: 'apiKey'; in: 'cookie' | 'header'; name: string; description: string }
    >;
    responses: Record<string, ResponseObject>;
  };
}

/** A path or query parameter of an operation (query values arrive as strings). */
export interface Parameter {
  name: string;
  in: 'path' | 'query';
  required: boolean;
  description: string;
  schema: JsonSchema;
}

/** One documented answer: its headers and, unless it has no body, its media type and schema. */
export interface ResponseObject {
  description: string;
  headers?: Record<string, { description: string; schema: JsonSchema }>;
  content?: Record<string, { schema: JsonSchema }>;
}

/** One operation; `x-min-role` is the lowest role allowed, checked by the router and the Box alike. */
export interface Operation {
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  /** Empty for the operations that need no login. */
  security?: Record<string, string[]>[];
  /** The lowest role allowed (CLI contract, "Users and roles"); absent when no login is needed. */
  'x-min-role'?: Role;
  parameters?: Parameter[];
  requestBody?: { required: boolean; content: { 'application/json': { schema: JsonSchema } } };
  responses: Record<string, ResponseObject | { $ref: string }>;
}

/** Where the API is mounted on the box's HTTPS port. */
export const API_PREFIX = '/api/v1';

/** An error answer: problem+json with the Problem schema. */
export function problemResponse(description: string): ResponseObject {
  return {
    description,
    content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
  };
}

/** The box API's error answers: status and description. */
const ERRORS: Record<string, [number, string]> = {
  BadInput: [
    400,
    'Malformed JSON, wrong types, unknown fields, or a value the device refuses (code bad-input).',
  ],
  Unauthenticated: [401, 'No credentials, wrong ones, or an expired session (code unauthenticated).'],
  TooManyAttempts: [
    429,
    'Too many failed logins from this address: locked out for a while; Retry-After says how long (code too-many-attempts).',
  ],
  PermissionDenied: [403, 'The role is too low (code permission-denied, detail "Permission denied.").'],
  NotFound: [404, 'The named thing does not exist (code not-found).'],
  Conflict: [
    409,
    'The name is taken, something uses it, or an operation is running (codes exists, in-use, busy).',
  ],
  Precondition: [412, 'A prerequisite is missing (code precondition).'],
  Unsupported: [422, 'The firmware or crypto mode does not offer it (code unsupported).'],
  PayloadTooLarge: [413, 'The body is over 128 KiB (code payload-too-large).'],
  UnsupportedMediaType: [415, 'The body is not application/json (code unsupported-media-type).'],
  Storage: [507, 'The state could not be written; nothing changed (code storage).'],
};

/**
 * How the box API documents a route: a route with a role may answer 401,
 * 403 and 429; one with a body 400, 413 and 415; the rest it names itself.
 */
const BOX_API: InterfaceSpec = {
  errorStatus: Object.fromEntries(Object.entries(ERRORS).map(([k, [s]]) => [k, s])),
  errorsOf: (r) => [
    ...(r.body ? ['BadInput', 'PayloadTooLarge', 'UnsupportedMediaType'] : []),
    ...(r.extra?.['x-min-role'] ? ['Unauthenticated', 'PermissionDenied', 'TooManyAttempts'] : []),
  ],
};

/** Build the document of `routes` (a fresh object each time: callers may not share and mutate it). */
export function buildOpenApiDocument(routes: readonly AnyRoute<never>[]): OpenApiDocument {
  return {
    openapi: '3.1.0',
    info: {
      title: 'gvos-sim device REST API',
      version: '1.0.0',
      description:
        'The management API of one simulated GigaVUE-OS box, on its HTTPS port. It calls the same command layer as the CLI: ' +
        'the same roles, the same checks and the same messages (problem+json `detail` = the CLI text after "% ", `code` stable). ' +
        'Log in with HTTP Basic, or POST /login for a session token (sent as "Authorization: Bearer <token>"). ' +
        'Changes to the running configuration (crypto mode, SNMP targets) last after a reload only once saved with POST /system/write-memory; ' +
        'certificates, the CA list, the web mapping and ACME state are saved at once.',
    },
    servers: [{ url: API_PREFIX }],
    security: [{ basicAuth: [] }, { bearerAuth: [] }],
    paths: pathsOf(routes, BOX_API),
    components: {
      securitySchemes: {
        basicAuth: { type: 'http', scheme: 'basic', description: 'A user of the box (over TLS only).' },
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'A token from POST /login.' },
      },
      responses: Object.fromEntries(
        Object.entries(ERRORS).map(([k, [, description]]) => [k, problemResponse(description)]),
      ),
      schemas: componentSchemas(COMPONENTS),
    },
  };
}
