import type { Transaction } from 'kysely';
import type { Database } from '../db/schema.js';
import { newId } from '../domain/ids.js';
import type { Scope } from '../domain/scope.js';
import type { EventType } from './catalogue.js';

/**
 * An event as the outbox stores it. Events are built only here and written only in the
 * transaction (or the single statement) of the change they report, so an event exists if and
 * only if its change committed. `object` is the resource as the API returns it, which never
 * holds PII or secrets.
 */
export interface OutboxEvent {
  id: string;
  type: EventType;
  /** The stored payload, {object, ...detail}, as JSON text. */
  data: string;
  createdAt: Date;
}

/** `detail` says what happened to the object, when the type alone does not (which endorsement moved). */
export function newEvent(type: EventType, object: unknown, at: Date, detail: Record<string, unknown> = {}): OutboxEvent {
  return { id: newId('event'), type, data: JSON.stringify({ object, ...detail }), createdAt: at };
}

/** Writes events inside the transaction of a multi-statement change, in one statement. */
export async function recordEvents(trx: Transaction<Database>, scope: Scope, events: readonly OutboxEvent[]): Promise<void> {
  if (events.length === 0) return;
  await eventsInsert(trx, scope, events).execute();
}

/** The insert of the events, for a change that sends it within its own statement: one round trip for both. */
export function eventsInsert(trx: Transaction<Database>, scope: Scope, events: readonly OutboxEvent[]) {
  return trx
    .insertInto('events')
    .values(events.map((event) => ({ project_id: scope.projectId, mode: scope.mode, id: event.id, type: event.type, data: event.data, created_at: event.createdAt })));
}
