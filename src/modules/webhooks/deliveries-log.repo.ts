import { sql } from 'kysely';
import type { Db } from '../../db/database.js';
import type { WebhookDeliveriesTable } from '../../db/schema.js';
import type { Scope } from '../../domain/scope.js';
import { keyset, type PageRequest } from '../../http/pagination.js';
import { DELIVERY_CHANNEL } from '../../webhooks/deliveries.repo.js';

/** SQL of the delivery log a developer reads (GET …/deliveries) and of asking for another try. */

export interface DeliveryLogRow {
  id: string;
  endpoint_id: string;
  event_id: string;
  event_type: string;
  status: WebhookDeliveriesTable['status'];
  next_attempt_at: Date | null;
  delivered_at: Date | null;
  created_at: Date;
  attempts: { attempt: number; startedAt: string; statusCode: number | null; error: string | null; latencyMs: number }[];
}

const LOG_SELECT = sql`
  select d.id, d.endpoint_id, d.event_id, e.type as event_type, d.status, d.next_attempt_at, d.delivered_at, d.created_at,
    (select coalesce(json_agg(json_build_object('attempt', a.attempt, 'startedAt', a.started_at, 'statusCode', a.status_code, 'error', a.error, 'latencyMs', a.latency_ms)
                              order by a.attempt), '[]')
       from webhook_attempts a where (a.project_id, a.mode, a.delivery_id) = (d.project_id, d.mode, d.id)) as attempts
    from webhook_deliveries d
    join events e on (e.project_id, e.mode, e.id) = (d.project_id, d.mode, d.event_id)`;

export async function listDeliveries(db: Db, scope: Scope, endpointId: string, page: PageRequest): Promise<DeliveryLogRow[]> {
  const { conditions, order, fetch } = keyset(page);
  const direction = sql.raw(order);
  // keyset() speaks of created_at and id, which the outer query has once (the join has them twice).
  const { rows } = await sql<DeliveryLogRow>`
    select * from (${LOG_SELECT} where d.project_id = ${scope.projectId} and d.mode = ${scope.mode} and d.endpoint_id = ${endpointId}) log
     where ${conditions.length === 0 ? sql`true` : sql.join(conditions, sql` and `)}
     order by created_at ${direction}, id ${direction} limit ${fetch}`.execute(db);
  return rows;
}

export async function findDelivery(db: Db, scope: Scope, endpointId: string, id: string): Promise<DeliveryLogRow | undefined> {
  const { rows } = await sql<DeliveryLogRow>`
    ${LOG_SELECT} where d.project_id = ${scope.projectId} and d.mode = ${scope.mode} and d.endpoint_id = ${endpointId} and d.id = ${id}`.execute(db);
  return rows[0];
}

/** Due now, on a new retry schedule; a delivery already waiting is brought forward. Notifies the dispatchers. */
export async function retryNow(db: Db, scope: Scope, endpointId: string, id: string): Promise<boolean> {
  const { rows } = await sql<{ id: string }>`
    with retried as (
      update webhook_deliveries
         set status = 'pending', next_attempt_at = now(), retries_base = attempts, locked_until = null, updated_at = now()
       where project_id = ${scope.projectId} and mode = ${scope.mode} and endpoint_id = ${endpointId} and id = ${id}
      returning id)
    select id, pg_notify(${DELIVERY_CHANNEL}, '') from retried`.execute(db);
  return rows.length === 1;
}
