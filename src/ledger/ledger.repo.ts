import { randomUUID } from 'node:crypto';
import { sql, type Transaction } from 'kysely';
import type { Db } from '../db/database.js';
import type { Database, LedgerAccountsTable } from '../db/schema.js';
import type { Scope } from '../domain/scope.js';

/** SQL of the ledger. The invariants live in the database (migration 0006); this file only writes and reads. */

export type AccountKind = LedgerAccountsTable['kind'];

export interface AccountRow {
  id: string;
  kind: AccountKind;
  asset: string;
  chain: string;
  wallet_id: string | null;
  scale: number;
  /** NUMERIC text; null for an account of the outside world, whose balance is not cached. */
  balance: string | null;
}

const ACCOUNT_COLUMNS = ['id', 'kind', 'asset', 'chain', 'wallet_id', 'scale', 'balance'] as const;

export interface AccountKey {
  kind: AccountKind;
  asset: string;
  chain: string;
  walletId: string | null;
  scale: number;
}

/** The account for this key, created on first use; only the world outside may go negative. */
export async function ensureAccount(trx: Transaction<Database>, scope: Scope, key: AccountKey): Promise<AccountRow> {
  await trx
    .insertInto('ledger_accounts')
    .values({
      project_id: scope.projectId,
      mode: scope.mode,
      id: randomUUID(),
      kind: key.kind,
      asset: key.asset,
      chain: key.chain,
      wallet_id: key.walletId,
      scale: key.scale,
      allow_negative: key.kind === 'external',
      balance: key.kind === 'external' ? null : '0',
      created_at: new Date(),
    })
    .onConflict((oc) => oc.columns(['project_id', 'mode', 'kind', 'asset', 'chain', 'wallet_id']).doNothing())
    .execute();
  let query = trx
    .selectFrom('ledger_accounts')
    .select(ACCOUNT_COLUMNS)
    .where('project_id', '=', scope.projectId)
    .where('mode', '=', scope.mode)
    .where('kind', '=', key.kind)
    .where('asset', '=', key.asset)
    .where('chain', '=', key.chain);
  query = key.walletId === null ? query.where('wallet_id', 'is', null) : query.where('wallet_id', '=', key.walletId);
  return query.executeTakeFirstOrThrow();
}

export interface PostingInput {
  accountId: string;
  asset: string;
  /** Signed decimal string. */
  amount: string;
}

/**
 * Writes the entry and its postings (in the order given, which is the order their accounts are
 * locked) and returns the balances they leave, in one round trip (`ledger_post`, migration 0009).
 */
export async function insertEntry(
  trx: Transaction<Database>,
  scope: Scope,
  entry: { id: string; kind: string; reference: string | null; postings: readonly PostingInput[] },
  at: Date,
): Promise<Map<string, string | null>> {
  const { rows } = await sql<{ account_id: string; balance: string | null }>`
    select account_id, balance::text as balance from ledger_post(
      ${scope.projectId}, ${scope.mode}, ${entry.id}, ${entry.kind}, ${entry.reference}, ${at},
      ${entry.postings.map((p) => p.accountId)}::text[], ${entry.postings.map((p) => p.asset)}::text[], ${entry.postings.map((p) => p.amount)}::numeric[])`.execute(trx);
  return new Map(rows.map((r) => [r.account_id, r.balance]));
}

export async function findAccount(db: Db, scope: Scope, id: string): Promise<AccountRow | undefined> {
  return db
    .selectFrom('ledger_accounts')
    .select(ACCOUNT_COLUMNS)
    .where('project_id', '=', scope.projectId)
    .where('mode', '=', scope.mode)
    .where('id', '=', id)
    .executeTakeFirst();
}

export interface BalanceDifference {
  projectId: string;
  mode: string;
  accountId: string;
  cached: string;
  fromPostings: string;
}

/** Every account whose cached balance is not the sum of its postings, across all projects (the world's accounts cache none). */
export async function balanceDifferences(db: Db): Promise<BalanceDifference[]> {
  const { rows } = await sql<{ project_id: string; mode: string; id: string; balance: string; summed: string }>`
    select a.project_id, a.mode, a.id, a.balance::text as balance, coalesce(p.summed, 0)::text as summed
      from ledger_accounts a
      left join (select project_id, mode, account_id, sum(amount) as summed from ledger_postings group by 1, 2, 3) p
        on (p.project_id, p.mode, p.account_id) = (a.project_id, a.mode, a.id)
     where a.balance is not null and a.balance <> coalesce(p.summed, 0)`.execute(db);
  return rows.map((r) => ({ projectId: r.project_id, mode: r.mode, accountId: r.id, cached: r.balance, fromPostings: r.summed }));
}

/** Entries whose postings do not sum to zero per asset (the database refuses them; this proves it). */
export async function unbalancedEntries(db: Db): Promise<string[]> {
  const { rows } = await sql<{ entry_id: string }>`
    select distinct entry_id from (
      select project_id, mode, entry_id, asset from ledger_postings group by 1, 2, 3, 4 having sum(amount) <> 0
    ) unbalanced`.execute(db);
  return rows.map((r) => r.entry_id);
}
