import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import type { Mode } from '../db/schema.js';
import type { Scope } from '../domain/scope.js';
import type { StoredEvent } from './delivery-message.js';

/** SQL of webhook delivery: claiming due deliveries across projects, and recording each attempt. */

export const DELIVERY_CHANNEL = 'oms_webhook_deliveries';

export interface ClaimedDelivery {
  scope: Scope;
  id: string;
  endpointId: string;
  /** This attempt's number among all the delivery's attempts, 1 for the first. */
  attempt: number;
  /** Its number in the current retry schedule (a manual retry or resend starts a new one). */
  scheduled: number;
  url: string;
  event: StoredEvent;
  /** The endpoint's valid secrets, sealed; more than one during a rotation. */
  secrets: { sealed: Buffer; masterKeyId: string }[];
}

interface ClaimRow {
  project_id: string;
  mode: Mode;
  id: string;
  endpoint_id: string;
  attempts: number;
  retries_base: number;
  url: string;
  event_id: string;
  type: string;
  data: string;
  event_created_at: Date;
  secrets: { sealed: string; masterKeyId: string }[];
}

/**
 * Takes up to `limit` due deliveries of active, enabled endpoints, earliest first, leasing them
 * for `leaseSeconds` and counting the attempt, in one statement that commits before anything
 * is sent: no lock or transaction is held across the HTTP call. Deliveries another
 * dispatcher holds are skipped, not waited for.
 */
export async function claimDueDeliveries(db: Db, limit: number, leaseSeconds: number): Promise<ClaimedDelivery[]> {
  const { rows } = await sql<ClaimRow>`
    with due as (
      select d.project_id, d.mode, d.id
        from webhook_deliveries d
        join webhook_endpoints w on (w.project_id, w.mode, w.id) = (d.project_id, d.mode, d.endpoint_id)
       where d.status = 'pending' and d.next_attempt_at <= now() and (d.locked_until is null or d.locked_until < now())
         and w.status = 'active' and w.enabled
       order by d.next_attempt_at
       limit ${limit}
         for update of d skip locked
    ), claimed as (
      update webhook_deliveries d
         set locked_until = now() + make_interval(secs => ${leaseSeconds}), attempts = d.attempts + 1, updated_at = now()
        from due
       where (d.project_id, d.mode, d.id) = (due.project_id, due.mode, due.id)
      returning d.project_id, d.mode, d.id, d.endpoint_id, d.event_id, d.attempts, d.retries_base
    )
    select c.project_id, c.mode, c.id, c.endpoint_id, c.attempts, c.retries_base, w.url, e.id as event_id, e.type, e.data::text as data, e.created_at as event_created_at,
      (select coalesce(json_agg(json_build_object('sealed', encode(s.sealed, 'base64'), 'masterKeyId', s.master_key_id) order by s.seq desc), '[]')
         from webhook_secrets s
        where (s.project_id, s.mode, s.endpoint_id) = (c.project_id, c.mode, c.endpoint_id) and (s.expires_at is null or s.expires_at > now())) as secrets
      from claimed c
      join webhook_endpoints w on (w.project_id, w.mode, w.id) = (c.project_id, c.mode, c.endpoint_id)
      join events e on (e.project_id, e.mode, e.id) = (c.project_id, c.mode, c.event_id)`.execute(db);
  return rows.map((r) => ({
    scope: { projectId: r.project_id, mode: r.mode },
    id: r.id,
    endpointId: r.endpoint_id,
    attempt: r.attempts,
    scheduled: r.attempts - r.retries_base,
    url: r.url,
    event: { id: r.event_id, type: r.type, data: r.data, createdAt: r.event_created_at },
    secrets: r.secrets.map((s) => ({ sealed: Buffer.from(s.sealed, 'base64'), masterKeyId: s.masterKeyId })),
  }));
}

export type AttemptOutcome =
  | { kind: 'delivered' }
  | { kind: 'retry'; at: Date }
  | { kind: 'failed' }
  /** The receiver answered 410 Gone: the endpoint is disabled at once. */
  | { kind: 'gone' };

export interface AttemptRecord {
  startedAt: Date;
  statusCode: number | null;
  error: string | null;
  latencyMs: number;
}

/**
 * Stores an attempt and what follows from it, in one transaction: the delivery's new state and
 * the endpoint's health. An endpoint failing for longer than `disableAfterMs` when one of its
 * deliveries runs out of attempts is disabled. The endpoint is locked first (key share: other
 * attempts go on), as deleting it does before its deliveries, so the two never deadlock; an
 * endpoint deleted meanwhile took the delivery with it, and there is nothing to record.
 */
export async function recordAttempt(
  db: Db,
  delivery: ClaimedDelivery,
  record: AttemptRecord,
  outcome: AttemptOutcome,
  disableAfterMs: number,
): Promise<void> {
  const { projectId, mode } = delivery.scope;
  const key = sql`project_id = ${projectId} and mode = ${mode}`;
  await db.transaction().execute(async (trx) => {
    const endpoint = await sql`select 1 from webhook_endpoints where ${key} and id = ${delivery.endpointId} for key share`.execute(trx);
    if (endpoint.rows.length === 0) return;
    await trx
      .insertInto('webhook_attempts')
      .values({
        project_id: projectId,
        mode,
        delivery_id: delivery.id,
        attempt: delivery.attempt,
        started_at: record.startedAt,
        status_code: record.statusCode,
        error: record.error,
        latency_ms: record.latencyMs,
      })
      .execute();
    const last = sql`last_status_code = ${record.statusCode}, last_error = ${record.error}, locked_until = null, updated_at = now()`;
    if (outcome.kind === 'delivered') {
      await sql`update webhook_deliveries set status = 'delivered', delivered_at = now(), next_attempt_at = null, ${last} where ${key} and id = ${delivery.id}`.execute(trx);
      await sql`update webhook_endpoints set failing_since = null where ${key} and id = ${delivery.endpointId} and failing_since is not null`.execute(trx);
      return;
    }
    if (outcome.kind === 'retry') {
      await sql`update webhook_deliveries set next_attempt_at = ${outcome.at}, ${last} where ${key} and id = ${delivery.id}`.execute(trx);
    } else {
      await sql`update webhook_deliveries set status = 'failed', next_attempt_at = null, ${last} where ${key} and id = ${delivery.id}`.execute(trx);
    }
    await sql`update webhook_endpoints set failing_since = coalesce(failing_since, ${record.startedAt}) where ${key} and id = ${delivery.endpointId}`.execute(trx);
    if (outcome.kind === 'gone') {
      await sql`update webhook_endpoints set status = 'disabled', disabled_reason = 'the receiver answered 410 Gone', updated_at = now()
                 where ${key} and id = ${delivery.endpointId}`.execute(trx);
    } else if (outcome.kind === 'failed') {
      await sql`update webhook_endpoints set status = 'disabled', disabled_reason = 'every delivery failed for too long', updated_at = now()
                 where ${key} and id = ${delivery.endpointId} and failing_since <= now() - make_interval(secs => ${disableAfterMs / 1000})`.execute(trx);
    }
  });
}
