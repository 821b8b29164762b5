/**
 * JSON Schema validation for every HTTP interface of the simulator (the box's
 * REST API, the lab's control plane): Ajv 8 (JSON Schema 2020-12 as OpenAPI
 * 3.1 uses it) compiles each schema once, and this module turns Ajv's errors
 * into the messages a person reads in a problem+json `detail`
 * ("Missing required field "domain".", "Field "port" must be an integer, not
 * a string.").
 *
 * Keywords are limited to a known set: each has a message written here, so a
 * schema keyword without one is refused when the validator is built (a
 * programming error found at start-up), never answered with Ajv's own words.
 * Annotations (description, title, examples, readOnly, deprecated, default,
 * x-*) are accepted and ignored.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

/** A JSON Schema object (TypeBox schemas are ones). */
export interface JsonSchema {
  type?: JsonType | JsonType[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: readonly unknown[];
  anyOf?: JsonSchema[];
  $ref?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  maxItems?: number;
  minItems?: number;
  pattern?: string;
  format?: 'ipv4' | 'ipv6' | 'date-time' | 'uri';
  description?: string;
  title?: string;
  examples?: unknown[];
  readOnly?: boolean;
  deprecated?: boolean;
  default?: unknown;
  [extension: `x-${string}`]: unknown;
}

/** The JSON types a schema can name ("integer" is a whole number). */
type JsonType = 'object' | 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'null';

/** One reason a value does not match, with the path of the offending field ("" = the whole body). */
export interface SchemaViolation {
  path: string;
  message: string;
}

/** A compiled schema: every violation of a value (empty when it matches). Never throws for any JSON value. */
export type Validate = (value: unknown) => SchemaViolation[];

const KEYWORDS = new Set([
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'enum',
  'anyOf',
  '$ref',
  'minLength',
  'maxLength',
  'minimum',
  'maximum',
  'maxItems',
  'minItems',
  'pattern',
  'format',
]);
const ANNOTATIONS = new Set(['description', 'title', 'examples', 'readOnly', 'deprecated', 'default']);
const FORMATS = new Set(['ipv4', 'ipv6', 'date-time', 'uri']);
const REF_PREFIX = '#/components/schemas/';

// ajv-formats is CommonJS: its default export arrives as the module object under NodeNext.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (
  ajv: Ajv2020,
  formats: string[],
) => Ajv2020;

/**
 * The one Ajv instance: all errors (a request learns every mistake at once),
 * verbose (messages quote the schema's bounds), strict (an unknown keyword is
 * a programming error). IP addresses are checked by node:net, as the device
 * checks them; date-time (RFC 3339) and uri come from ajv-formats.
 */
function makeAjv(): Ajv2020 {
  const ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, strictRequired: false });
  addFormats(ajv, ['date-time', 'uri']);
  ajv.addFormat('ipv4', { type: 'string', validate: (s: string) => isIPv4(s) });
  ajv.addFormat('ipv6', { type: 'string', validate: (s: string) => isIPv6(s) });
  return ajv;
}

const AJV = makeAjv();

/** Throw if `schema` uses a keyword outside the set this module words, or an unknown format. */
function assertSupported(schema: JsonSchema, where: string, resolve?: (name: string) => boolean): void {
  for (const [k, v] of Object.entries(schema)) {
    if (k.startsWith('x-') || ANNOTATIONS.has(k)) continue;
    if (!KEYWORDS.has(k))
      throw new Error(`schema ${where}: keyword "${k}" is not supported by the validator`);
    if (k === 'format' && !FORMATS.has(v as string))
      throw new Error(`schema ${where}: format "${String(v)}" is not supported`);
    if (k === '$ref') {
      const name = (v as string).startsWith(REF_PREFIX) ? (v as string).slice(REF_PREFIX.length) : undefined;
      if (!name || !resolve?.(name)) throw new Error(`schema ${where}: unresolvable $ref "${String(v)}"`);
    }
  }
  for (const [p, s] of Object.entries(schema.properties ?? {})) assertSupported(s, `${where}.${p}`, resolve);
  if (schema.items) assertSupported(schema.items, `${where}[]`, resolve);
  if (typeof schema.additionalProperties === 'object')
    assertSupported(schema.additionalProperties, `${where}.*`, resolve);
  (schema.anyOf ?? []).forEach((s, i) => assertSupported(s, `${where}.anyOf[${i}]`, resolve));
}

/**
 * Validators already compiled, by schema object. Every box of a process
 * mounts the same route table: Ajv's compile (about 30 ms for the box's
 * routes) ran once per box at boot, most of a lab's start-up CPU
 * (bench/lab-regression's profile); now once per process.
 */
const COMPILED = new WeakMap<object, Validate>();

/**
 * Compile `schema` (no $ref: TypeBox schemas embed what they use) into a
 * Validate. The supported-keyword check runs now and throws; Ajv's compile,
 * the slow part (validating is cheap), runs at the first validation: a
 * process that mounts a route table compiles only the routes it is asked,
 * and a module that loads a schema costs nothing until it is used (each test
 * file of the unit tier paid ~0.3 s of CPU for the state file's schemas at
 * import). The result is kept per schema object, so a schema must not be
 * changed after its first validation (the route tables' schemas are
 * constants; openapi.test compiles every route's).
 */
export function compileSchema(schema: JsonSchema, where = 'schema'): Validate {
  const known = COMPILED.get(schema);
  if (known) return known;
  assertSupported(schema, where);
  let fn: ValidateFunction | undefined;
  const validate: Validate = (value) => {
    fn ??= AJV.compile(JSON.parse(JSON.stringify(schema)) as object);
    return fn(value) ? [] : violations(fn, value);
  };
  COMPILED.set(schema, validate);
  return validate;
}

/**
 * Validates values against schemas that may refer to `components` by
 * "#/components/schemas/<name>" (as a served OpenAPI document does). The
 * constructor checks every component (and each schema given to validate())
 * for keywords outside the supported set and throws naming the keyword.
 */
export class SchemaValidator {
  private readonly compiled = new WeakMap<object, Validate>();

  constructor(private readonly components: Record<string, JsonSchema>) {
    for (const [name, s] of Object.entries(components)) this.assertSupported(s, `${REF_PREFIX}${name}`);
  }

  /** Throw if `schema` uses anything outside the supported set or refers to an unknown component. */
  assertSupported(schema: JsonSchema, where: string): void {
    assertSupported(schema, where, (name) => Object.hasOwn(this.components, name));
  }

  /** Every violation of `schema` by `value` (empty when it matches). Never throws for any JSON value. */
  validate(schema: JsonSchema, value: unknown): SchemaViolation[] {
    let v = this.compiled.get(schema);
    if (!v) {
      this.assertSupported(schema, 'schema');
      v = compileSchema(this.inline(schema));
      this.compiled.set(schema, v);
    }
    return v(value);
  }

  /** `schema` with every $ref replaced by its component (the components have no cycles). */
  private inline(schema: JsonSchema): JsonSchema {
    if (schema.$ref) return this.inline(this.components[schema.$ref.slice(REF_PREFIX.length)]!);
    const out: Record<string, unknown> = { ...schema };
    if (schema.properties)
      out.properties = Object.fromEntries(
        Object.entries(schema.properties).map(([k, s]) => [k, this.inline(s)]),
      );
    if (schema.items) out.items = this.inline(schema.items);
    if (typeof schema.additionalProperties === 'object')
      out.additionalProperties = this.inline(schema.additionalProperties);
    if (schema.anyOf) out.anyOf = schema.anyOf.map((s) => this.inline(s));
    return out as JsonSchema;
  }
}

// ------------------------------------------------------------------ Ajv errors -> messages

/**
 * The violations of a failed validation, one per field: within a field the
 * type error wins over the enum error over the rest (a wrong type says all);
 * for anyOf, the branch that got furthest (fewest violations) speaks. Order:
 * the order of the fields in the value, a missing field just after its parent.
 */
function violations(fn: ValidateFunction, value: unknown): SchemaViolation[] {
  const errors = (fn.errors ?? []).filter((e) => e.keyword !== 'anyOf');
  return orderByValue(pickAnyOfBranches(errors).flatMap(toViolation), value);
}

/** Of the errors under an anyOf, only those of its branch with the fewest (the first of equals). */
function pickAnyOfBranches(errors: ErrorObject[]): ErrorObject[] {
  const m = errors.map((e) => /^(.*?\/anyOf)\/(\d+)\//.exec(e.schemaPath));
  const first = m.findIndex((x) => x !== null);
  if (first < 0) return dedupe(errors);
  const at = m[first]![1]!;
  const branches = new Map<string, ErrorObject[]>();
  const rest: ErrorObject[] = [];
  errors.forEach((e, i) => {
    const x = m[i];
    if (x && x[1] === at) {
      const list = branches.get(x[2]!) ?? [];
      list.push(e);
      branches.set(x[2]!, list);
    } else rest.push(e);
  });
  const best = [...branches.entries()]
    .map(([i, list]) => ({ i: Number(i), list: dedupe(list) }))
    .sort((a, b) => a.list.length - b.list.length || a.i - b.i)[0]!.list;
  // Rewrite the chosen branch's schema paths so that a nested anyOf is handled the same way.
  const chosen = best.map((e) => ({ ...e, schemaPath: e.schemaPath.replace(`${at}/`, `${at}-chosen/`) }));
  return pickAnyOfBranches([...rest, ...chosen]);
}

const PRIORITY: Record<string, number> = { type: 0, enum: 1 };

/** One error per field: a field's type error hides its other errors, then its enum error. */
function dedupe(errors: ErrorObject[]): ErrorObject[] {
  const byPath = new Map<string, ErrorObject[]>();
  const key = (e: ErrorObject) =>
    e.keyword === 'required' || e.keyword === 'additionalProperties'
      ? `${e.instancePath}\u0000${e.keyword}:${JSON.stringify(e.params)}`
      : e.instancePath;
  for (const e of errors) {
    const list = byPath.get(key(e)) ?? [];
    list.push(e);
    byPath.set(key(e), list);
  }
  const out: ErrorObject[] = [];
  for (const list of byPath.values()) {
    const top = Math.min(...list.map((e) => PRIORITY[e.keyword] ?? 2));
    out.push(top < 2 ? list.find((e) => (PRIORITY[e.keyword] ?? 2) === top)! : list[0]!);
  }
  return out;
}

/** "/b/0/n" -> "b[0].n" (numbers are array indexes: objects here have names, not numbers, as keys). */
function dotted(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    out += /^\d+$/.test(seg) ? `[${seg}]` : out ? `.${seg}` : seg;
  }
  return out;
}

function toViolation(e: ErrorObject): SchemaViolation[] {
  const path = dotted(e.instancePath);
  const s = (e.parentSchema ?? {}) as JsonSchema;
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required': {
      const f = join(path, String(p.missingProperty));
      return [{ path: f, message: `Missing required field "${f}".` }];
    }
    case 'additionalProperties': {
      const f = join(path, String(p.additionalProperty));
      const allowed = Object.keys(s.properties ?? {});
      return [
        {
          path: f,
          message: `Unknown field "${clipKey(f)}"; ${allowed.length ? `allowed fields: ${allowed.join(', ')}` : 'no fields are allowed here'}.`,
        },
      ];
    }
    case 'type': {
      const allowed = Array.isArray(s.type) ? s.type : [s.type ?? String(p.type)];
      return [
        {
          path,
          message: `${subject(path)} must be ${allowed.map(article).join(' or ')}, not ${article(jsonType(e.data))}.`,
        },
      ];
    }
    case 'enum':
      return [
        {
          path,
          message: `${subject(path)} must be one of ${(s.enum ?? []).map((x) => String(x)).join(', ')}.`,
        },
      ];
    case 'minLength':
      return [
        {
          path,
          message:
            s.minLength === 1
              ? `${subject(path)} must not be empty.`
              : `${subject(path)} must have at least ${s.minLength} characters.`,
        },
      ];
    case 'maxLength':
      return [{ path, message: `${subject(path)} is too long: at most ${s.maxLength} characters.` }];
    case 'pattern':
      return [
        {
          path,
          message: `${subject(path)} has the wrong form${s.description ? ` (${s.description})` : ''}.`,
        },
      ];
    case 'format':
      return [{ path, message: `${subject(path)} must be ${FORMAT_WORDS[String(p.format)] ?? p.format}.` }];
    case 'minimum':
    case 'maximum': {
      const range =
        s.minimum !== undefined && s.maximum !== undefined
          ? `from ${s.minimum} to ${s.maximum}`
          : s.minimum !== undefined
            ? `of at least ${s.minimum}`
            : `of at most ${s.maximum}`;
      return [{ path, message: `${subject(path)} must be a number ${range}.` }];
    }
    case 'maxItems':
      return [{ path, message: `${subject(path)} has too many items: at most ${s.maxItems}.` }];
    case 'minItems':
      return [{ path, message: `${subject(path)} has too few items: at least ${s.minItems}.` }];
    default:
      // Unreachable: assertSupported admits only the keywords above.
      return [{ path, message: `${subject(path)} is not valid.` }];
  }
}

/** Sort violations by where their field is in `value` (depth first, in key order). */
function orderByValue(vs: SchemaViolation[], value: unknown): SchemaViolation[] {
  const rank = new Map<string, number>();
  let n = 0;
  const walk = (v: unknown, path: string) => {
    rank.set(path, n++);
    if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`));
    else if (v !== null && typeof v === 'object')
      for (const [k, x] of Object.entries(v as object)) walk(x, join(path, k));
  };
  walk(value, '');
  const where = (v: SchemaViolation) => {
    const r = rank.get(v.path);
    if (r !== undefined) return r;
    // A missing field: just after its parent, before the parent's children.
    const parent = v.path.includes('.') ? v.path.slice(0, v.path.lastIndexOf('.')) : '';
    return (rank.get(parent) ?? 0) + 0.5;
  };
  return vs
    .map((v, i) => ({ v, i, r: where(v) }))
    .sort((a, b) => a.r - b.r || a.i - b.i)
    .map((x) => x.v);
}

const FORMAT_WORDS: Record<string, string> = {
  ipv4: 'an IPv4 address',
  ipv6: 'an IPv6 address',
  'date-time': 'a date-time (RFC 3339)',
  uri: 'an absolute URI',
};

/** The JSON type of a parsed JSON value ("integer" for whole numbers). */
function jsonType(v: unknown): JsonType {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  if (typeof v === 'string' || typeof v === 'boolean' || typeof v === 'object') return typeof v as JsonType;
  return 'null';
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function subject(path: string): string {
  return path ? `Field "${clipKey(path)}"` : 'The request body';
}

/** Field names come from the client: keep them short and printable in messages. */
function clipKey(k: string): string {
  const printable = k.replace(/[^\x20-\x7e]/g, '?');
  return printable.length > 60 ? printable.slice(0, 60) + '...' : printable;
}

function article(t: string): string {
  switch (t) {
    case 'object':
      return 'an object';
    case 'array':
      return 'an array';
    case 'integer':
      return 'an integer';
    case 'null':
      return 'null';
    default:
      return `a ${t}`;
  }
}
