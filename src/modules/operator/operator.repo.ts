import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { Db } from '../../db/database.js';
import type { Database, Mode } from '../../db/schema.js';
import type { EndorsementStatus } from '../../domain/endorsements.js';
import type { Scope } from '../../domain/scope.js';

/** SQL of the operator's tools: the review queue, finding a customer by id alone, and the audit log. */

export async function findCustomerScope(db: Db, customerId: string): Promise<Scope | undefined> {
  const row = await db.selectFrom('customers').select(['project_id', 'mode']).where('id', '=', customerId).executeTakeFirst();
  return row ? { projectId: row.project_id, mode: row.mode } : undefined;
}

export interface QueueEntry {
  project_id: string;
  mode: Mode;
  customer_id: string;
  name: string;
  status: string;
  requirements: { complete: string[]; pending: string[]; missing: string[]; issues: string[] };
  updated_at: Date;
}

/** Endorsements in `status`, across every project and mode, longest waiting first. */
export async function reviewQueue(db: Db, status: EndorsementStatus, limit: number, mode?: Mode): Promise<QueueEntry[]> {
  let query = db
    .selectFrom('customer_endorsements')
    .select(['project_id', 'mode', 'customer_id', 'name', 'status', 'requirements', 'updated_at'])
    .where('status', '=', status);
  if (mode) query = query.where('mode', '=', mode);
  return query.orderBy('updated_at').orderBy('customer_id').orderBy('name').limit(limit).execute();
}

export interface AuditEntry {
  operator: string;
  action: string;
  customerId: string | null;
  endorsement?: string | undefined;
  reason?: string | undefined;
  /** Codes, statuses and reasons; never PII. */
  detail?: Record<string, unknown>;
}

export async function recordAudit(trx: Transaction<Database> | Db, scope: Scope, entry: AuditEntry, at: Date): Promise<void> {
  await trx
    .insertInto('operator_audit')
    .values({
      project_id: scope.projectId,
      mode: scope.mode,
      id: randomUUID(),
      operator: entry.operator,
      action: entry.action,
      customer_id: entry.customerId,
      endorsement: entry.endorsement ?? null,
      reason: entry.reason ?? null,
      detail: JSON.stringify(entry.detail ?? {}),
      at,
    })
    .execute();
}

export async function listAudit(db: Db, scope: Scope, customerId: string) {
  return db
    .selectFrom('operator_audit')
    .select(['operator', 'action', 'endorsement', 'reason', 'detail', 'at'])
    .where('project_id', '=', scope.projectId)
    .where('mode', '=', scope.mode)
    .where('customer_id', '=', customerId)
    .orderBy('at')
    .orderBy('id')
    .execute();
}
