/**
 * The generated OpenAPI document against the one the API served before the
 * route table existed (fixtures/openapi-before.json, saved from GET
 * /api/v1/openapi.json of the hand-written document): equal in content for
 * every route (paths, methods, parameters, request and response schemas,
 * descriptions) and every component. The only normalisation: `required: []`
 * and no `required` say the same thing. Also: the document is valid OpenAPI
 * 3.1 by a validator nobody here wrote (@seriousme/openapi-schema-validator).
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import { openApiDocument } from './router.js';
import { repoPath } from '../../lib/repo-root.js';

const before = JSON.parse(
  readFileSync(repoPath('src', 'web', 'api', 'fixtures', 'openapi-before.json'), 'utf8'),
);
const now = JSON.parse(JSON.stringify(openApiDocument()));

/** Drop `required: []` everywhere (an empty list requires nothing). */
function normalise(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalise);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === 'required' && Array.isArray(x) && x.length === 0) continue;
    out[k] = normalise(x);
  }
  return out;
}

t.test('every path and method of the old document, and no other', async (t) => {
  const ops = (d: { paths: Record<string, object> }) =>
    Object.entries(d.paths)
      .flatMap(([p, item]) => Object.keys(item).map((m) => `${m.toUpperCase()} ${p}`))
      .sort();
  t.same(ops(now), ops(before));
});

t.test('each operation is equal in content to the old one', async (t) => {
  for (const [path, item] of Object.entries(before.paths as Record<string, Record<string, unknown>>)) {
    for (const [method, op] of Object.entries(item)) {
      t.strictSame(normalise(now.paths[path]?.[method]), normalise(op), `${method.toUpperCase()} ${path}`);
    }
  }
});

t.test('components, info, servers and security are equal in content', async (t) => {
  for (const name of Object.keys(before.components.schemas))
    t.strictSame(
      normalise(now.components.schemas[name]),
      normalise(before.components.schemas[name]),
      `schema ${name}`,
    );
  t.same(Object.keys(now.components.schemas).sort(), Object.keys(before.components.schemas).sort());
  t.strictSame(now.components.responses, before.components.responses);
  t.strictSame(now.components.securitySchemes, before.components.securitySchemes);
  t.strictSame(
    [now.openapi, now.info, now.servers, now.security],
    [before.openapi, before.info, before.servers, before.security],
  );
});

t.test('the document is valid OpenAPI 3.1', async (t) => {
  const v = new Validator();
  const res = await v.validate(now);
  t.same(res.errors ?? [], [], 'no errors');
  t.equal(res.valid, true);
  t.equal(v.version, '3.1');
});
