import type { Transaction, Updateable } from 'kysely';
import type { Db } from '../../db/database.js';
import { isUniqueViolation } from '../../db/errors.js';
import type { CustomersTable, Database } from '../../db/schema.js';
import { inTransaction } from '../../db/transactions.js';
import type { MasterKeyring } from '../../crypto/master-keys.js';
import type { AssetCatalogue } from '../../domain/assets.js';
import { isCheckInput } from '../../compliance/evaluation.js';
import { DEFAULT_ENDORSEMENTS, expandEndorsements } from '../../domain/endorsements.js';
import { DomainError, notFound, validationError } from '../../domain/errors.js';
import { assertId, newId } from '../../domain/ids.js';
import type { Scope } from '../../domain/scope.js';
import { newEvent } from '../../events/outbox.js';
import { parsePageQuery, toPage, type Page } from '../../http/pagination.js';
import { type CustomerPii, newDataKey, openStoredPii, PII_FIELDS, sealPii } from './customer-pii.js';
import { mergeIdentifyingInformation, mergeMetadata } from './customer-patch-rules.js';
import type { CustomerCreateBody, CustomerListQueryParams, CustomerPatchBody, CustomerView } from './customers.schemas.js';
import * as repo from './customers.repo.js';
import type { CustomerWithEndorsements, PublicCustomerRow } from './customers.repo.js';
import { toCustomerView } from './customers.view.js';
import { applyOutcome, evaluateWrite, patchMayMoveEndorsements, saveOutcome, toSubject } from './customer-compliance.js';
import { insertEndorsements } from './endorsements.repo.js';
import { toCustomerWallets } from '../wallets/wallets.view.js';

/**
 * Writes take the database handle and join the caller's transaction when given one, so an
 * idempotency record commits with the write. Create, and a PATCH that may move endorsements,
 * run as one transaction under the customer's row lock; a PATCH of profile fields alone is one
 * compare-and-set statement, atomic on its own.
 */
export interface CustomersService {
  create(db: Db, scope: Scope, input: CustomerCreateBody): Promise<CustomerView>;
  update(db: Db, scope: Scope, id: string, patch: CustomerPatchBody): Promise<CustomerView>;
  get(db: Db, scope: Scope, id: string): Promise<CustomerView>;
  list(db: Db, scope: Scope, query: CustomerListQueryParams): Promise<Page<CustomerView> & { cursor: string | null }>;
}

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

export function createCustomersService({ keyring, assets }: { keyring: MasterKeyring; assets: AssetCatalogue }): CustomersService {
  const walletsOf = (found: CustomerWithEndorsements) => toCustomerWallets(found.wallets, assets);

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
    const born = await insertEndorsements(trx, scope, id, names, now);
    const outcome = evaluateWrite(scope, born, toSubject(row, pii), { checkInputChanged: true, named: new Set(names) });
    // A customer is born without wallets.
    const customer = toCustomerView(row, applyOutcome(born, outcome, now), []);
    await saveOutcome(trx, scope, row, [], born, outcome, now, { alsoRecord: [newEvent('customer.created', customer, now)] });
    return customer;
  }

  /**
   * A PATCH that cannot move an endorsement: one read-plan-write round, compare-and-set on the
   * version; undefined when another write changed the customer meanwhile.
   */
  async function tryProfileUpdate(db: Db, scope: Scope, found: CustomerWithEndorsements, patch: CustomerPatchBody): Promise<CustomerView | undefined> {
    const plan = planPatch(scope, found, patch, undefined);
    const wallets = walletsOf(found);
    if (!plan) return toCustomerView(found.row, found.endorsements, wallets);
    const customer = toCustomerView(plan.next, found.endorsements, wallets);
    const applied = await withUniqueExternalId(() =>
      repo.applyCustomerChange(db, scope, found.row.id, {
        expectedVersion: found.version,
        changes: plan.changes,
        event: newEvent('customer.updated', customer, plan.at),
      }),
    );
    return applied ? customer : undefined;
  }

  /** A PATCH that may move endorsements: under the row lock, with the PII opened for the checks. */
  async function complianceUpdate(trx: Transaction<Database>, scope: Scope, id: string, patch: CustomerPatchBody): Promise<CustomerView> {
    const found = await repo.findCustomer(trx, scope, id, { forUpdate: true });
    if (!found) throw notFound('customer');
    const { pii: stored, dataKey } = openStoredPii(keyring, scope, id, await repo.findSealedPii(trx, scope, id));
    const plan = planPatch(scope, found, patch, { stored, dataKey });
    const at = plan?.at ?? new Date();
    const named = expandEndorsements(patch.endorsements ?? []);
    const requested = named.filter((name) => !found.endorsements.some((e) => e.name === name));
    if (requested.length > 0 && found.row.status === 'inactive') {
      throw new DomainError('customer_inactive', 'the customer was offboarded: no endorsement can be requested');
    }
    const born = await insertEndorsements(trx, scope, id, requested, at);
    // A new endorsement changes the customer even when no field does.
    const next = plan?.next ?? (born.length > 0 ? { ...found.row, updated_at: at } : found.row);
    const before = [...found.endorsements, ...born];
    const outcome = evaluateWrite(scope, before, toSubject(next, plan?.pii ?? stored), {
      checkInputChanged: plan?.checkInputChanged ?? false,
      named: new Set(named),
    });
    const endorsements = applyOutcome(before, outcome, at);
    const wallets = walletsOf(found);
    const customer = toCustomerView(next, endorsements, wallets);
    if (plan || born.length > 0) {
      const changes = plan?.changes ?? { updated_at: at };
      await withUniqueExternalId(() =>
        repo.applyCustomerChange(trx, scope, id, { expectedVersion: found.version, changes, event: newEvent('customer.updated', customer, at) }),
      );
    }
    await saveOutcome(trx, scope, next, wallets, before, outcome, at);
    return customer;
  }

  return {
    create: (db, scope, input) => inTransaction(db, (trx) => insertCustomer(trx, scope, input)),

    async update(db, scope, id, patch) {
      assertId('customer', id);
      for (let attempt = 1; attempt <= OPTIMISTIC_ATTEMPTS; attempt++) {
        const found = await repo.findCustomer(db, scope, id);
        if (!found) throw notFound('customer');
        if (patchMayMoveEndorsements(scope.mode, patch, found.endorsements)) break;
        const updated = await tryProfileUpdate(db, scope, found, patch);
        if (updated) return updated;
      }
      // Contended, or endorsements may move: under the row lock, which cannot lose.
      return inTransaction(db, (trx) => complianceUpdate(trx, scope, id, patch));
    },

    async get(db, scope, id) {
      assertId('customer', id);
      const found = await repo.findCustomer(db, scope, id);
      if (!found) throw notFound('customer');
      return toCustomerView(found.row, found.endorsements, walletsOf(found));
    },

    async list(db, scope, query) {
      if (query.cursor !== undefined && query.startingAfter !== undefined) {
        throw validationError('/query/cursor', 'is an alias of startingAfter; send one of them');
      }
      const page = parsePageQuery({ ...query, startingAfter: query.startingAfter ?? query.cursor }, 'customer');
      const rows = await repo.listCustomers(db, scope, query, page);
      const shown = rows.slice(0, page.limit);
      const ids = shown.map((r) => r.id);
      const [endorsements, holdings] = await Promise.all([repo.listEndorsements(db, scope, ids), repo.listWalletHoldings(db, scope, ids)]);
      const result = toPage(rows, page, (row) =>
        toCustomerView(
          row,
          endorsements.filter((e) => e.customer_id === row.id),
          toCustomerWallets(holdings.filter((h) => h.customer_id === row.id), assets),
        ),
      );
      return { ...result, cursor: result.nextCursor };
    },
  };
}

/** The opened PII, for a PATCH that changes it. */
interface OpenedPii {
  stored: CustomerPii;
  dataKey: Buffer;
}

interface PatchPlan {
  /** Column values to write (PII sealed, metadata as JSON). */
  changes: Updateable<CustomersTable>;
  /** The row as it will read once written, for the response and the event. */
  next: PublicCustomerRow;
  /** The PII as it will be once written (the stored PII when the patch has none). */
  pii: CustomerPii | undefined;
  /** A field that a compliance check reads changed value. */
  checkInputChanged: boolean;
  at: Date;
}

/** What a PATCH changes in the customer (spec 2.3), or undefined when it changes nothing. */
function planPatch(scope: Scope, found: CustomerWithEndorsements, patch: CustomerPatchBody, opened: OpenedPii | undefined): PatchPlan | undefined {
  const current = found.row;
  const at = new Date();
  const changes: Updateable<CustomersTable> = {};
  const next: PublicCustomerRow = { ...current };
  const changedFields = new Set<string>();

  for (const [field, column] of Object.entries(PROFILE_COLUMNS) as [keyof typeof PROFILE_COLUMNS, (typeof PROFILE_COLUMNS)[keyof typeof PROFILE_COLUMNS]][]) {
    const value = patch[field];
    if (value !== undefined && value !== current[column]) {
      changes[column] = next[column] = value;
      changedFields.add(field);
    }
  }
  // Validation first (a merged metadata over its limit is a 400), business rules after (422).
  if (patch.metadata !== undefined) {
    const merged = mergeMetadata(current.metadata, patch.metadata);
    if (JSON.stringify(merged) !== JSON.stringify(current.metadata)) {
      changes.metadata = JSON.stringify(merged);
      next.metadata = merged;
    }
  }
  if (patch.signedAgreement === false && current.signed_agreement) {
    throw new DomainError('signed_agreement_irreversible', 'signedAgreement cannot be set back to false once accepted');
  }
  if (patch.signedAgreement === true && !current.signed_agreement) {
    changes.signed_agreement = next.signed_agreement = true;
    changes.signed_agreement_at = next.signed_agreement_at = at;
  }
  let pii = opened?.stored;
  if (PII_FIELDS.some((field) => patch[field] !== undefined)) {
    if (!opened) throw new Error('a PATCH of PII fields needs the stored PII opened');
    const merged = mergePii(opened.stored, patch);
    for (const field of PII_FIELDS) {
      if (JSON.stringify(merged[field]) !== JSON.stringify(opened.stored[field])) changedFields.add(field);
    }
    if (JSON.stringify(merged) !== JSON.stringify(opened.stored)) {
      changes.pii_sealed = sealPii(opened.dataKey, scope, current.id, merged);
      pii = merged;
    }
  }

  if (Object.keys(changes).length === 0) return undefined;
  changes.updated_at = next.updated_at = at;
  const checkInputChanged = [...changedFields].some((field) => isCheckInput(scope.mode, field));
  return { changes, next, pii, checkInputChanged, at };
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
