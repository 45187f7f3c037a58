import Type, { type Static, type TSchema, type TString, type TUnsafe } from 'typebox';

/** `T | null` as `type: [T, "null"]`: OpenAPI 3.1 style, and cheaper to serialize than anyOf. */
export function Nullable<T extends TSchema & { type: string }>(schema: T) {
  return Type.Unsafe<Static<T> | null>({ ...schema, type: [schema.type, 'null'] });
}

export const Timestamp = Type.String({ format: 'date-time', description: 'ISO 8601, UTC', examples: ['2026-03-20T14:15:22Z'] });

/** Timestamps go out as ISO 8601 UTC with whole seconds when there are no milliseconds. */
export function isoTimestamp(date: Date): string {
  return date.toISOString().replace('.000Z', 'Z');
}

/** Path parameters holding one id; its shape is checked by the service so a bad id is a 404. */
export function IdParam<K extends string>(name: K, example: string) {
  const properties = { [name]: Type.String({ examples: [example] }) } as Record<K, TString>;
  return Type.Object(properties);
}

export interface Component<T extends TSchema> {
  /** The schema with its $id, registered once on the app (and so in components.schemas). */
  schema: T & { $id: string };
  /** A reference to it, typed as the schema, for use inside other schemas and routes. */
  ref: TUnsafe<Static<T>>;
}

/** A named schema that appears once in the OpenAPI document and is referenced everywhere else. */
export function component<T extends TSchema>(id: string, schema: T): Component<T> {
  return { schema: { ...schema, $id: id }, ref: Type.Unsafe<Static<T>>({ $ref: `${id}#` }) };
}

export const metadataShape = (value: object, description: string) =>
  Type.Unsafe<Record<string, string>>({
    type: 'object',
    maxProperties: 50,
    propertyNames: { minLength: 1, maxLength: 40 },
    additionalProperties: value,
    description,
  });

/** Metadata as written on create (spec 1.9). */
export const Metadata = metadataShape({ type: 'string', maxLength: 500 }, 'Up to 50 keys of at most 40 characters, string values of at most 500.');
