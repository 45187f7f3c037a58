import { isIP } from 'node:net';
import { Ajv, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

/** Formats of our own, so that a schema alone says what a valid value is. */
export const CUSTOM_FORMATS: Record<string, (value: string) => boolean> = {
  'ip-address': (value) => isIP(value) !== 0,
  'e164-phone': (value) => /^\+[1-9][0-9]{6,14}$/.test(value),
  'past-date': isPastDate,
};

function isPastDate(value: string): boolean {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!match) return false;
  const [, y, m, d] = match.map(Number) as [number, number, number, number];
  const date = new Date(Date.UTC(y, m - 1, d));
  const real = date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
  return real && y >= 1900 && date.getTime() < Date.now();
}

export function createAjv(options: Options): Ajv {
  const ajv = new Ajv({
    allErrors: false,
    strict: false,
    // Unknown fields are refused, never stripped: a typo must not be silently ignored.
    removeAdditional: false,
    useDefaults: true,
    ...options,
  });
  addFormats.default(ajv);
  for (const [name, validate] of Object.entries(CUSTOM_FORMATS)) ajv.addFormat(name, { type: 'string', validate });
  return ajv;
}

/**
 * Bodies are validated without type coercion ("1" is not a number, 1 is not a string);
 * query strings, params and headers arrive as text and are coerced.
 */
export function createValidatorCompiler(sharedSchemas: readonly object[]): FastifySchemaCompiler<unknown> {
  const strict = createAjv({ coerceTypes: false });
  const coercing = createAjv({ coerceTypes: 'array' });
  for (const schema of sharedSchemas) {
    strict.addSchema(schema);
    coercing.addSchema(schema);
  }
  return ({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema as object);
}
