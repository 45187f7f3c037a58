import { sql, type Expression, type SqlBool } from 'kysely';
import Type, { type TSchema } from 'typebox';
import { validationError } from '../domain/errors.js';
import { type IdKind, isId, isUuid } from '../domain/ids.js';
import { Nullable } from './schema-helpers.js';

/** Query parameters every list accepts (spec 1.7). */
export const PageQueryFields = {
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 50, description: 'Page size, 1 to 100.' }),
  startingAfter: Type.Optional(Type.String({ maxLength: 200, description: 'Cursor: the page after this one (older items).' })),
  endingBefore: Type.Optional(Type.String({ maxLength: 200, description: 'Cursor: the page before this one (newer items).' })),
  createdAfter: Type.Optional(Type.String({ format: 'date-time', description: 'Inclusive lower bound on createdAt.' })),
  createdBefore: Type.Optional(Type.String({ format: 'date-time', description: 'Inclusive upper bound on createdAt.' })),
};

export function PageOf<T extends TSchema>(item: T) {
  return Type.Object({
    object: Type.Literal('list'),
    data: Type.Array(item),
    hasMore: Type.Boolean(),
    nextCursor: Nullable(Type.String()),
    previousCursor: Nullable(Type.String()),
  });
}

interface PageQuery {
  limit: number;
  startingAfter?: string | undefined;
  endingBefore?: string | undefined;
  createdAfter?: string | undefined;
  createdBefore?: string | undefined;
}

interface Position {
  createdAt: Date;
  id: string;
}

export interface PageRequest {
  limit: number;
  /** 'older' walks from newest to oldest (the default); 'newer' walks back after endingBefore. */
  direction: 'older' | 'newer';
  after?: Position;
  createdAfter?: Date;
  createdBefore?: Date;
}

export interface Page<T> {
  object: 'list';
  data: T[];
  hasMore: boolean;
  nextCursor: string | null;
  previousCursor: string | null;
}

/** `kind`: the typed id the cursors carry, or 'uuid' for rows of ours without a public prefix (webhook deliveries). */
export function parsePageQuery(query: PageQuery, kind: IdKind | 'uuid'): PageRequest {
  if (query.startingAfter !== undefined && query.endingBefore !== undefined) {
    throw validationError('/query/endingBefore', 'cannot be combined with startingAfter');
  }
  const request: PageRequest = { limit: query.limit, direction: query.endingBefore === undefined ? 'older' : 'newer' };
  const cursor = query.endingBefore ?? query.startingAfter;
  if (cursor !== undefined) {
    request.after = decodeCursor(cursor, kind, query.endingBefore === undefined ? 'startingAfter' : 'endingBefore');
  }
  if (query.createdAfter !== undefined) request.createdAfter = new Date(query.createdAfter);
  if (query.createdBefore !== undefined) request.createdBefore = new Date(query.createdBefore);
  return request;
}

export function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify([position.createdAt.toISOString(), position.id])).toString('base64url');
}

function decodeCursor(cursor: string, kind: IdKind | 'uuid', param: string): Position {
  try {
    const decoded: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(decoded) && decoded.length === 2) {
      const [at, id] = decoded as unknown[];
      const createdAt = typeof at === 'string' ? new Date(at) : new Date(Number.NaN);
      const known = typeof id === 'string' && (kind === 'uuid' ? isUuid(id) : isId(kind, id));
      if (known && !Number.isNaN(createdAt.getTime())) return { createdAt, id: id as string };
    }
  } catch {
    // fall through to the uniform refusal
  }
  throw validationError(`/query/${param}`, 'is not a cursor returned by this list');
}

/**
 * The keyset condition and order for a list ordered newest first. Callers select one row
 * more than `limit` so that `toPage` can tell whether another page exists.
 */
export function keyset(request: PageRequest) {
  const older = request.direction === 'older';
  const conditions: Expression<SqlBool>[] = [];
  if (request.after) {
    const { createdAt, id } = request.after;
    conditions.push(older ? sql<SqlBool>`(created_at, id) < (${createdAt}, ${id})` : sql<SqlBool>`(created_at, id) > (${createdAt}, ${id})`);
  }
  if (request.createdAfter) conditions.push(sql<SqlBool>`created_at >= ${request.createdAfter}`);
  if (request.createdBefore) conditions.push(sql<SqlBool>`created_at <= ${request.createdBefore}`);
  return {
    conditions,
    order: older ? ('desc' as const) : ('asc' as const),
    fetch: request.limit + 1,
  };
}

interface Row {
  created_at: Date;
  id: string;
}

export function toPage<R extends Row, T>(rows: R[], request: PageRequest, view: (row: R) => T): Page<T> {
  const hasMore = rows.length > request.limit;
  const window = rows.slice(0, request.limit);
  if (request.direction === 'newer') window.reverse();
  const first = window[0];
  const last = window[window.length - 1];
  // Walking older, there are newer rows whenever we started from a cursor; walking newer,
  // there are older rows (at least the cursor's own) by construction.
  const olderExist = request.direction === 'older' ? hasMore : request.after !== undefined;
  const newerExist = request.direction === 'older' ? request.after !== undefined : hasMore;
  return {
    object: 'list',
    data: window.map(view),
    hasMore,
    nextCursor: olderExist && last ? encodeCursor({ createdAt: last.created_at, id: last.id }) : null,
    previousCursor: newerExist && first ? encodeCursor({ createdAt: first.created_at, id: first.id }) : null,
  };
}
