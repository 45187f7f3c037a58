import { randomUUID } from 'node:crypto';
import type { Compilable, Transaction } from 'kysely';
import type { Db } from '../db/database.js';
import { isCheckViolation, isRetryableConflict } from '../db/errors.js';
import type { Database } from '../db/schema.js';
import { DomainError } from '../domain/errors.js';
import type { Scope } from '../domain/scope.js';
import { negate } from './decimal-amount.js';
import * as repo from './ledger.repo.js';

/**
 * The ledger every money movement posts to. `post` writes one balanced journal entry inside
 * the caller's transaction; the database refuses an unbalanced entry, an overdraft and any
 * change to what is written. An overdraft is checked by the database under the row lock that
 * moving the cached balance takes; postings go in account-id order, so two movements over the
 * same accounts take those locks in the same order and never wait on each other in a cycle.
 * `transaction` runs a unit of work that posts, and runs it again on a serialization failure or
 * deadlock, so those never reach the API.
 */

/** What a leg needs of an account: the database checks that the asset is the account's. */
export interface AccountRef {
  id: string;
  asset: string;
}

export interface Leg {
  account: AccountRef;
  /** Signed decimal string: positive credits the account, negative debits it. */
  amount: string;
}

export interface Movement {
  kind: string;
  reference?: string | undefined;
  legs: readonly Leg[];
}

const MAX_ATTEMPTS = 5;

export interface Posted {
  entryId: string;
  /** What each account that caches a balance holds once the entry is written, by account id. */
  balances: ReadonlyMap<string, string>;
}

function toEntry(movement: Movement): repo.EntryInput {
  const postings = [...movement.legs]
    .sort((a, b) => (a.account.id < b.account.id ? -1 : a.account.id > b.account.id ? 1 : 0))
    .map((leg) => ({ accountId: leg.account.id, asset: leg.account.asset, amount: leg.amount }));
  return { id: randomUUID(), kind: movement.kind, reference: movement.reference ?? null, postings };
}

/** The database's refusals, as the domain names them. */
function refusal(err: unknown): unknown {
  if (isCheckViolation(err, 'ledger_accounts_not_negative')) return new DomainError('insufficient_funds', 'the balance does not cover this amount');
  if (isCheckViolation(err, 'ledger_accounts_accept_nothing')) return new DomainError('conflict', 'the wallet is closed: no money moves in or out');
  if (isCheckViolation(err, 'ledger_accounts_accept_credits_only')) return new DomainError('conflict', 'the wallet is suspended: no money moves out');
  return err;
}

/**
 * Posts one movement in one round trip. `alongside` is another write of the same change (the
 * event that reports it) sent in the same statement: it commits or fails with the posting.
 */
export async function post(trx: Transaction<Database>, scope: Scope, movement: Movement, at = new Date(), alongside?: Compilable): Promise<Posted> {
  const entry = toEntry(movement);
  try {
    const after = await repo.insertEntry(trx, scope, entry, at, alongside);
    const balances = new Map<string, string>();
    for (const [accountId, balance] of after) if (balance !== null) balances.set(accountId, balance);
    return { entryId: entry.id, balances };
  } catch (err) {
    throw refusal(err);
  }
}

/**
 * Posts several movements of one scope in one round trip, all or none. Their accounts' row
 * locks are taken in the order of the legs, entry after entry: a caller posting movements that
 * share accounts with concurrent work locks those accounts first, in id order.
 */
export async function postAll(trx: Transaction<Database>, scope: Scope, movements: readonly Movement[], at = new Date()): Promise<void> {
  if (movements.length === 0) return;
  try {
    await repo.insertEntries(trx, scope, movements.map(toEntry), at);
  } catch (err) {
    throw refusal(err);
  }
}

/** A movement of `amount` from one account to another, as two legs. */
export function transfer(kind: string, from: AccountRef, to: AccountRef, amount: string, reference?: string): Movement {
  return { kind, reference, legs: [{ account: from, amount: negate(amount) }, { account: to, amount }] };
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

export type AccountKind = repo.AccountKind;
export const ensureAccount = repo.ensureAccount;
export const findAccount = repo.findAccount;
export const setAccepts = repo.setAccepts;
export const accountPostings = repo.accountPostings;
export const entriesFor = repo.entriesFor;
export type PostingLine = repo.PostingLine;

export interface Reconciliation {
  balanceDifferences: repo.BalanceDifference[];
  unbalancedEntries: string[];
}

/** Recomputes every balance from its postings and every entry's sum; empty lists mean the books are clean. */
export async function reconcile(db: Db): Promise<Reconciliation> {
  const [balanceDifferences, unbalancedEntries] = await Promise.all([repo.balanceDifferences(db), repo.unbalancedEntries(db)]);
  return { balanceDifferences, unbalancedEntries };
}
