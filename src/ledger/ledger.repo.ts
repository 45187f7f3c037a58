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
  balance: string;
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

/** Locks the accounts in id order: two movements over the same accounts never wait on each other in a cycle. */
export async function lockAccounts(trx: Transaction<Database>, scope: Scope, ids: readonly string[]): Promise<AccountRow[]> {
  return trx
    .selectFrom('ledger_accounts')
    .select(ACCOUNT_COLUMNS)
    .where('project_id', '=', scope.projectId)
    .where('mode', '=', scope.mode)
    .where('id', 'in', [...new Set(ids)].sort())
    .orderBy('id')
    .forUpdate()
    .execute();
}

export interface PostingInput {
  accountId: string;
  asset: string;
  /** Signed decimal string. */
  amount: string;
}

export async function insertEntry(
  trx: Transaction<Database>,
  scope: Scope,
  entry: { kind: string; reference: string | null; postings: readonly PostingInput[] },
  at: Date,
): Promise<string> {
  const id = randomUUID();
  await trx.insertInto('journal_entries').values({ project_id: scope.projectId, mode: scope.mode, id, kind: entry.kind, reference: entry.reference, created_at: at }).execute();
  await trx
    .insertInto('ledger_postings')
    .values(
      entry.postings.map((p, seq) => ({
        project_id: scope.projectId,
        mode: scope.mode,
        entry_id: id,
        seq,
        account_id: p.accountId,
        asset: p.asset,
        amount: p.amount,
        created_at: at,
      })),
    )
    .execute();
  return id;
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

/** Every account whose cached balance is not the sum of its postings, across all projects. */
export async function balanceDifferences(db: Db): Promise<BalanceDifference[]> {
  const { rows } = await sql<{ project_id: string; mode: string; id: string; balance: string; summed: string }>`
    select a.project_id, a.mode, a.id, a.balance::text as balance, coalesce(p.summed, 0)::text as summed
      from ledger_accounts a
      left join (select project_id, mode, account_id, sum(amount) as summed from ledger_postings group by 1, 2, 3) p
        on (p.project_id, p.mode, p.account_id) = (a.project_id, a.mode, a.id)
     where a.balance <> coalesce(p.summed, 0)`.execute(db);
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
