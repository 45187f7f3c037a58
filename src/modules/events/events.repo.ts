import { sql } from 'kysely';
import type { Db } from '../../db/database.js';
import type { Scope } from '../../domain/scope.js';
import { COMPLIANCE_ONLY_EVENT_TYPES } from '../../events/catalogue.js';
import { keyset, type PageRequest } from '../../http/pagination.js';
import { DELIVERY_CHANNEL } from '../../webhooks/deliveries.repo.js';

/** SQL for reading the outbox as the project's event log; compliance-only events are never in it. */

export interface EventRow {
  id: string;
  type: string;
  data: Record<string, unknown>;
  created_at: Date;
}

function visible(db: Db, scope: Scope) {
  return db
    .selectFrom('events')
    .select(['id', 'type', 'data', 'created_at'])
    .where('project_id', '=', scope.projectId)
    .where('mode', '=', scope.mode)
    .where('type', 'not in', [...COMPLIANCE_ONLY_EVENT_TYPES]);
}

export async function listEvents(db: Db, scope: Scope, page: PageRequest, type: string | undefined): Promise<EventRow[]> {
  const { conditions, order, fetch } = keyset(page);
  let query = visible(db, scope);
  if (type !== undefined) query = query.where('type', '=', type);
  for (const condition of conditions) query = query.where(condition);
  return (await query.orderBy('created_at', order).orderBy('id', order).limit(fetch).execute()) as EventRow[];
}

export async function findEvent(db: Db, scope: Scope, id: string): Promise<EventRow | undefined> {
  return (await visible(db, scope).where('id', '=', id).executeTakeFirst()) as EventRow | undefined;
}

/**
 * Makes the event due again to every endpoint that matches it now (webhook_endpoints_matching,
 * the fan-out's own rule), on a fresh retry schedule; returns how many deliveries that is.
 */
export async function resend(db: Db, scope: Scope, event: Pick<EventRow, 'id' | 'type'>): Promise<number> {
  const { rows } = await sql<{ n: string }>`
    with queued as (
      insert into webhook_deliveries (project_id, mode, id, endpoint_id, event_id, status, next_attempt_at, created_at, updated_at)
      select w.project_id, w.mode, gen_random_uuid()::text, w.id, ${event.id}, 'pending', now(), now(), now()
        from webhook_endpoints_matching(${scope.projectId}, ${scope.mode}, ${event.type}) w
      on conflict (project_id, mode, endpoint_id, event_id) do update
         set status = 'pending', next_attempt_at = now(), retries_base = webhook_deliveries.attempts, locked_until = null, updated_at = now()
      returning 1)
    select count(*)::text as n, pg_notify(${DELIVERY_CHANNEL}, '') from queued`.execute(db);
  return Number(rows[0]!.n);
}
