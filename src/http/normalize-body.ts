import { validationError } from '../domain/errors.js';

// A lone UTF-16 surrogate cannot be stored as UTF-8; PostgreSQL would refuse it or replace it.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function storable(text: string): boolean {
  return !text.includes('\u0000') && !LONE_SURROGATE.test(text);
}

/**
 * Prepares a parsed JSON body for validation, in place: trims every string value, and refuses
 * text that PostgreSQL cannot store as sent (NUL, lone surrogates), in values and in keys, so
 * that what is accepted is exactly what is kept.
 */
export function normalizeBody(value: unknown, path = ''): unknown {
  if (typeof value === 'string') {
    if (!storable(value)) throw validationError(path || '/', 'contains a character that cannot be stored (NUL or an unpaired surrogate)');
    return value.trim();
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = normalizeBody(value[i], `${path}/${i}`);
  } else if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (!storable(key)) throw validationError(path || '/', 'has a key with a character that cannot be stored (NUL or an unpaired surrogate)');
      record[key] = normalizeBody(record[key], `${path}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`);
    }
  }
  return value;
}
