/**
 * A small validator for the subset of JSON Schema (2020-12, as OpenAPI 3.1
 * uses it) that the REST API's own document uses. Written here instead of
 * pulling in a validator package: the subset is small, and a schema keyword
 * outside it is refused when the validator is built, so a constraint written
 * in the document can never be silently skipped.
 *
 * Supported: type (one or a list), properties, required,
 * additionalProperties (false or a schema), items, enum, anyOf, $ref to
 * "#/components/schemas/<name>", minLength, maxLength, minimum, maximum,
 * maxItems, pattern, format (ipv4, ipv6, date-time, uri). Annotations
 * (description, title, examples, readOnly, deprecated, default, x-*) are
 * accepted and ignored.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** A JSON Schema object of the supported subset. */
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
export type JsonType = 'object' | 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'null';

/** One reason a value does not match, with the path of the offending field ("" = the whole body). */
export interface SchemaViolation {
  path: string;
  message: string;
}

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
  'pattern',
  'format',
]);
const ANNOTATIONS = new Set(['description', 'title', 'examples', 'readOnly', 'deprecated', 'default']);
const FORMATS = new Set(['ipv4', 'ipv6', 'date-time', 'uri']);
const REF_PREFIX = '#/components/schemas/';

/**
 * Validates values against schemas that may refer to `components`. The
 * constructor checks every component (and check() every schema it is given)
 * for keywords outside the subset and throws naming the keyword: that is a
 * programming error, found at start-up.
 */
export class SchemaValidator {
  private readonly patterns = new Map<string, RegExp>();

  constructor(private readonly components: Record<string, JsonSchema>) {
    for (const [name, s] of Object.entries(components)) this.assertSupported(s, `${REF_PREFIX}${name}`);
  }

  /** Throw if `schema` uses anything outside the supported subset or refers to an unknown component. */
  assertSupported(schema: JsonSchema, where: string): void {
    for (const [k, v] of Object.entries(schema)) {
      if (k.startsWith('x-') || ANNOTATIONS.has(k)) continue;
      if (!KEYWORDS.has(k))
        throw new Error(`schema ${where}: keyword "${k}" is not supported by the validator`);
      if (k === 'format' && !FORMATS.has(v as string))
        throw new Error(`schema ${where}: format "${String(v)}" is not supported`);
      if (k === '$ref') {
        const name = (v as string).startsWith(REF_PREFIX)
          ? (v as string).slice(REF_PREFIX.length)
          : undefined;
        if (!name || !this.components[name])
          throw new Error(`schema ${where}: unresolvable $ref "${String(v)}"`);
      }
      if (k === 'pattern') this.regex(v as string);
    }
    for (const [p, s] of Object.entries(schema.properties ?? {})) this.assertSupported(s, `${where}.${p}`);
    if (schema.items) this.assertSupported(schema.items, `${where}[]`);
    if (typeof schema.additionalProperties === 'object')
      this.assertSupported(schema.additionalProperties, `${where}.*`);
    (schema.anyOf ?? []).forEach((s, i) => this.assertSupported(s, `${where}.anyOf[${i}]`));
  }

  /** Every violation of `schema` by `value` (empty when it matches). Never throws for any JSON value. */
  validate(schema: JsonSchema, value: unknown, path = ''): SchemaViolation[] {
    if (schema.$ref)
      return this.validate(this.components[schema.$ref.slice(REF_PREFIX.length)]!, value, path);
    if (schema.anyOf) {
      const results = schema.anyOf.map((s) => this.validate(s, value, path));
      if (results.some((r) => r.length === 0)) return [];
      // Report the branch that got furthest (fewest violations): its reasons are the useful ones.
      return results.sort((a, b) => a.length - b.length)[0]!;
    }
    const t = jsonType(value);
    if (schema.type !== undefined) {
      const allowed = Array.isArray(schema.type) ? schema.type : [schema.type];
      const ok = allowed.some((a) => a === t || (a === 'number' && t === 'integer'));
      if (!ok)
        return [
          {
            path,
            message: `${subject(path)} must be ${allowed.map(article).join(' or ')}, not ${article(t)}.`,
          },
        ];
    }
    if (schema.enum && !schema.enum.some((e) => e === value)) {
      return [
        { path, message: `${subject(path)} must be one of ${schema.enum.map((e) => String(e)).join(', ')}.` },
      ];
    }
    switch (t) {
      case 'string':
        return this.validateString(schema, value as string, path);
      case 'integer':
      case 'number':
        return validateNumber(schema, value as number, path);
      case 'array':
        return this.validateArray(schema, value as unknown[], path);
      case 'object':
        return this.validateObject(schema, value as Record<string, unknown>, path);
      default:
        return [];
    }
  }

  private validateString(schema: JsonSchema, s: string, path: string): SchemaViolation[] {
    const chars = [...s].length;
    if (schema.minLength !== undefined && chars < schema.minLength) {
      return [
        {
          path,
          message:
            schema.minLength === 1
              ? `${subject(path)} must not be empty.`
              : `${subject(path)} must have at least ${schema.minLength} characters.`,
        },
      ];
    }
    if (schema.maxLength !== undefined && chars > schema.maxLength) {
      return [{ path, message: `${subject(path)} is too long: at most ${schema.maxLength} characters.` }];
    }
    if (schema.pattern !== undefined && !this.regex(schema.pattern).test(s)) {
      return [
        {
          path,
          message: `${subject(path)} has the wrong form${schema.description ? ` (${schema.description})` : ''}.`,
        },
      ];
    }
    if (schema.format !== undefined && !formatOk(schema.format, s)) {
      return [{ path, message: `${subject(path)} must be ${FORMAT_WORDS[schema.format]}.` }];
    }
    return [];
  }

  private validateArray(schema: JsonSchema, a: unknown[], path: string): SchemaViolation[] {
    if (schema.maxItems !== undefined && a.length > schema.maxItems) {
      return [{ path, message: `${subject(path)} has too many items: at most ${schema.maxItems}.` }];
    }
    if (!schema.items) return [];
    return a.flatMap((v, i) => this.validate(schema.items!, v, `${path}[${i}]`));
  }

  private validateObject(schema: JsonSchema, o: Record<string, unknown>, path: string): SchemaViolation[] {
    const out: SchemaViolation[] = [];
    const props = schema.properties ?? {};
    for (const r of schema.required ?? []) {
      if (!Object.hasOwn(o, r))
        out.push({ path: join(path, r), message: `Missing required field "${join(path, r)}".` });
    }
    for (const [k, v] of Object.entries(o)) {
      const p = join(path, k);
      if (Object.hasOwn(props, k)) {
        out.push(...this.validate(props[k]!, v, p));
      } else if (schema.additionalProperties === false) {
        const allowed = Object.keys(props);
        out.push({
          path: p,
          message: `Unknown field "${clipKey(p)}"; ${allowed.length ? `allowed fields: ${allowed.join(', ')}` : 'no fields are allowed here'}.`,
        });
      } else if (typeof schema.additionalProperties === 'object') {
        out.push(...this.validate(schema.additionalProperties, v, p));
      }
    }
    return out;
  }

  private regex(pattern: string): RegExp {
    let r = this.patterns.get(pattern);
    if (!r) {
      // JSON Schema patterns are ECMA-262 and unanchored; "u" so that \p{..} and astral characters behave.
      r = new RegExp(pattern, 'u');
      this.patterns.set(pattern, r);
    }
    return r;
  }
}

const FORMAT_WORDS: Record<NonNullable<JsonSchema['format']>, string> = {
  ipv4: 'an IPv4 address',
  ipv6: 'an IPv6 address',
  'date-time': 'a date-time (RFC 3339)',
  uri: 'an absolute URI',
};

function formatOk(format: NonNullable<JsonSchema['format']>, s: string): boolean {
  switch (format) {
    case 'ipv4':
      return isIPv4(s);
    case 'ipv6':
      return isIPv6(s);
    case 'date-time':
      return (
        /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(s) &&
        !Number.isNaN(Date.parse(s))
      );
    case 'uri':
      return URL.canParse(s);
  }
}

function validateNumber(schema: JsonSchema, n: number, path: string): SchemaViolation[] {
  if (
    (schema.minimum !== undefined && n < schema.minimum) ||
    (schema.maximum !== undefined && n > schema.maximum)
  ) {
    const range =
      schema.minimum !== undefined && schema.maximum !== undefined
        ? `from ${schema.minimum} to ${schema.maximum}`
        : schema.minimum !== undefined
          ? `of at least ${schema.minimum}`
          : `of at most ${schema.maximum}`;
    return [{ path, message: `${subject(path)} must be a number ${range}.` }];
  }
  return [];
}

/** The JSON type of a parsed JSON value ("integer" for whole numbers). */
export function jsonType(v: unknown): JsonType {
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
