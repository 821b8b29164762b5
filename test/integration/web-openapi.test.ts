/**
 * The OpenAPI document against the routes, both ways: every route of the
 * REST router is an operation of the document with the same method, path
 * and minimum role, and every operation of the document is a route. Also
 * the document's own consistency: unique operationIds, declared path
 * parameters, the error answers each kind of operation can give, and
 * schemas that the validator fully understands.
 */
import t from 'tap';
import { API_PREFIX, type Operation } from '../../src/web/api/openapi.js';
import { createApiRouter, openApiDocument, ROUTES, toOpenApiPath } from '../../src/web/api/router.js';
import { SessionStore } from '../../src/web/api/auth.js';
import { SchemaValidator, type JsonSchema } from '../../src/lib/json-schema.js';
import { silentLogger } from '../../src/lib/logger.js';
import { makeTestBox } from '../harness/boxes.js';

const doc = openApiDocument();

/** "GET /certificates/{name}" for every operation of the document. */
function documented(): Map<string, Operation> {
  const out = new Map<string, Operation>();
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) out.set(`${method.toUpperCase()} ${path}`, op);
  }
  return out;
}

t.test('every route is documented and every documented operation is a route', async (t) => {
  const { box } = await makeTestBox();
  const router = createApiRouter({
    getBox: () => box,
    sessions: new SessionStore({ idleMs: 1, maxAgeMs: 1, maxSessions: 1, now: () => 0 }),
    logger: silentLogger,
  });
  const routed = new Set<string>();
  for (const layer of router.stack) {
    t.type(layer.path, 'string', 'string paths only');
    const path = String(layer.path);
    t.ok(path.startsWith(API_PREFIX + '/'), `${path} is under ${API_PREFIX}`);
    // HEAD is added by the router for every GET; it is the same operation.
    for (const m of layer.methods.filter((m) => m !== 'HEAD'))
      routed.add(`${m} ${toOpenApiPath(path.slice(API_PREFIX.length))}`);
  }
  const ops = documented();
  t.same([...routed].filter((k) => !ops.has(k)).sort(), [], 'routes missing from the document');
  t.same([...ops.keys()].filter((k) => !routed.has(k)).sort(), [], 'documented operations without a route');
  t.equal(routed.size, ROUTES.length, 'one layer per route, no duplicates');
});

t.test(
  'each route has the role the document states; public operations are exactly login and the document',
  async (t) => {
    const ops = documented();
    for (const r of ROUTES) {
      const op = ops.get(`${r.method.toUpperCase()} ${toOpenApiPath(r.path)}`)!;
      t.equal(op['x-min-role'], r.role, `${op.operationId}: role`);
      if (r.role === undefined) t.same(op.security, [], `${op.operationId}: no login`);
      else t.equal(op.security, undefined, `${op.operationId}: the global security applies`);
    }
    t.same(
      ROUTES.filter((r) => !r.role)
        .map((r) => r.path)
        .sort(),
      ['/login', '/openapi.json'],
    );
  },
);

t.test('the document is consistent', async (t) => {
  const ops = documented();
  const ids = [...ops.values()].map((o) => o.operationId);
  t.equal(new Set(ids).size, ids.length, 'operationIds are unique');
  t.equal(doc.openapi, '3.1.0');
  t.same(doc.servers, [{ url: API_PREFIX }]);

  const validator = new SchemaValidator(doc.components.schemas);
  for (const [key, op] of ops) {
    const path = key.split(' ')[1]!;
    const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    const declared = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
    t.same(declared, inPath, `${op.operationId}: path parameters declared`);
    for (const p of op.parameters ?? [])
      if (p.in === 'path') t.equal(p.required, true, `${op.operationId}: ${p.name} required`);

    const codes = Object.keys(op.responses);
    t.ok(
      codes.some((c) => c.startsWith('2')),
      `${op.operationId}: a success answer`,
    );
    if (op['x-min-role']) {
      t.ok(codes.includes('401') && codes.includes('403'), `${op.operationId}: 401 and 403 documented`);
    }
    if (op.requestBody) {
      t.ok(
        ['400', '413', '415'].every((c) => codes.includes(c)),
        `${op.operationId}: body errors documented`,
      );
      validator.assertSupported(op.requestBody.content['application/json'].schema, op.operationId);
    }
    for (const [code, r] of Object.entries(op.responses)) {
      if ('$ref' in r) {
        const name = r.$ref.replace('#/components/responses/', '');
        t.ok(doc.components.responses[name], `${op.operationId} ${code}: ${r.$ref} resolves`);
        continue;
      }
      for (const media of Object.values(r.content ?? {}))
        validator.assertSupported(media.schema as JsonSchema, `${op.operationId} ${code}`);
    }
  }
  t.throws(
    () => new SchemaValidator({ X: { type: 'string', const: 'a' } as JsonSchema }),
    /keyword "const" is not supported/,
  );
  t.throws(() => new SchemaValidator({ X: { $ref: '#/components/schemas/Y' } }), /unresolvable \$ref/);
});

t.test('the validator on its own: messages name the field and say what is expected', async (t) => {
  const v = new SchemaValidator({
    Inner: {
      type: 'object',
      additionalProperties: false,
      required: ['n'],
      properties: { n: { type: 'integer', minimum: 1, maximum: 5 } },
    },
  });
  const s: JsonSchema = {
    type: 'object',
    additionalProperties: false,
    required: ['a'],
    properties: {
      a: { type: 'string', minLength: 1, maxLength: 3 },
      b: { type: 'array', maxItems: 1, items: { $ref: '#/components/schemas/Inner' } },
      c: {
        anyOf: [
          { type: 'string', format: 'ipv4' },
          { type: 'string', format: 'ipv6' },
        ],
      },
      d: { type: ['string', 'null'], pattern: '^x+$', description: 'only x' },
    },
  };
  const rows: [string, unknown, string[]][] = [
    ['ok', { a: 'abc', b: [{ n: 2 }], c: '::1', d: null }, []],
    ['not an object', 'a', ['The request body must be an object, not a string.']],
    ['missing', {}, ['Missing required field "a".']],
    ['empty', { a: '' }, ['Field "a" must not be empty.']],
    ['long', { a: 'abcd' }, ['Field "a" is too long: at most 3 characters.']],
    [
      'nested',
      { a: 'a', b: [{ n: 9, m: 1 }] },
      ['Field "b[0].n" must be a number from 1 to 5.', 'Unknown field "b[0].m"; allowed fields: n.'],
    ],
    ['too many', { a: 'a', b: [{ n: 1 }, { n: 1 }] }, ['Field "b" has too many items: at most 1.']],
    ['format', { a: 'a', c: 'host' }, ['Field "c" must be an IPv4 address.']],
    ['pattern', { a: 'a', d: 'y' }, ['Field "d" has the wrong form (only x).']],
    ['null where not allowed', { a: null }, ['Field "a" must be a string, not null.']],
  ];
  for (const [name, value, messages] of rows) {
    t.same(
      v.validate(s, value).map((x) => x.message),
      messages,
      name,
    );
  }
});
