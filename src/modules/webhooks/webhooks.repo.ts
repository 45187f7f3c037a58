import { sql, type Transaction } from 'kysely';
import type { Db } from '../../db/database.js';
import type { Database, WebhookEndpointsTable } from '../../db/schema.js';
import type { Scope } from '../../domain/scope.js';
import { keyset, type PageRequest } from '../../http/pagination.js';

/** SQL for webhook endpoints and their sealed secrets; every query is confined to one scope. */

export type EndpointRow = Pick<
  WebhookEndpointsTable,
  'id' | 'url' | 'events' | 'enabled' | 'status' | 'compliance_only' | 'created_at' | 'updated_at'
>;
const ENDPOINT_COLUMNS = ['id', 'url', 'events', 'enabled', 'status', 'compliance_only', 'created_at', 'updated_at'] as const;

export interface SealedSecret {
  sealed: Buffer;
  masterKeyId: string;
}

export async function insertEndpoint(
  trx: Transaction<Database>,
  scope: Scope,
  endpoint: { id: string; url: string; events: string[]; enabled: boolean; secret: SealedSecret; at: Date },
): Promise<EndpointRow> {
  const row = await trx
    .insertInto('webhook_endpoints')
    .values({
      project_id: scope.projectId,
      mode: scope.mode,
      id: endpoint.id,
      url: endpoint.url,
      events: endpoint.events,
      enabled: endpoint.enabled,
      status: 'active',
      compliance_only: false,
      created_at: endpoint.at,
      updated_at: endpoint.at,
    })
    .returning(ENDPOINT_COLUMNS)
    .executeTakeFirstOrThrow();
  await insertSecret(trx, scope, endpoint.id, 1, endpoint.secret, endpoint.at);
  return row;
}

async function insertSecret(trx: Transaction<Database>, scope: Scope, endpointId: string, seq: number, secret: SealedSecret, at: Date) {
  await trx
    .insertInto('webhook_secrets')
    .values({ project_id: scope.projectId, mode: scope.mode, endpoint_id: endpointId, seq, sealed: secret.sealed, master_key_id: secret.masterKeyId, expires_at: null, created_at: at })
    .execute();
}

/** The project and mode of an endpoint, for operators, who name it by id alone. */
export async function findEndpointScope(db: Db, id: string): Promise<Scope | undefined> {
  const row = await db.selectFrom('webhook_endpoints').select(['project_id', 'mode']).where('id', '=', id).executeTakeFirst();
  return row ? { projectId: row.project_id, mode: row.mode } : undefined;
}

export async function findEndpoint(db: Db, scope: Scope, id: string, options: { forUpdate?: boolean } = {}): Promise<EndpointRow | undefined> {
  const query = db.selectFrom('webhook_endpoints').select(ENDPOINT_COLUMNS).where('project_id', '=', scope.projectId).where('mode', '=', scope.mode).where('id', '=', id);
  return (options.forUpdate ? query.forUpdate() : query).executeTakeFirst();
}

export async function listEndpoints(db: Db, scope: Scope, page: PageRequest): Promise<EndpointRow[]> {
  const { conditions, order, fetch } = keyset(page);
  let query = db.selectFrom('webhook_endpoints').select(ENDPOINT_COLUMNS).where('project_id', '=', scope.projectId).where('mode', '=', scope.mode);
  for (const condition of conditions) query = query.where(condition);
  return query.orderBy('created_at', order).orderBy('id', order).limit(fetch).execute();
}

export async function updateEndpoint(
  trx: Transaction<Database>,
  scope: Scope,
  id: string,
  changes: Partial<Pick<WebhookEndpointsTable, 'url' | 'events' | 'enabled' | 'status' | 'disabled_reason' | 'failing_since' | 'compliance_only'>>,
  at: Date,
): Promise<EndpointRow> {
  return trx
    .updateTable('webhook_endpoints')
    .set({ ...changes, updated_at: at })
    .where('project_id', '=', scope.projectId)
    .where('mode', '=', scope.mode)
    .where('id', '=', id)
    .returning(ENDPOINT_COLUMNS)
    .executeTakeFirstOrThrow();
}

export async function deleteEndpoint(db: Db, scope: Scope, id: string): Promise<boolean> {
  const result = await db.deleteFrom('webhook_endpoints').where('project_id', '=', scope.projectId).where('mode', '=', scope.mode).where('id', '=', id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/**
 * A new current secret; the one it replaces keeps signing until `previousValidUntil`, and
 * secrets already past their expiry are dropped. Call under the endpoint's row lock.
 */
export async function rotateSecret(trx: Transaction<Database>, scope: Scope, endpointId: string, secret: SealedSecret, at: Date, previousValidUntil: Date): Promise<void> {
  const where = sql`project_id = ${scope.projectId} and mode = ${scope.mode} and endpoint_id = ${endpointId}`;
  await sql`delete from webhook_secrets where ${where} and expires_at <= ${at}`.execute(trx);
  await sql`update webhook_secrets set expires_at = ${previousValidUntil} where ${where} and expires_at is null`.execute(trx);
  const { rows } = await sql<{ next: number }>`select coalesce(max(seq), 0) + 1 as next from webhook_secrets where ${where}`.execute(trx);
  await insertSecret(trx, scope, endpointId, rows[0]!.next, secret, at);
}
