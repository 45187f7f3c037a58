import type { Transaction, Updateable } from 'kysely';
import { jsonArrayFrom } from 'kysely/helpers/postgres';
import type { Db } from '../../db/database.js';
import type { CustomersTable, CustomerRow, Database, EndorsementRow, NewCustomerRow } from '../../db/schema.js';
import type { EndorsementName, EndorsementStatus } from '../../domain/endorsements.js';
import type { Scope } from '../../domain/scope.js';
import { keyset, type PageRequest } from '../../http/pagination.js';

/** SQL for customers and their endorsements; every function is confined to one scope. */

/**
 * What reads return: everything but the sealed PII and its data key, which only the PATCH
 * path that changes PII selects (findSealedPii).
 */
const PUBLIC_COLUMNS = [
  'id',
  'type',
  'first_name',
  'middle_name',
  'last_name',
  'email',
  'phone',
  'nationality',
  'external_id',
  'status',
  'signed_agreement',
  'signed_agreement_at',
  'metadata',
  'created_at',
  'updated_at',
] as const satisfies readonly (keyof CustomerRow)[];

export type PublicCustomerRow = Pick<CustomerRow, (typeof PUBLIC_COLUMNS)[number]>;

export async function insertCustomer(trx: Transaction<Database>, row: NewCustomerRow): Promise<PublicCustomerRow> {
  return trx.insertInto('customers').values(row).returning(PUBLIC_COLUMNS).executeTakeFirstOrThrow();
}

export interface CustomerWithEndorsements {
  row: PublicCustomerRow;
  endorsements: EndorsementRow[];
}

/** One round trip for the customer and its endorsements: the read path of GET and PATCH. */
export async function findCustomer(
  db: Db,
  scope: Scope,
  id: string,
  options: { forUpdate?: boolean } = {},
): Promise<CustomerWithEndorsements | undefined> {
  let query = db
    .selectFrom('customers as c')
    .select(PUBLIC_COLUMNS.map((column) => `c.${column}` as const))
    .select((eb) =>
      jsonArrayFrom(
        eb
          .selectFrom('customer_endorsements as e')
          .selectAll('e')
          .whereRef('e.project_id', '=', 'c.project_id')
          .whereRef('e.mode', '=', 'c.mode')
          .whereRef('e.customer_id', '=', 'c.id')
          .orderBy('e.name'),
      ).as('endorsements'),
    )
    .where('c.project_id', '=', scope.projectId)
    .where('c.mode', '=', scope.mode)
    .where('c.id', '=', id);
  if (options.forUpdate) query = query.forUpdate('c');
  const found = await query.executeTakeFirst();
  if (!found) return undefined;
  const { endorsements, ...row } = found;
  return {
    row,
    // Inside JSON, timestamps arrive as text.
    endorsements: endorsements.map((e) => ({ ...e, created_at: new Date(e.created_at), updated_at: new Date(e.updated_at) })),
  };
}

export async function findSealedPii(trx: Transaction<Database>, scope: Scope, id: string) {
  return trx
    .selectFrom('customers')
    .select(['pii_sealed', 'data_key_sealed', 'master_key_id'])
    .where('project_id', '=', scope.projectId)
    .where('mode', '=', scope.mode)
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
}

export async function updateCustomer(
  trx: Transaction<Database>,
  scope: Scope,
  id: string,
  changes: Updateable<CustomersTable>,
): Promise<PublicCustomerRow> {
  return trx
    .updateTable('customers')
    .set(changes)
    .where('project_id', '=', scope.projectId)
    .where('mode', '=', scope.mode)
    .where('id', '=', id)
    .returning(PUBLIC_COLUMNS)
    .executeTakeFirstOrThrow();
}

export interface CustomerFilters {
  status?: 'active' | 'inactive' | undefined;
  email?: string | undefined;
  externalId?: string | undefined;
}

export async function listCustomers(db: Db, scope: Scope, filters: CustomerFilters, page: PageRequest): Promise<PublicCustomerRow[]> {
  const { conditions, order, fetch } = keyset(page);
  let query = db
    .selectFrom('customers')
    .select(PUBLIC_COLUMNS)
    .where('project_id', '=', scope.projectId)
    .where('mode', '=', scope.mode);
  if (filters.status) query = query.where('status', '=', filters.status);
  if (filters.email) query = query.where('email', '=', filters.email);
  if (filters.externalId) query = query.where('external_id', '=', filters.externalId);
  for (const condition of conditions) query = query.where(condition);
  return query.orderBy('created_at', order).orderBy('id', order).limit(fetch).execute();
}

/** Inserts the endorsements the customer does not have yet; returns only the new rows. */
export async function insertEndorsements(
  trx: Transaction<Database>,
  scope: Scope,
  customerId: string,
  names: readonly EndorsementName[],
  status: EndorsementStatus,
  at: Date,
): Promise<EndorsementRow[]> {
  if (names.length === 0) return [];
  const empty = JSON.stringify({ complete: [], pending: [], missing: [], issues: [] });
  return trx
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
    .returningAll()
    .execute();
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
