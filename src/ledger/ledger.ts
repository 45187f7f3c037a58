import type { Transaction } from 'kysely';
import type { Db } from '../db/database.js';
import { isCheckViolation, isRetryableConflict } from '../db/errors.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../domain/errors.js';
import type { Scope } from '../domain/scope.js';
import { negate } from './decimal-amount.js';
import * as repo from './ledger.repo.js';

/**
 * The ledger every money movement posts to. `post` writes one balanced journal entry inside
 * the caller's transaction, having locked its accounts in a fixed order; the database refuses
 * an unbalanced entry, an overdraft and any change to what is written. `transaction` runs a
 * unit of work that posts, and runs it again on a serialization failure or deadlock, so those
 * never reach the API.
 */

export interface Leg {
  accountId: string;
  /** Signed decimal string: positive credits the account, negative debits it. */
  amount: string;
}

export interface Movement {
  kind: string;
  reference?: string | undefined;
  legs: readonly Leg[];
}

const MAX_ATTEMPTS = 5;

export async function post(trx: Transaction<Database>, scope: Scope, movement: Movement, at = new Date()): Promise<string> {
  const accounts = await repo.lockAccounts(trx, scope, movement.legs.map((leg) => leg.accountId));
  const byId = new Map(accounts.map((a) => [a.id, a]));
  const postings = [...movement.legs]
    .sort((a, b) => (a.accountId < b.accountId ? -1 : a.accountId > b.accountId ? 1 : 0))
    .map((leg) => {
      const account = byId.get(leg.accountId);
      if (!account) throw new Error(`ledger account ${leg.accountId} not found in ${scope.projectId}/${scope.mode}`);
      return { accountId: leg.accountId, asset: account.asset, amount: leg.amount };
    });
  try {
    return await repo.insertEntry(trx, scope, { kind: movement.kind, reference: movement.reference ?? null, postings }, at);
  } catch (err) {
    if (isCheckViolation(err, 'ledger_accounts_not_negative')) throw new DomainError('insufficient_funds', 'the balance does not cover this amount');
    throw err;
  }
}

/** A movement of `amount` from one account to another, as two legs. */
export function transfer(kind: string, from: string, to: string, amount: string, reference?: string): Movement {
  return { kind, reference, legs: [{ accountId: from, amount: negate(amount) }, { accountId: to, amount }] };
}

export async function transaction<T>(db: Db, work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction().execute(work);
    } catch (err) {
      if (!isRetryableConflict(err) || attempt >= MAX_ATTEMPTS) throw err;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
    }
  }
}

export const ensureAccount = repo.ensureAccount;
export const findAccount = repo.findAccount;

export interface Reconciliation {
  balanceDifferences: repo.BalanceDifference[];
  unbalancedEntries: string[];
}

/** Recomputes every balance from its postings and every entry's sum; empty lists mean the books are clean. */
export async function reconcile(db: Db): Promise<Reconciliation> {
  const [balanceDifferences, unbalancedEntries] = await Promise.all([repo.balanceDifferences(db), repo.unbalancedEntries(db)]);
  return { balanceDifferences, unbalancedEntries };
}
