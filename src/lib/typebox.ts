/**
 * TypeBox helpers shared by the simulator's HTTP interfaces. TypeBox schemas
 * are plain JSON Schema objects with a static type (Static<typeof S>), so one
 * definition gives the validator (Ajv), the OpenAPI document and the handler
 * types. The helpers here spell the few shapes TypeBox's builders would write
 * differently from the document the API has always served: an enum (TypeBox
 * writes anyOf of consts) and a nullable type (`type: [t, "null"]`).
 */
import { Type, type Static, type TSchema, type TUnsafe } from '@sinclair/typebox';

/** Marks a schema as a named component of an OpenAPI document (a symbol: invisible to JSON and Ajv). */
const COMPONENT = Symbol('openapi component');

/** Name `schema` as component `name`: documents refer to it by $ref, except at its own definition. */
export function component<T extends TSchema>(name: string, schema: T): T {
  return Object.assign(schema, { [COMPONENT]: name });
}

/** The component name of a schema, if it is one. */
export function componentName(schema: object): string | undefined {
  return (schema as { [COMPONENT]?: string })[COMPONENT];
}

/** `{type: "string", enum: values}` typed as the union of the values. */
export function StringEnum<const T extends readonly string[]>(
  values: T,
  options: { description?: string; default?: T[number] } = {},
): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

/**
 * `schema` or null, written `type: [<type>, "null"]` (the document's spelling).
 * An enum gets null among its values too: `enum` is checked on its own, so
 * without it a null would fail the enum although the type allows it.
 */
export function Nullable<T extends TSchema>(
  schema: T,
  options: { description?: string } = {},
): TUnsafe<Static<T> | null> {
  const { type, ...rest } = schema as unknown as { type: string; enum?: unknown[] };
  if (rest.enum) rest.enum = [...rest.enum, null];
  return Type.Unsafe<Static<T> | null>({ ...rest, type: [type, 'null'], ...options });
}
