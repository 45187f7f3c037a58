import type { Transaction, Updateable } from 'kysely';
import type { Db } from '../../db/database.js';
import { isUniqueViolation } from '../../db/errors.js';
import type { CustomersTable, Database, EndorsementRow } from '../../db/schema.js';
import { inTransaction } from '../../db/transactions.js';
import type { MasterKeyring } from '../../crypto/master-keys.js';
import { DEFAULT_ENDORSEMENTS, expandEndorsements, type EndorsementName } from '../../domain/endorsements.js';
import { DomainError, notFound, validationError } from '../../domain/errors.js';
import { assertId, newId } from '../../domain/ids.js';
import type { Scope } from '../../domain/scope.js';
import { newEvent, recordEvent } from '../../events/outbox.js';
import { parsePageQuery, toPage, type Page } from '../../http/pagination.js';
import { type CustomerPii, newDataKey, openDataKey, openPii, PII_FIELDS, sealPii } from './customer-pii.js';
import { mergeIdentifyingInformation, mergeMetadata } from './customer-patch-rules.js';
import type { CustomerCreateBody, CustomerListQueryParams, CustomerPatchBody, CustomerView } from './customers.schemas.js';
import * as repo from './customers.repo.js';
import type { CustomerWithEndorsements, PublicCustomerRow } from './customers.repo.js';
import { toCustomerView } from './customers.view.js';

/**
 * Writes take the database handle: create groups its statements with inTransaction; update is
 * one compare-and-set statement, atomic on its own. Either joins the caller's transaction when
 * given one, so an idempotency record commits with the write.
 */
export interface CustomersService {
  create(db: Db, scope: Scope, input: CustomerCreateBody): Promise<CustomerView>;
  update(db: Db, scope: Scope, id: string, patch: CustomerPatchBody): Promise<CustomerView>;
  get(db: Db, scope: Scope, id: string): Promise<CustomerView>;
  list(db: Db, scope: Scope, query: CustomerListQueryParams): Promise<Page<CustomerView> & { cursor: string | null }>;
}

/** Until the endorsement engine exists, requested endorsements wait here, unevaluated. */
const REQUESTED_STATUS = 'INACTIVE';
/** Compare-and-set rounds before a PATCH falls back to locking the row. */
const OPTIMISTIC_ATTEMPTS = 3;

const PROFILE_COLUMNS = {
  firstName: 'first_name',
  middleName: 'middle_name',
  lastName: 'last_name',
  email: 'email',
  phone: 'phone',
  nationality: 'nationality',
  externalId: 'external_id',
} as const;

export function createCustomersService({ keyring }: { keyring: MasterKeyring }): CustomersService {
  async function insertCustomer(trx: Transaction<Database>, scope: Scope, input: CustomerCreateBody): Promise<CustomerView> {
    const id = newId('customer');
    const now = new Date();
    const { dataKey, sealed } = newDataKey(keyring, scope, id);
    const pii = mergePii({}, input);
    const row = await withUniqueExternalId(() =>
      repo.insertCustomer(trx, {
        project_id: scope.projectId,
        mode: scope.mode,
        id,
        type: 'individual',
        first_name: input.firstName ?? null,
        middle_name: input.middleName ?? null,
        last_name: input.lastName ?? null,
        email: input.email ?? null,
        phone: input.phone ?? null,
        nationality: input.nationality ?? null,
        external_id: input.externalId ?? null,
        status: 'active',
        signed_agreement: input.signedAgreement === true,
        signed_agreement_at: input.signedAgreement === true ? now : null,
        metadata: JSON.stringify(input.metadata ?? {}),
        pii_sealed: Object.keys(pii).length > 0 ? sealPii(dataKey, scope, id, pii) : null,
        data_key_sealed: sealed.sealed,
        master_key_id: sealed.masterKeyId,
        created_at: now,
        updated_at: now,
      }),
    );
    const names = expandEndorsements(input.endorsements ?? DEFAULT_ENDORSEMENTS);
    const endorsements = await repo.insertEndorsements(trx, scope, id, names, REQUESTED_STATUS, now);
    const customer = toCustomerView(row, endorsements);
    await recordEvent(trx, scope, newEvent('customer.created', customer, now));
    return customer;
  }

  /** One read-plan-write round; undefined when another write changed the customer meanwhile. */
  async function tryUpdate(db: Db, scope: Scope, id: string, patch: CustomerPatchBody, lock: boolean): Promise<CustomerView | undefined> {
    const found = await repo.findCustomer(db, scope, id, { forUpdate: lock });
    if (!found) throw notFound('customer');
    const plan = await planPatch(keyring, db, scope, found, patch);
    if (!plan) return toCustomerView(found.row, found.endorsements);
    const customer = toCustomerView(plan.next, [...found.endorsements, ...plan.newEndorsements]);
    const applied = await withUniqueExternalId(() =>
      repo.applyCustomerChange(db, scope, id, {
        expectedVersion: found.version,
        changes: plan.changes,
        newEndorsements: plan.newEndorsements.map((e) => e.name as EndorsementName),
        endorsementStatus: REQUESTED_STATUS,
        at: plan.at,
        event: newEvent('customer.updated', customer, plan.at),
      }),
    );
    return applied ? customer : undefined;
  }

  return {
    create: (db, scope, input) => inTransaction(db, (trx) => insertCustomer(trx, scope, input)),

    async update(db, scope, id, patch) {
      assertId('customer', id);
      for (let attempt = 1; attempt <= OPTIMISTIC_ATTEMPTS; attempt++) {
        const updated = await tryUpdate(db, scope, id, patch, false);
        if (updated) return updated;
      }
      // Contended: hold the row lock for one last attempt, which then cannot lose.
      return inTransaction(db, async (trx) => (await tryUpdate(trx, scope, id, patch, true))!);
    },

    async get(db, scope, id) {
      assertId('customer', id);
      const found = await repo.findCustomer(db, scope, id);
      if (!found) throw notFound('customer');
      return toCustomerView(found.row, found.endorsements);
    },

    async list(db, scope, query) {
      if (query.cursor !== undefined && query.startingAfter !== undefined) {
        throw validationError('/query/cursor', 'is an alias of startingAfter; send one of them');
      }
      const page = parsePageQuery({ ...query, startingAfter: query.startingAfter ?? query.cursor }, 'customer');
      const rows = await repo.listCustomers(db, scope, query, page);
      const shown = rows.slice(0, page.limit);
      const endorsements = await repo.listEndorsements(db, scope, shown.map((r) => r.id));
      const result = toPage(rows, page, (row) => toCustomerView(row, endorsements.filter((e) => e.customer_id === row.id)));
      return { ...result, cursor: result.nextCursor };
    },
  };
}

interface PatchPlan {
  /** Column values to write (PII sealed, metadata as JSON). */
  changes: Updateable<CustomersTable>;
  /** The row as it will read once written, for the response and the event. */
  next: PublicCustomerRow;
  newEndorsements: EndorsementRow[];
  at: Date;
}

/** What a PATCH changes (spec 2.3), or undefined when it changes nothing. */
async function planPatch(
  keyring: MasterKeyring,
  db: Db,
  scope: Scope,
  found: CustomerWithEndorsements,
  patch: CustomerPatchBody,
): Promise<PatchPlan | undefined> {
  const current = found.row;
  const at = new Date();
  const changes: Updateable<CustomersTable> = {};
  const next: PublicCustomerRow = { ...current };

  for (const [field, column] of Object.entries(PROFILE_COLUMNS) as [keyof typeof PROFILE_COLUMNS, (typeof PROFILE_COLUMNS)[keyof typeof PROFILE_COLUMNS]][]) {
    const value = patch[field];
    if (value !== undefined && value !== current[column]) changes[column] = next[column] = value;
  }
  if (patch.signedAgreement === false && current.signed_agreement) {
    throw new DomainError('signed_agreement_irreversible', 'signedAgreement cannot be set back to false once accepted');
  }
  if (patch.signedAgreement === true && !current.signed_agreement) {
    changes.signed_agreement = next.signed_agreement = true;
    changes.signed_agreement_at = next.signed_agreement_at = at;
  }
  if (patch.metadata !== undefined) {
    const merged = mergeMetadata(current.metadata, patch.metadata);
    if (JSON.stringify(merged) !== JSON.stringify(current.metadata)) {
      changes.metadata = JSON.stringify(merged);
      next.metadata = merged;
    }
  }
  if (PII_FIELDS.some((field) => patch[field] !== undefined)) {
    const sealed = await repo.findSealedPii(db, scope, current.id);
    const dataKey = openDataKey(keyring, scope, current.id, { sealed: sealed.data_key_sealed, masterKeyId: sealed.master_key_id });
    const stored = openPii(dataKey, scope, current.id, sealed.pii_sealed);
    const merged = mergePii(stored, patch);
    if (JSON.stringify(merged) !== JSON.stringify(stored)) changes.pii_sealed = sealPii(dataKey, scope, current.id, merged);
  }
  const existing = new Set(found.endorsements.map((e) => e.name));
  const newEndorsements = expandEndorsements(patch.endorsements ?? [])
    .filter((name) => !existing.has(name))
    .map((name) => repo.requestedEndorsement(scope, current.id, name, REQUESTED_STATUS, at));

  if (Object.keys(changes).length === 0 && newEndorsements.length === 0) return undefined;
  changes.updated_at = next.updated_at = at;
  return { changes, next, newEndorsements, at };
}

function mergePii(stored: CustomerPii, input: CustomerPii): CustomerPii {
  const merged: CustomerPii = { ...stored };
  if (input.birthDate !== undefined) merged.birthDate = input.birthDate;
  if (input.ipAddress !== undefined) merged.ipAddress = input.ipAddress;
  if (input.residentialAddress !== undefined) merged.residentialAddress = input.residentialAddress;
  if (input.identifyingInformation !== undefined) {
    merged.identifyingInformation = mergeIdentifyingInformation(stored.identifyingInformation ?? [], input.identifyingInformation);
  }
  return merged;
}

async function withUniqueExternalId<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (isUniqueViolation(err, 'customers_external_id')) {
      throw new DomainError('conflict', 'another customer already has this externalId');
    }
    throw err;
  }
}
