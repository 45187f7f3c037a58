import type { Transaction, Updateable } from 'kysely';
import type { Db } from '../../db/database.js';
import type { CustomersTable, CustomerRow, Database, EndorsementRow, NewCustomerRow } from '../../db/schema.js';
import type { EndorsementName, EndorsementStatus } from '../../domain/endorsements.js';
import type { Scope } from '../../domain/scope.js';
import { keyset, type PageRequest } from '../../http/pagination.js';

/** SQL for customers and their endorsements; every function is confined to one scope. */

export async function insertCustomer(trx: Transaction<Database>, row: NewCustomerRow): Promise<CustomerRow> {
  return trx.insertInto('customers').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findCustomer(db: Db, scope: Scope, id: string, options: { forUpdate?: boolean } = {}): Promise<CustomerRow | undefined> {
  let query = db.selectFrom('customers').selectAll().where('project_id', '=', scope.projectId).where('mode', '=', scope.mode).where('id', '=', id);
  if (options.forUpdate) query = query.forUpdate();
  return query.executeTakeFirst();
}

export async function updateCustomer(
  trx: Transaction<Database>,
  scope: Scope,
  id: string,
  changes: Updateable<CustomersTable>,
): Promise<CustomerRow> {
  return trx
    .updateTable('customers')
    .set(changes)
    .where('project_id', '=', scope.projectId)
    .where('mode', '=', scope.mode)
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export interface CustomerFilters {
  status?: 'active' | 'inactive' | undefined;
  email?: string | undefined;
  externalId?: string | undefined;
}

export async function listCustomers(db: Db, scope: Scope, filters: CustomerFilters, page: PageRequest): Promise<CustomerRow[]> {
  const { conditions, order, fetch } = keyset(page);
  let query = db
    .selectFrom('customers')
    .selectAll()
    .where('project_id', '=', scope.projectId)
    .where('mode', '=', scope.mode);
  if (filters.status) query = query.where('status', '=', filters.status);
  if (filters.email) query = query.where('email', '=', filters.email);
  if (filters.externalId) query = query.where('external_id', '=', filters.externalId);
  for (const condition of conditions) query = query.where(condition);
  return query.orderBy('created_at', order).orderBy('id', order).limit(fetch).execute();
}

export async function insertEndorsements(
  trx: Transaction<Database>,
  scope: Scope,
  customerId: string,
  names: readonly EndorsementName[],
  status: EndorsementStatus,
  at: Date,
): Promise<number> {
  if (names.length === 0) return 0;
  const empty = JSON.stringify({ complete: [], pending: [], missing: [], issues: [] });
  const result = await trx
    .insertInto('customer_endorsements')
    .values(
      names.map((name) => ({
        project_id: scope.projectId,
        mode: scope.mode,
        customer_id: customerId,
        name,
        status,
        requirements: empty,
        rejection_reasons: '[]',
        created_at: at,
        updated_at: at,
      })),
    )
    .onConflict((oc) => oc.columns(['project_id', 'mode', 'customer_id', 'name']).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n);
}

export async function listEndorsements(db: Db, scope: Scope, customerIds: readonly string[]): Promise<EndorsementRow[]> {
  if (customerIds.length === 0) return [];
  return db
    .selectFrom('customer_endorsements')
    .selectAll()
    .where('project_id', '=', scope.projectId)
    .where('mode', '=', scope.mode)
    .where('customer_id', 'in', customerIds)
    .orderBy('customer_id')
    .orderBy('name')
    .execute();
}
