import { TypeID, typeid } from 'typeid-js';
import { notFound } from './errors.js';

/** The closed table of id prefixes (spec 1.3). */
export const ID_PREFIXES = {
  customer: 'cst',
  wallet: 'wlt',
  quote: 'qt',
  transaction: 'txn',
  webhook: 'whk',
  event: 'evt',
  project: 'prj',
  request: 'req',
} as const;

export type IdKind = keyof typeof ID_PREFIXES;

export function newId(kind: IdKind): string {
  return typeid(ID_PREFIXES[kind]).toString();
}

export function isId(kind: IdKind, value: string): boolean {
  try {
    TypeID.fromString(value, ID_PREFIXES[kind]);
    return true;
  } catch {
    return false;
  }
}

/** A path id of the wrong prefix or shape answers 404 like an unknown one, so ids cannot be probed. */
export function assertId(kind: IdKind, value: string): string {
  if (!isId(kind, value)) throw notFound(kind);
  return value;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Ids of our own rows that have no public prefix (webhook deliveries) are plain UUIDs. */
export const isUuid = (value: string): boolean => UUID.test(value);
