import { sql, type Transaction, type Updateable } from 'kysely';
import type { Db } from '../../db/database.js';
import type { CustomersTable, CustomerRow, Database, EndorsementRow, NewCustomerRow } from '../../db/schema.js';
import type { EndorsementName, EndorsementStatus } from '../../domain/endorsements.js';
import type { Scope } from '../../domain/scope.js';
import type { OutboxEvent } from '../../events/outbox.js';
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

/** Requirement lists of an endorsement nothing has evaluated yet. */
const EMPTY_REQUIREMENTS = JSON.stringify({ complete: [], pending: [], missing: [], issues: [] });

export async function insertCustomer(trx: Transaction<Database>, row: NewCustomerRow): Promise<PublicCustomerRow> {
  return trx.insertInto('customers').values(row).returning(PUBLIC_COLUMNS).executeTakeFirstOrThrow();
}

export interface CustomerWithEndorsements {
  row: PublicCustomerRow;
  endorsements: EndorsementRow[];
  /** The write counter, for a compare-and-set update (applyCustomerChange). */
  version: string;
}

const CUSTOMER_SELECT = sql.raw(PUBLIC_COLUMNS.map((column) => `c.${column}`).join(', '));

/**
 * One round trip for the customer and its endorsements: the read path of GET and PATCH, and
 * the hottest query, so it is written as SQL rather than rebuilt by the query builder.
 */
export async function findCustomer(
  db: Db,
  scope: Scope,
  id: string,
  options: { forUpdate?: boolean } = {},
): Promise<CustomerWithEndorsements | undefined> {
  const { rows } = await sql<PublicCustomerRow & { version: string; endorsements: EndorsementJson[] }>`
    select ${CUSTOMER_SELECT}, c.version,
      (select coalesce(json_agg(e order by e.name), '[]')
         from (select name, status, requirements, rejection_reasons, created_at, updated_at
                 from customer_endorsements
                where project_id = c.project_id and mode = c.mode and customer_id = c.id) e) as endorsements
      from customers c
     where c.project_id = ${scope.projectId} and c.mode = ${scope.mode} and c.id = ${id}
     ${options.forUpdate ? sql`for update of c` : sql``}`.execute(db);
  const found = rows[0];
  if (!found) return undefined;
  const { endorsements, version, ...row } = found;
  return {
    row,
    version,
    // Inside JSON, timestamps arrive as text.
    endorsements: endorsements.map((e) => ({
      ...e,
      project_id: scope.projectId,
      mode: scope.mode,
      customer_id: id,
      created_at: new Date(e.created_at),
      updated_at: new Date(e.updated_at),
    })),
  };
}

interface EndorsementJson {
  name: string;
  status: string;
  requirements: EndorsementRow['requirements'];
  rejection_reasons: EndorsementRow['rejection_reasons'];
  created_at: string;
  updated_at: string;
}

export async function findSealedPii(db: Db, scope: Scope, id: string) {
  return db
    .selectFrom('customers')
    .select(['pii_sealed', 'data_key_sealed', 'master_key_id'])
    .where('project_id', '=', scope.projectId)
    .where('mode', '=', scope.mode)
    .where('id', '=', id)
    .executeTakeFirstOrThrow();
}

export interface CustomerChange {
  /** Applied only if the customer is still at this version (it read it there). */
  expectedVersion: string;
  changes: Updateable<CustomersTable>;
  newEndorsements: readonly EndorsementName[];
  endorsementStatus: EndorsementStatus;
  at: Date;
  event: OutboxEvent;
}

/**
 * The customer's change, the endorsements it adds and its event, in one statement: atomic
 * without an explicit transaction and one round trip, which is most of PATCH's cost. Returns
 * false when another write got there first (the caller reads again and retries).
 */
export async function applyCustomerChange(db: Db, scope: Scope, id: string, change: CustomerChange): Promise<boolean> {
  const at = sql<Date>`${change.at}::timestamptz`;
  const applied = await db
    .with('updated', (qb) =>
      qb
        .updateTable('customers')
        .set({ ...change.changes, version: sql`version + 1` })
        .where('project_id', '=', scope.projectId)
        .where('mode', '=', scope.mode)
        .where('id', '=', id)
        .where('version', '=', change.expectedVersion)
        .returning(['project_id', 'mode', 'id']),
    )
    .with('endorsed', (qb) =>
      qb
        .insertInto('customer_endorsements')
        .columns(['project_id', 'mode', 'customer_id', 'name', 'status', 'requirements', 'rejection_reasons', 'created_at', 'updated_at'])
        .expression((eb) =>
          eb
            .selectFrom(['updated', sql<{ name: string }>`unnest(${[...change.newEndorsements]}::text[])`.as('n')])
            .select([
              'updated.project_id',
              'updated.mode',
              'updated.id',
              'n.name',
              sql<string>`${change.endorsementStatus}::text`.as('status'),
              sql<string>`${EMPTY_REQUIREMENTS}::jsonb`.as('requirements'),
              sql<string>`'[]'::jsonb`.as('rejection_reasons'),
              at.as('created_at'),
              at.as('updated_at'),
            ]),
        )
        .onConflict((oc) => oc.columns(['project_id', 'mode', 'customer_id', 'name']).doNothing()),
    )
    .insertInto('events')
    .columns(['project_id', 'mode', 'id', 'type', 'data', 'created_at'])
    .expression((eb) =>
      eb
        .selectFrom('updated')
        .select([
          'updated.project_id',
          'updated.mode',
          sql<string>`${change.event.id}::text`.as('id'),
          sql<string>`${change.event.type}::text`.as('type'),
          sql<string>`${change.event.data}::jsonb`.as('data'),
          sql<Date>`${change.event.createdAt}::timestamptz`.as('created_at'),
        ]),
    )
    .returning('id')
    .executeTakeFirst();
  return applied !== undefined;
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

/** An endorsement as it is first requested, before anything evaluates it. */
export function requestedEndorsement(scope: Scope, customerId: string, name: EndorsementName, status: EndorsementStatus, at: Date): EndorsementRow {
  return {
    project_id: scope.projectId,
    mode: scope.mode,
    customer_id: customerId,
    name,
    status,
    requirements: JSON.parse(EMPTY_REQUIREMENTS),
    rejection_reasons: [],
    created_at: at,
    updated_at: at,
  };
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
  return trx
    .insertInto('customer_endorsements')
    .values(
      names.map((name) => ({
        project_id: scope.projectId,
        mode: scope.mode,
        customer_id: customerId,
        name,
        status,
        requirements: EMPTY_REQUIREMENTS,
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
