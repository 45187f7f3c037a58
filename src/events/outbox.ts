import type { Transaction } from 'kysely';
import type { Database } from '../db/schema.js';
import { newId } from '../domain/ids.js';
import type { Scope } from '../domain/scope.js';
import type { EventType } from './catalogue.js';

/**
 * The only way to emit an event: a row written in the transaction of the change it reports,
 * so an event exists if and only if its change committed. `object` is the resource as the API
 * returns it, which never holds PII or secrets.
 */
export async function recordEvent(trx: Transaction<Database>, scope: Scope, type: EventType, object: unknown, at: Date): Promise<string> {
  const id = newId('event');
  await trx
    .insertInto('events')
    .values({ project_id: scope.projectId, mode: scope.mode, id, type, data: JSON.stringify({ object }), created_at: at })
    .execute();
  return id;
}
