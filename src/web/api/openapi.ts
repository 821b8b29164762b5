/**
 * The OpenAPI 3.1 document of the box's REST API, served at
 * /api/v1/openapi.json. It is the contract: the router validates request
 * bodies and query parameters against it, and a test checks that the routes
 * and this document name the same operations, both ways, with the same
 * minimum role (`x-min-role`).
 *
 * Request schemas check the shape (types, required and unknown fields, the
 * words an enum allows). Values with device rules (a domain, a port, renew
 * days 1-365, a PEM up to 64 KiB) are checked by the Box itself, so the REST
 * API gives the very message the CLI prints after "% ". Descriptions state
 * those rules.
 */
import { DEFAULT_SNMP_RATE_PER_SEC, MAX_SNMP_RATE_PER_SEC } from '../../device/model.js';
import type { Role } from '../../device/roles.js';
import type { JsonSchema } from './schema.js';

/** The subset of OpenAPI 3.1 this document uses. */
export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description: string };
  servers: { url: string }[];
  security: Record<string, string[]>[];
  paths: Record<string, Partial<Record<HttpVerb, Operation>>>;
  components: {
    schemas: Record<string, JsonSchema>;
    securitySchemes: Record<string, { type: 'http'; scheme: string; description: string }>;
    responses: Record<string, ResponseObject>;
  };
}

/** The HTTP methods the API uses, as OpenAPI path items name them. */
export type HttpVerb = 'get' | 'post' | 'put' | 'delete';

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

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const problemRef = (name: string) => ({ $ref: `#/components/responses/${name}` });
const json = (schema: JsonSchema, description: string): ResponseObject => ({
  description,
  content: { 'application/json': { schema } },
});
const body = (schema: JsonSchema, required = true) => ({
  required,
  content: { 'application/json': { schema } },
});
const nameParam = (what: string): Parameter => ({
  name: 'name',
  in: 'path',
  required: true,
  description: `The ${what} name.`,
  schema: { type: 'string' },
});
const dateTime = (description: string): JsonSchema => ({
  type: ['string', 'null'],
  format: 'date-time',
  description,
});

/** Error answers every authenticated operation may give. */
const AUTH_ERRORS = {
  '401': problemRef('Unauthenticated'),
  '403': problemRef('PermissionDenied'),
  '429': problemRef('TooManyAttempts'),
};
/** Error answers of an operation that reads a JSON body. */
const BODY_ERRORS = {
  '400': problemRef('BadInput'),
  '413': problemRef('PayloadTooLarge'),
  '415': problemRef('UnsupportedMediaType'),
};

const ACME_FIELDS: Record<string, JsonSchema> = {
  domain: {
    type: 'string',
    description: 'One host name or IP address: no second name, no wildcard (seed limitations).',
  },
  acmeServerUrl: { type: 'string', description: 'The ACME directory URL, https:// (RFC 8555 §7.1.1).' },
  algorithm: {
    type: 'string',
    enum: ['rsa-2048', 'rsa-4096', 'ec-prime256v1', 'ec-secp384r1'],
    description:
      'Key algorithm. Classic mode allows rsa-2048 and rsa-4096; secure-crypto and FIPS allow ec-prime256v1 and ec-secp384r1.',
  },
  renewDays: {
    type: ['integer', 'null'],
    description:
      'Renew this many days (1-365) before expiry; absent or null: a third of the lifetime ("System Computed").',
  },
};

const acmeBody = (required: string[], description: string): JsonSchema => ({
  type: 'object',
  additionalProperties: false,
  required,
  properties: ACME_FIELDS,
  description,
});

const acmeOperation = (
  op: 'issue' | 'renew' | 'revoke' | 'clear',
  summary: string,
  description: string,
  schema: JsonSchema,
): Operation => ({
  operationId: `acme${op[0]!.toUpperCase()}${op.slice(1)}`,
  summary,
  description,
  tags: ['acme'],
  'x-min-role': 'admin',
  requestBody: body(schema, op !== 'clear'),
  responses: {
    '202': {
      description: 'Started; follow the status at the URL given in Location and in the body.',
      headers: {
        Location: { description: 'The status resource, /api/v1/acme.', schema: { type: 'string' } },
      },
      content: { 'application/json': { schema: ref('AcmeAccepted') } },
    },
    ...BODY_ERRORS,
    ...AUTH_ERRORS,
    '409': problemRef('Conflict'),
    '412': problemRef('Precondition'),
    '422': problemRef('Unsupported'),
  },
});

/** Build the document (a fresh object each time: callers may not share and mutate it). */
export function openApiDocument(): OpenApiDocument {
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
    paths: {
      '/openapi.json': {
        get: {
          operationId: 'getOpenApi',
          summary: 'This document.',
          tags: ['meta'],
          security: [],
          responses: { '200': json({ type: 'object' }, 'The OpenAPI 3.1 document.') },
        },
      },
      '/login': {
        post: {
          operationId: 'login',
          summary: 'Log in: a session token for "Authorization: Bearer".',
          description:
            'The token ends after 30 minutes without use or 12 hours after login, on logout, and when the box reloads.',
          tags: ['session'],
          security: [],
          requestBody: body(ref('LoginRequest')),
          responses: {
            '200': json(ref('LoginResult'), 'Logged in.'),
            ...BODY_ERRORS,
            '401': problemRef('Unauthenticated'),
            '429': problemRef('TooManyAttempts'),
          },
        },
      },
      '/logout': {
        post: {
          operationId: 'logout',
          summary: 'End the session of the token sent (no-op with HTTP Basic).',
          tags: ['session'],
          'x-min-role': 'monitor',
          responses: { '204': { description: 'Logged out.' }, ...AUTH_ERRORS },
        },
      },
      '/session': {
        get: {
          operationId: 'getSession',
          summary: 'Who is logged in, with which role.',
          tags: ['session'],
          'x-min-role': 'monitor',
          responses: { '200': json(ref('Session'), 'The caller.'), ...AUTH_ERRORS },
        },
      },
      '/system': {
        get: {
          operationId: 'getSystem',
          summary: 'Identity, firmware, uptime and crypto mode of the box.',
          tags: ['system'],
          'x-min-role': 'monitor',
          responses: { '200': json(ref('System'), 'The box.'), ...AUTH_ERRORS },
        },
      },
      '/system/version': {
        get: {
          operationId: 'getVersion',
          summary: '"show version".',
          tags: ['system'],
          'x-min-role': 'monitor',
          responses: { '200': json(ref('Version'), 'The firmware the box runs.'), ...AUTH_ERRORS },
        },
      },
      '/system/chassis': {
        get: {
          operationId: 'getChassis',
          summary: '"show chassis": the boxes of the cluster this box knows, `local` marks this one.',
          tags: ['system'],
          'x-min-role': 'monitor',
          responses: {
            '200': json({ type: 'array', items: ref('ChassisEntry') }, 'One entry per box.'),
            ...AUTH_ERRORS,
          },
        },
      },
      '/system/crypto-mode': {
        get: {
          operationId: 'getCryptoMode',
          summary: 'The crypto mode running, the one configured, and the key algorithms allowed now.',
          tags: ['system'],
          'x-min-role': 'monitor',
          responses: { '200': json(ref('CryptoMode'), 'The crypto mode.'), ...AUTH_ERRORS },
        },
        put: {
          operationId: 'setCryptoMode',
          summary: '"crypto mode <mode>": takes effect after write-memory and a reload.',
          tags: ['system'],
          'x-min-role': 'admin',
          requestBody: body(ref('CryptoModeUpdate')),
          responses: {
            '200': json(ref('CryptoMode'), 'The crypto mode after the change.'),
            ...BODY_ERRORS,
            ...AUTH_ERRORS,
          },
        },
      },
      '/system/write-memory': {
        post: {
          operationId: 'writeMemory',
          summary: '"write memory": the running configuration becomes the saved one.',
          tags: ['system'],
          'x-min-role': 'operator',
          responses: { '204': { description: 'Saved.' }, ...AUTH_ERRORS, '507': problemRef('Storage') },
        },
      },
      '/certificates': {
        get: {
          operationId: 'listCertificates',
          summary: '"show crypto certificate": every certificate with its facts (never a key).',
          tags: ['certificates'],
          'x-min-role': 'monitor',
          responses: {
            '200': json({ type: 'array', items: ref('Certificate') }, 'The certificates, by name.'),
            ...AUTH_ERRORS,
          },
        },
        post: {
          operationId: 'addCertificate',
          summary:
            '"crypto certificate name <name> public-cert pem": add a certificate (a chain: leaf first).',
          tags: ['certificates'],
          'x-min-role': 'operator',
          requestBody: body(ref('CertificateCreate')),
          responses: {
            '201': {
              description: 'Added.',
              headers: { Location: { description: 'The new certificate.', schema: { type: 'string' } } },
              content: { 'application/json': { schema: ref('Certificate') } },
            },
            ...BODY_ERRORS,
            ...AUTH_ERRORS,
            '409': problemRef('Conflict'),
          },
        },
      },
      '/certificates/{name}': {
        get: {
          operationId: 'getCertificate',
          summary: '"show crypto certificate name <name>".',
          tags: ['certificates'],
          'x-min-role': 'monitor',
          parameters: [nameParam('certificate')],
          responses: {
            '200': json(ref('Certificate'), 'The certificate.'),
            ...AUTH_ERRORS,
            '404': problemRef('NotFound'),
          },
        },
        delete: {
          operationId: 'deleteCertificate',
          summary: '"no crypto certificate name <name>": refused while web or the CA list uses it.',
          tags: ['certificates'],
          'x-min-role': 'operator',
          parameters: [nameParam('certificate')],
          responses: {
            '204': { description: 'Deleted.' },
            ...AUTH_ERRORS,
            '404': problemRef('NotFound'),
            '409': problemRef('Conflict'),
          },
        },
      },
      '/certificates/{name}/private-key': {
        put: {
          operationId: 'setPrivateKey',
          summary:
            '"crypto certificate name <name> private-key pem": the key must match the certificate. The key is never shown again.',
          tags: ['certificates'],
          'x-min-role': 'operator',
          parameters: [nameParam('certificate')],
          requestBody: body(ref('PrivateKeyUpload')),
          responses: {
            '200': json(ref('Certificate'), 'The certificate, now with a key.'),
            ...BODY_ERRORS,
            ...AUTH_ERRORS,
            '404': problemRef('NotFound'),
            '409': problemRef('Conflict'),
          },
        },
      },
      '/ca-list': {
        get: {
          operationId: 'listCaCertificates',
          summary:
            '"show crypto certificate ca-list": the certificates trusted as CAs (for the ACME server).',
          tags: ['certificates'],
          'x-min-role': 'monitor',
          responses: {
            '200': json({ type: 'array', items: ref('Certificate') }, 'The CA list.'),
            ...AUTH_ERRORS,
          },
        },
        post: {
          operationId: 'addCaCertificate',
          summary: '"crypto certificate ca-list default-ca-list name <name>".',
          tags: ['certificates'],
          'x-min-role': 'operator',
          requestBody: body(ref('NameRef')),
          responses: {
            '200': json({ type: 'array', items: ref('Certificate') }, 'The CA list after the change.'),
            ...BODY_ERRORS,
            ...AUTH_ERRORS,
            '404': problemRef('NotFound'),
          },
        },
      },
      '/ca-list/{name}': {
        delete: {
          operationId: 'removeCaCertificate',
          summary: '"no crypto certificate ca-list default-ca-list name <name>".',
          tags: ['certificates'],
          'x-min-role': 'operator',
          parameters: [nameParam('certificate')],
          responses: {
            '204': { description: 'Removed from the CA list.' },
            ...AUTH_ERRORS,
            '404': problemRef('NotFound'),
          },
        },
      },
      '/web/certificate': {
        get: {
          operationId: 'getWebCertificate',
          summary: '"show web": the certificate the HTTPS server presents.',
          tags: ['certificates'],
          'x-min-role': 'monitor',
          responses: { '200': json(ref('WebCertificate'), 'The web certificate mapping.'), ...AUTH_ERRORS },
        },
        put: {
          operationId: 'setWebCertificate',
          summary: '"web https certificate name <name>" (or "default-cert"); refused while ACME manages web.',
          tags: ['certificates'],
          'x-min-role': 'operator',
          requestBody: body(ref('NameRef')),
          responses: {
            '200': json(
              ref('WebCertificate'),
              'The mapping after the change; new connections get the certificate at once.',
            ),
            ...BODY_ERRORS,
            ...AUTH_ERRORS,
            '404': problemRef('NotFound'),
            '409': problemRef('Conflict'),
            '412': problemRef('Precondition'),
          },
        },
      },
      '/snmp/targets': {
        get: {
          operationId: 'listSnmpTargets',
          summary: '"show snmp host": the notification receivers (communities are not shown).',
          tags: ['snmp'],
          'x-min-role': 'monitor',
          responses: {
            '200': json({ type: 'array', items: ref('SnmpTarget') }, 'The targets.'),
            ...AUTH_ERRORS,
          },
        },
        post: {
          operationId: 'addSnmpTarget',
          summary:
            '"snmp-server host <ip> [port <p>] {traps|informs} version ...": add or replace (same host, port and kind).',
          tags: ['snmp'],
          'x-min-role': 'operator',
          requestBody: body(ref('SnmpTargetCreate')),
          responses: {
            '201': {
              description: 'Added (running configuration).',
              headers: { Location: { description: 'The target host.', schema: { type: 'string' } } },
              content: { 'application/json': { schema: ref('SnmpTarget') } },
            },
            ...BODY_ERRORS,
            ...AUTH_ERRORS,
            '404': problemRef('NotFound'),
          },
        },
      },
      '/snmp/targets/{host}': {
        delete: {
          operationId: 'removeSnmpTarget',
          summary: '"no snmp-server host <ip>": every target of that host, or only the one on `port`.',
          tags: ['snmp'],
          'x-min-role': 'operator',
          parameters: [
            {
              name: 'host',
              in: 'path',
              required: true,
              description: 'The target IP address.',
              schema: { type: 'string' },
            },
            {
              name: 'port',
              in: 'query',
              required: false,
              description: 'Only the target on this UDP port (1-65535).',
              schema: { type: 'string' },
            },
          ],
          responses: {
            '204': { description: 'Removed.' },
            '400': problemRef('BadInput'),
            ...AUTH_ERRORS,
            '404': problemRef('NotFound'),
          },
        },
      },
      '/acme': {
        get: {
          operationId: 'getAcme',
          summary: '"show crypto acme client info", with GigaVUE-FM\'s field names.',
          tags: ['acme'],
          'x-min-role': 'monitor',
          responses: {
            '200': json(ref('AcmeStatus'), 'The issued certificate and the last request.'),
            ...AUTH_ERRORS,
          },
        },
      },
      '/acme/issue': {
        post: acmeOperation(
          'issue',
          '"crypto certificate acme issue": get a certificate for the web server.',
          "Prerequisites are checked before anything starts (firmware 5.13.01, a name server, the ACME server's CA in the CA list, " +
            'nothing else running); the issuance itself runs in the background.',
          acmeBody(['domain', 'acmeServerUrl'], 'Issue parameters (GigaVUE-FM device ACME schema).'),
        ),
      },
      '/acme/renew': {
        post: acmeOperation(
          'renew',
          '"crypto certificate acme renew domain <domain>".',
          "Only `domain` is used: a renewal keeps the issued certificate's ACME server, algorithm and renew days " +
            "(seed: the renewal period cannot be changed after issue). The other fields are accepted for the manager's schema.",
          acmeBody(['domain'], 'The domain of the issued certificate.'),
        ),
      },
      '/acme/revoke': {
        post: acmeOperation(
          'revoke',
          '"crypto certificate acme revoke domain <domain>": re-issue, put the new certificate on web, then revoke the old one.',
          'Only `domain` is used, as for renew.',
          acmeBody(['domain'], 'The domain of the issued certificate.'),
        ),
      },
      '/acme/clear': {
        post: acmeOperation(
          'clear',
          '"crypto certificate acme clear": remove the ACME certificate, map web to the default one, cancel renewals.',
          'The body may be empty; its fields are accepted and not used.',
          acmeBody([], "Accepted for the manager's schema; not used."),
        ),
      },
    },
    components: {
      securitySchemes: {
        basicAuth: { type: 'http', scheme: 'basic', description: 'A user of the box (over TLS only).' },
        bearerAuth: { type: 'http', scheme: 'bearer', description: 'A token from POST /login.' },
      },
      responses: {
        BadInput: problemResponse(
          'Malformed JSON, wrong types, unknown fields, or a value the device refuses (code bad-input).',
        ),
        Unauthenticated: problemResponse(
          'No credentials, wrong ones, or an expired session (code unauthenticated).',
        ),
        TooManyAttempts: problemResponse(
          'Too many failed logins from this address: locked out for a while; Retry-After says how long (code too-many-attempts).',
        ),
        PermissionDenied: problemResponse(
          'The role is too low (code permission-denied, detail "Permission denied.").',
        ),
        NotFound: problemResponse('The named thing does not exist (code not-found).'),
        Conflict: problemResponse(
          'The name is taken, something uses it, or an operation is running (codes exists, in-use, busy).',
        ),
        Precondition: problemResponse('A prerequisite is missing (code precondition).'),
        Unsupported: problemResponse('The firmware or crypto mode does not offer it (code unsupported).'),
        PayloadTooLarge: problemResponse('The body is over 128 KiB (code payload-too-large).'),
        UnsupportedMediaType: problemResponse(
          'The body is not application/json (code unsupported-media-type).',
        ),
        Storage: problemResponse('The state could not be written; nothing changed (code storage).'),
      },
      schemas: structuredClone(SCHEMAS),
    },
  };
}

function problemResponse(description: string): ResponseObject {
  return { description, content: { 'application/problem+json': { schema: ref('Problem') } } };
}

const CERTIFICATE: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: [
    'name',
    'origin',
    'hasPrivateKey',
    'inCaList',
    'usedByWeb',
    'subject',
    'issuer',
    'serial',
    'notBefore',
    'notAfter',
    'keyType',
    'keySize',
    'sha1Fingerprint',
    'sha256Fingerprint',
    'subjectAltNames',
    'selfSigned',
    'isCa',
  ],
  properties: {
    name: { type: 'string' },
    origin: { type: 'string', enum: ['default', 'user', 'acme'] },
    hasPrivateKey: {
      type: 'boolean',
      description: 'Whether the box holds its key (the key itself is never shown).',
    },
    inCaList: { type: 'boolean' },
    usedByWeb: { type: 'boolean' },
    subject: { type: 'string' },
    issuer: { type: 'string' },
    serial: { type: 'string', description: 'Upper-case hex.' },
    notBefore: dateTime('Start of validity.'),
    notAfter: dateTime('End of validity.'),
    keyType: { type: 'string' },
    keySize: { type: 'integer' },
    sha1Fingerprint: { type: 'string' },
    sha256Fingerprint: { type: 'string' },
    subjectAltNames: { type: 'array', items: { type: 'string' } },
    selfSigned: { type: 'boolean' },
    isCa: { type: 'boolean' },
  },
};

const CRYPTO_MODE_ENUM: JsonSchema = { type: 'string', enum: ['classic', 'secure-crypto', 'fips'] };
const FM_ALGORITHM_ENUM: JsonSchema = {
  type: 'string',
  enum: ['rsa-2048', 'rsa-4096', 'ec-prime256v1', 'ec-secp384r1'],
};
const ROLE_ENUM: JsonSchema = { type: 'string', enum: ['admin', 'operator', 'monitor'] };

const SCHEMAS: Record<string, JsonSchema> = {
  Problem: {
    type: 'object',
    description: 'RFC 9457 problem details, with a stable `code`.',
    additionalProperties: false,
    required: ['type', 'title', 'status', 'detail', 'code'],
    properties: {
      type: { type: 'string', description: 'urn:gvos-sim:problem:<code>' },
      title: { type: 'string' },
      status: { type: 'integer' },
      detail: { type: 'string', description: 'What is wrong and what to do: the CLI text after "% ".' },
      code: {
        type: 'string',
        enum: [
          'bad-input',
          'not-found',
          'exists',
          'in-use',
          'permission-denied',
          'precondition',
          'busy',
          'unsupported',
          'storage',
          'internal',
          'unauthenticated',
          'too-many-attempts',
          'payload-too-large',
          'unsupported-media-type',
          'method-not-allowed',
        ],
      },
      errors: {
        type: 'array',
        description: 'Every schema violation of the request body.',
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['path', 'message'],
          properties: { path: { type: 'string' }, message: { type: 'string' } },
        },
      },
    },
  },
  LoginRequest: {
    type: 'object',
    additionalProperties: false,
    required: ['username', 'password'],
    properties: { username: { type: 'string' }, password: { type: 'string' } },
  },
  LoginResult: {
    type: 'object',
    additionalProperties: false,
    required: ['token', 'tokenType', 'expiresAt', 'user', 'role'],
    properties: {
      token: { type: 'string', description: 'Send as "Authorization: Bearer <token>".' },
      tokenType: { type: 'string', enum: ['Bearer'] },
      expiresAt: {
        type: 'string',
        format: 'date-time',
        description: 'When the token ends if not used again.',
      },
      user: { type: 'string' },
      role: ROLE_ENUM,
    },
  },
  Session: {
    type: 'object',
    additionalProperties: false,
    required: ['user', 'role', 'authenticatedBy', 'expiresAt'],
    properties: {
      user: { type: 'string' },
      role: ROLE_ENUM,
      authenticatedBy: { type: 'string', enum: ['basic', 'token'] },
      expiresAt: dateTime('When the token ends if not used again; null with HTTP Basic.'),
    },
  },
  CryptoMode: {
    type: 'object',
    additionalProperties: false,
    required: ['active', 'configured', 'reloadNeeded', 'algorithms'],
    properties: {
      active: CRYPTO_MODE_ENUM,
      configured: CRYPTO_MODE_ENUM,
      reloadNeeded: {
        type: 'boolean',
        description: 'True when the configured mode differs from the running one.',
      },
      algorithms: {
        type: 'array',
        items: FM_ALGORITHM_ENUM,
        description: 'ACME key algorithms the running mode allows.',
      },
    },
  },
  CryptoModeUpdate: {
    type: 'object',
    additionalProperties: false,
    required: ['mode'],
    properties: { mode: CRYPTO_MODE_ENUM },
  },
  System: {
    type: 'object',
    additionalProperties: false,
    required: [
      'boxId',
      'hostname',
      'clusterName',
      'model',
      'serialNumber',
      'hostId',
      'version',
      'uptimeSec',
      'cryptoMode',
      'unsavedChanges',
    ],
    properties: {
      boxId: { type: 'integer' },
      hostname: { type: 'string' },
      clusterName: { type: 'string' },
      model: { type: 'string' },
      serialNumber: { type: 'string' },
      hostId: { type: 'string' },
      version: { type: 'string' },
      uptimeSec: { type: 'integer' },
      cryptoMode: ref('CryptoMode'),
      unsavedChanges: {
        type: 'boolean',
        description: 'The running configuration differs from the saved one.',
      },
    },
  },
  Version: {
    type: 'object',
    additionalProperties: false,
    required: [
      'productName',
      'productRelease',
      'buildId',
      'buildDate',
      'productModel',
      'hostId',
      'uptimeSec',
      'acmeSupported',
    ],
    properties: {
      productName: { type: 'string' },
      productRelease: { type: 'string' },
      buildId: { type: 'string' },
      buildDate: { type: 'string' },
      productModel: { type: 'string' },
      hostId: { type: 'string' },
      uptimeSec: { type: 'integer' },
      acmeSupported: {
        type: 'boolean',
        description: 'The firmware has the ACME client (5.13.01 and later).',
      },
    },
  },
  ChassisEntry: {
    type: 'object',
    additionalProperties: false,
    required: ['boxId', 'local', 'hostname', 'hwType', 'serialNumber', 'swRev', 'operStatus'],
    properties: {
      boxId: { type: 'integer' },
      local: { type: 'boolean' },
      hostname: { type: 'string' },
      hwType: { type: 'string' },
      serialNumber: { type: 'string' },
      swRev: { type: 'string' },
      operStatus: { type: 'string', enum: ['up'] },
    },
  },
  Certificate: CERTIFICATE,
  CertificateCreate: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'pem'],
    properties: {
      name: { type: 'string', description: '1-64 letters, digits, dot, dash, underscore or @.' },
      pem: { type: 'string', description: 'One or more PEM certificates, leaf first; at most 64 KiB.' },
    },
  },
  PrivateKeyUpload: {
    type: 'object',
    additionalProperties: false,
    required: ['pem'],
    properties: {
      pem: { type: 'string', description: 'PKCS#8, PKCS#1 or SEC1 PEM, unencrypted; at most 64 KiB.' },
    },
  },
  NameRef: {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: { name: { type: 'string', description: 'A certificate name.' } },
  },
  WebCertificate: {
    type: 'object',
    additionalProperties: false,
    required: ['certName', 'acmeManaged', 'certificate'],
    properties: {
      certName: { type: 'string' },
      acmeManaged: {
        type: 'boolean',
        description: 'True while the ACME certificate is on web (then the mapping cannot change).',
      },
      certificate: ref('Certificate'),
    },
  },
  SnmpTarget: {
    type: 'object',
    additionalProperties: false,
    required: ['host', 'port', 'kind', 'version', 'ratePerSec'],
    properties: {
      host: { type: 'string' },
      port: { type: 'integer' },
      kind: { type: 'string', enum: ['traps', 'informs'] },
      version: { type: 'string', enum: ['1', '2c', '3'] },
      user: { type: 'string' },
      ratePerSec: { type: 'integer' },
    },
  },
  SnmpTargetCreate: {
    type: 'object',
    additionalProperties: false,
    required: ['host', 'kind', 'version'],
    properties: {
      host: {
        anyOf: [
          { type: 'string', format: 'ipv4' },
          { type: 'string', format: 'ipv6' },
        ],
        description: 'An IPv4 or IPv6 address.',
      },
      port: { type: 'integer', description: 'UDP port 1-65535; 162 when absent.' },
      kind: { type: 'string', enum: ['traps', 'informs'] },
      version: { type: 'string', enum: ['1', '2c', '3'] },
      community: { type: 'string', description: 'v1/v2c community (never shown again).' },
      user: {
        type: 'string',
        description: 'v3 user: an SNMPv3 user the box already has ("snmp-server user ...").',
      },
      ratePerSec: {
        type: 'integer',
        description: `Notifications per second to this target (1-${MAX_SNMP_RATE_PER_SEC}); ${DEFAULT_SNMP_RATE_PER_SEC} when absent.`,
      },
    },
  },
  AcmeAccepted: {
    type: 'object',
    additionalProperties: false,
    required: ['operation', 'statusUrl'],
    properties: {
      operation: { type: 'string', enum: ['issue', 'renew', 'revoke', 'clear'] },
      statusUrl: { type: 'string', description: 'GET it for the status (the same as the Location header).' },
    },
  },
  AcmeStatus: {
    type: 'object',
    additionalProperties: false,
    required: ['boxId', 'clusterName', 'issuedCert', 'lastAcmeRequest'],
    properties: {
      boxId: { type: 'integer' },
      clusterName: { type: 'string' },
      issuedCert: {
        type: ['object', 'null'],
        description: 'The ACME issued certificate; null when there is none.',
        additionalProperties: false,
        required: [
          'domain',
          'acmeCaUrl',
          'algorithm',
          'certName',
          'firstIssued',
          'nextRenew',
          'expiry',
          'renewDays',
          'lastSuccessRenew',
          'lastFailedRenew',
          'status',
        ],
        properties: {
          domain: { type: 'string' },
          acmeCaUrl: { type: 'string' },
          algorithm: FM_ALGORITHM_ENUM,
          certName: { type: 'string' },
          firstIssued: dateTime('First-Issued.'),
          nextRenew: dateTime('Next Renewal.'),
          expiry: dateTime('Expires.'),
          renewDays: { type: ['integer', 'null'], description: 'Renewal Days; null = "System Computed".' },
          lastSuccessRenew: dateTime('Last Succesful Renewal.'),
          lastFailedRenew: dateTime('Last Failed Renewal.'),
          status: {
            type: 'string',
            enum: ['Active', 'Expired', 'Inactive'],
            description:
              'Active: on web and valid; Expired: past its end; Inactive: web is on the default certificate.',
          },
        },
      },
      lastAcmeRequest: {
        type: ['object', 'null'],
        description: 'Last Request Status Since Bootup; null when there was none.',
        additionalProperties: false,
        required: ['domainName', 'acmeCaUrl', 'type', 'status', 'startedAt', 'finishedAt'],
        properties: {
          domainName: { type: 'string' },
          acmeCaUrl: { type: 'string' },
          type: { type: 'string', enum: ['Issue', 'Renew', 'Revoke', 'Clear', 'Auto-Renew'] },
          status: { type: 'string', description: '"In Progress", "Success" or "Failed: <reason>".' },
          startedAt: dateTime('When the request started.'),
          finishedAt: dateTime('When it reached Success or Failed; null while in progress.'),
        },
      },
    },
  },
};
