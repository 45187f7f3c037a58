import type { Transaction } from 'kysely';
import { forceStatus, type ForcedDetail, type EvaluationOutcome } from '../../compliance/evaluation.js';
import { legalTargets, transition } from '../../compliance/endorsement-machine.js';
import type { TransitionCause } from '../../compliance/endorsement-machine.js';
import type { MasterKeyring } from '../../crypto/master-keys.js';
import type { AssetCatalogue } from '../../domain/assets.js';
import type { Db } from '../../db/database.js';
import type { Database } from '../../db/schema.js';
import { inTransaction } from '../../db/transactions.js';
import type { EndorsementName, EndorsementStatus } from '../../domain/endorsements.js';
import { DomainError, notFound, validationError } from '../../domain/errors.js';
import { assertId } from '../../domain/ids.js';
import type { Scope } from '../../domain/scope.js';
import { newEvent } from '../../events/outbox.js';
import { openStoredPii } from './customer-pii.js';
import { applyOutcome, saveOutcome, toSubject } from './customer-compliance.js';
import * as repo from './customers.repo.js';
import type { CustomerView } from './customers.schemas.js';
import { toCustomerView } from './customers.view.js';
import { toEndorsementState } from './endorsements.repo.js';
import { toCustomerWallets } from '../wallets/wallets.view.js';

/**
 * Decisions made about a customer's endorsements from outside the checks: sandbox controls now,
 * operator decisions next. Each is one legal move of the state machine, stored like any other
 * (history, events), under the customer's row lock.
 */
export interface EndorsementControls {
  force(db: Db, scope: Scope, customerId: string, name: EndorsementName, target: EndorsementStatus, detail: ForcedDetail, cause: TransitionCause): Promise<CustomerView>;
  offboard(db: Db, scope: Scope, customerId: string, cause: TransitionCause): Promise<CustomerView>;
}

export function createEndorsementControls({ keyring, assets }: { keyring: MasterKeyring; assets: AssetCatalogue }): EndorsementControls {
  async function lockCustomer(trx: Transaction<Database>, scope: Scope, customerId: string) {
    assertId('customer', customerId);
    const found = await repo.findCustomer(trx, scope, customerId, { forUpdate: true });
    if (!found) throw notFound('customer');
    const { pii } = openStoredPii(keyring, scope, customerId, await repo.findSealedPii(trx, scope, customerId));
    return { found, subject: toSubject(found.row, pii), wallets: toCustomerWallets(found.wallets, assets) };
  }

  /** Every endorsement to OFFBOARDED and the customer `inactive` (spec 3.3), with `customer.offboarded`. */
  async function offboardLocked(trx: Transaction<Database>, scope: Scope, customerId: string, cause: TransitionCause): Promise<CustomerView> {
    const { found, wallets } = await lockCustomer(trx, scope, customerId);
    const at = new Date();
    const states = found.endorsements.map(toEndorsementState);
    const moves = states.flatMap((state) => {
      const move = transition(state.status, 'offboarded', cause);
      return move ? [{ name: state.name, transition: move }] : [];
    });
    const outcome: EvaluationOutcome = {
      endorsements: states.map((s) => ({ ...s, status: 'OFFBOARDED' as const, requirements: { ...s.requirements, pending: [] } })),
      moves,
      checksDue: false,
      underReview: false,
    };
    if (found.row.status === 'inactive' && moves.length === 0) return toCustomerView(found.row, found.endorsements, wallets);
    const next = { ...found.row, status: 'inactive' as const, updated_at: at };
    const customer = toCustomerView(next, applyOutcome(found.endorsements, outcome, at), wallets);
    await repo.applyCustomerChange(trx, scope, customerId, {
      expectedVersion: found.version,
      changes: { status: 'inactive', updated_at: at },
      event: newEvent('customer.offboarded', customer, at),
    });
    await saveOutcome(trx, scope, next, wallets, found.endorsements, outcome, at);
    return customer;
  }

  return {
    force: (db, scope, customerId, name, target, detail, cause) =>
      inTransaction(db, async (trx) => {
        if (detail.issues && target !== 'ISSUES' && target !== 'REVOKED_ISSUES') {
          throw validationError('/issues', 'only applies to ISSUES and REVOKED_ISSUES');
        }
        if (detail.rejectionReasons && target !== 'REJECTED') throw validationError('/rejectionReasons', 'only applies to REJECTED');
        const { found, subject, wallets } = await lockCustomer(trx, scope, customerId);
        const current = found.endorsements.find((e) => e.name === name);
        if (!current) throw new DomainError('not_found', `the customer has not requested the ${name} endorsement`);
        if (target === 'OFFBOARDED') return offboardLocked(trx, scope, customerId, cause);
        const outcome = forceStatus(found.endorsements.map(toEndorsementState), subject, name, target, detail, cause);
        if (!outcome) {
          const legal = legalTargets(current.status as EndorsementStatus);
          throw new DomainError('conflict', `${name} cannot move from ${current.status} to ${target}; it can move to ${legal.join(', ') || 'nothing (final)'}`);
        }
        const at = new Date();
        const endorsements = await saveOutcome(trx, scope, found.row, wallets, found.endorsements, outcome, at);
        return toCustomerView(found.row, endorsements, wallets);
      }),
    offboard: (db, scope, customerId, cause) => inTransaction(db, (trx) => offboardLocked(trx, scope, customerId, cause)),
  };
}
