import { notFound } from '../../domain/errors.js';
import { assertId, type IdKind } from '../../domain/ids.js';
import type { Scope } from '../../domain/scope.js';

/**
 * The project and mode of an object an operator names by its id alone (ids are unique across
 * projects and modes); 404 when there is none, or the id has the wrong shape.
 */
export async function scopeById(kind: IdKind, id: string, find: (id: string) => Promise<Scope | undefined>): Promise<Scope> {
  assertId(kind, id);
  const scope = await find(id);
  if (!scope) throw notFound(kind);
  return scope;
}
