import { randomUUID } from 'node:crypto';
import { sql, type Compilable, type Transaction } from 'kysely';
import type { Db } from '../db/database.js';
import type { AccountAccepts, Database, LedgerAccountsTable } from '../db/schema.js';
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
  alongside?: Compilable,
): Promise<Map<string, string | null>> {
  const { rows } = await sql<{ account_id: string; balance: string | null }>`
    ${alongside ? sql`with alongside as (${alongside}) ` : sql``}select account_id, balance::text as balance from ledger_post(
      ${scope.projectId}, ${scope.mode}, ${entry.id}, ${entry.kind}, ${entry.reference}, ${at},
      ${entry.postings.map((p) => p.accountId)}::text[], ${entry.postings.map((p) => p.asset)}::text[], ${entry.postings.map((p) => p.amount)}::numeric[])`.execute(trx);
  return new Map(rows.map((r) => [r.account_id, r.balance]));
}

export interface EntryInput {
  id: string;
  kind: string;
  reference: string | null;
  postings: readonly PostingInput[];
}

/** Writes several entries and all their postings in one round trip (`ledger_post_entries`, migration 0013). */
export async function insertEntries(trx: Transaction<Database>, scope: Scope, entries: readonly EntryInput[], at: Date): Promise<void> {
  const legs = entries.flatMap((entry, i) => entry.postings.map((posting) => ({ entry: i + 1, ...posting })));
  await sql`
    select ledger_post_entries(
      ${scope.projectId}, ${scope.mode}, ${at},
      ${entries.map((e) => e.id)}::text[], ${entries.map((e) => e.kind)}::text[], ${entries.map((e) => e.reference)}::text[],
      ${legs.map((l) => l.entry)}::integer[], ${legs.map((l) => l.accountId)}::text[], ${legs.map((l) => l.asset)}::text[], ${legs.map((l) => l.amount)}::numeric[])`.execute(trx);
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

/**
 * Sets which postings the account takes. With `onlyIfEmpty`, only while its balance is zero,
 * decided under the row lock the update takes (so no posting slips in between). Returns the
 * balance that refused it, or undefined when set.
 */
export async function setAccepts(
  trx: Transaction<Database>,
  scope: Scope,
  accountId: string,
  accepts: AccountAccepts,
  { onlyIfEmpty }: { onlyIfEmpty: boolean },
): Promise<{ refusedAt: string } | undefined> {
  let update = trx.updateTable('ledger_accounts').set({ accepts }).where('project_id', '=', scope.projectId).where('mode', '=', scope.mode).where('id', '=', accountId);
  if (onlyIfEmpty) update = update.where('balance', '=', '0');
  const updated = await update.returning('id').executeTakeFirst();
  if (updated) return undefined;
  const account = await findAccount(trx, scope, accountId);
  if (!account?.balance) throw new Error(`ledger account ${accountId} caches no balance in ${scope.projectId}/${scope.mode}`);
  return { refusedAt: account.balance };
}

export interface PostingLine {
  entry_id: string;
  kind: string;
  reference: string | null;
  /** Signed NUMERIC text. */
  amount: string;
  created_at: Date;
  /** The entry's other legs: which account, of which wallet if any, moved how much. */
  counterparts: { accountKind: AccountKind; walletId: string | null; amount: string }[];
}

/** An account's postings, newest first, a page at a time (`before`: the last entry id of the previous page). */
export async function accountPostings(db: Db, scope: Scope, accountId: string, page: { limit: number; before?: string | undefined }): Promise<PostingLine[]> {
  const after = page.before
    ? sql`and (p.created_at, p.entry_id) < (select created_at, id from journal_entries where project_id = ${scope.projectId} and mode = ${scope.mode} and id = ${page.before})`
    : sql``;
  const { rows } = await sql<PostingLine>`
    select p.entry_id, e.kind, e.reference, p.amount::text as amount, p.created_at,
      (select coalesce(json_agg(json_build_object('accountKind', a.kind, 'walletId', a.wallet_id, 'amount', o.amount::text) order by o.seq), '[]')
         from ledger_postings o
         join ledger_accounts a on (a.project_id, a.mode, a.id) = (o.project_id, o.mode, o.account_id)
        where (o.project_id, o.mode, o.entry_id) = (p.project_id, p.mode, p.entry_id) and o.seq <> p.seq) as counterparts
      from ledger_postings p
      join journal_entries e on (e.project_id, e.mode, e.id) = (p.project_id, p.mode, p.entry_id)
     where p.project_id = ${scope.projectId} and p.mode = ${scope.mode} and p.account_id = ${accountId} ${after}
     order by p.created_at desc, p.entry_id desc
     limit ${page.limit}`.execute(db);
  return rows;
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

export interface EntryWithPostings {
  id: string;
  kind: string;
  created_at: Date;
  postings: { accountId: string; accountKind: AccountKind; walletId: string | null; asset: string; chain: string; amount: string }[];
}

/** The entries that record one thing (a transaction's hold, settlement or refund), oldest first, each with all its legs. */
export async function entriesFor(db: Db, scope: Scope, reference: string): Promise<EntryWithPostings[]> {
  const { rows } = await sql<EntryWithPostings>`
    select e.id, e.kind, e.created_at,
      (select json_agg(json_build_object('accountId', a.id, 'accountKind', a.kind, 'walletId', a.wallet_id, 'asset', p.asset, 'chain', a.chain, 'amount', p.amount::text) order by p.seq)
         from ledger_postings p
         join ledger_accounts a on (a.project_id, a.mode, a.id) = (p.project_id, p.mode, p.account_id)
        where (p.project_id, p.mode, p.entry_id) = (e.project_id, e.mode, e.id)) as postings
      from journal_entries e
     where e.project_id = ${scope.projectId} and e.mode = ${scope.mode} and e.reference = ${reference}
     order by e.created_at, e.id`.execute(db);
  return rows;
}
