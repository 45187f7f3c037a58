import { sql, type Selectable, type Transaction } from 'kysely';
import type { Db } from '../../db/database.js';
import type { Database, Mode, TransactionsTable } from '../../db/schema.js';
import type { Scope } from '../../domain/scope.js';
import type { OutboxEvent } from '../../events/outbox.js';
import { PRICED_COLUMNS, type PricedColumns, type QuoteRow } from '../quotes/quotes.repo.js';
import { keyset, type PageRequest } from '../../http/pagination.js';

/** SQL for transactions, each read with the priced parts of its quote; every query but the workers' claims is confined to one scope. */

export const SETTLEMENT_CHANNEL = 'oms_settlements';

/** The transaction's columns a read returns (not its lease). */
const COLUMNS = [
  'id',
  'type',
  'status',
  'sub_status',
  'quote_id',
  'sender_customer_id',
  'recipient_customer_id',
  'tx_hash',
  'submitted_at',
  'failure_code',
  'failure_message',
  'metadata',
  'client_context',
  'settle_after',
  'completed_at',
  'created_at',
  'updated_at',
] as const;

type TransactionColumns = Pick<Selectable<TransactionsTable>, (typeof COLUMNS)[number]>;

/** A transaction with what its quote fixed. */
export type TransactionRecord = TransactionColumns & PricedColumns;

const JOINED_COLUMNS = [...COLUMNS.map((c) => `t.${c}` as const), ...PRICED_COLUMNS.map((c) => `q.${c}` as const)];

function withQuote(db: Db) {
  return db
    .selectFrom('transactions as t')
    .innerJoin('quotes as q', (join) => join.onRef('q.project_id', '=', 't.project_id').onRef('q.mode', '=', 't.mode').onRef('q.id', '=', 't.quote_id'))
    .select(JOINED_COLUMNS);
}

export type NewTransaction = Omit<TransactionColumns, 'metadata' | 'client_context' | 'tx_hash' | 'submitted_at' | 'failure_code' | 'failure_message' | 'completed_at'> & {
  metadata: Record<string, string>;
  client_context: Record<string, unknown>;
};

/** What accepting a quote needs to know, in one read: the quote, its source wallet's accounts, its recipient, and its customer's standing. */
export interface Acceptance {
  quote: QuoteRow;
  source: { address: string; ledger_account_id: string; hold_account_id: string; asset: string };
  recipientCustomerId: string | null;
  customer: { status: string; basic: string | null };
}

export async function findAcceptance(db: Db, scope: Scope, quoteId: string): Promise<Acceptance | undefined> {
  const { rows } = await sql<QuoteRow & { source_address: string; source_account_id: string; hold_account_id: string; recipient_customer_id: string | null; customer_status: string; basic_status: string | null }>`
    select q.*, sw.address as source_address, sw.ledger_account_id as source_account_id, sw.hold_account_id, dw.customer_id as recipient_customer_id,
           c.status as customer_status, e.status as basic_status
      from quotes q
      join wallets sw on (sw.project_id, sw.mode, sw.id) = (q.project_id, q.mode, q.source_wallet_id)
      join customers c on (c.project_id, c.mode, c.id) = (q.project_id, q.mode, q.customer_id)
      left join customer_endorsements e on (e.project_id, e.mode, e.customer_id, e.name) = (c.project_id, c.mode, c.id, 'basic')
      left join wallets dw on (dw.project_id, dw.mode, dw.id) = (q.project_id, q.mode, q.destination_wallet_id)
     where q.project_id = ${scope.projectId} and q.mode = ${scope.mode} and q.id = ${quoteId}`.execute(db);
  const row = rows[0];
  if (!row) return undefined;
  const { source_address, source_account_id, hold_account_id, recipient_customer_id, customer_status, basic_status, ...quote } = row;
  return {
    quote,
    source: { address: source_address, ledger_account_id: source_account_id, hold_account_id, asset: quote.source_asset },
    recipientCustomerId: recipient_customer_id,
    customer: { status: customer_status, basic: basic_status },
  };
}

/**
 * Accepts the quote if it is still open and unexpired at `at`, and writes the transaction and
 * its event, in one statement (one round trip). The quote's row lock decides between
 * concurrent acceptances: one finds it open. Returns false, having written nothing, otherwise.
 */
export async function acceptQuote(trx: Transaction<Database>, scope: Scope, row: NewTransaction, event: OutboxEvent, at: Date): Promise<boolean> {
  const { rows } = await sql<{ id: string }>`
    with accepted as (
      update quotes set status = 'accepted', accepted_at = ${at}
       where project_id = ${scope.projectId} and mode = ${scope.mode} and id = ${row.quote_id} and status = 'open' and expires_at > ${at}
      returning project_id, mode
    ), created as (
      insert into transactions (project_id, mode, id, type, status, sub_status, quote_id, sender_customer_id, recipient_customer_id, metadata, client_context, settle_after, created_at, updated_at)
      select project_id, mode, ${row.id}, ${row.type}, ${row.status}, ${row.sub_status}, ${row.quote_id}, ${row.sender_customer_id}, ${row.recipient_customer_id},
             ${JSON.stringify(row.metadata)}::jsonb, ${JSON.stringify(row.client_context)}::jsonb, ${row.settle_after}::timestamptz, ${row.created_at}::timestamptz, ${row.updated_at}::timestamptz
        from accepted
      returning project_id, mode
    )
    insert into events (project_id, mode, id, type, data, created_at)
    select project_id, mode, ${event.id}::text, ${event.type}::text, ${event.data}::jsonb, ${event.createdAt}::timestamptz
      from created
    returning id`.execute(trx);
  return rows.length === 1;
}

export async function findTransaction(db: Db, scope: Scope, id: string): Promise<TransactionRecord | undefined> {
  return withQuote(db).where('t.project_id', '=', scope.projectId).where('t.mode', '=', scope.mode).where('t.id', '=', id).executeTakeFirst();
}

/** The project and mode a transaction belongs to, for operators, who name it by id alone. */
export async function findTransactionScope(db: Db, id: string): Promise<Scope | undefined> {
  const row = await db.selectFrom('transactions').select(['project_id', 'mode']).where('id', '=', id).executeTakeFirst();
  return row ? { projectId: row.project_id, mode: row.mode } : undefined;
}

export interface TransactionFilters {
  status?: TransactionsTable['status'] | undefined;
  type?: TransactionsTable['type'] | undefined;
  /** Sent or received by this customer. */
  customerId?: string | undefined;
}

/** One page (spec 1.7), newest first. */
export async function listTransactions(db: Db, scope: Scope, filters: TransactionFilters, page: PageRequest): Promise<TransactionRecord[]> {
  const { conditions, order, fetch } = keyset(page);
  let inner = db.selectFrom('transactions').selectAll().where('project_id', '=', scope.projectId).where('mode', '=', scope.mode);
  if (filters.status) inner = inner.where('status', '=', filters.status);
  if (filters.type) inner = inner.where('type', '=', filters.type);
  const customerId = filters.customerId;
  if (customerId !== undefined) inner = inner.where((eb) => eb.or([eb('sender_customer_id', '=', customerId), eb('recipient_customer_id', '=', customerId)]));
  for (const condition of conditions) inner = inner.where(condition);
  inner = inner.orderBy('created_at', order).orderBy('id', order).limit(fetch);
  return db
    .selectFrom(inner.as('t'))
    .innerJoin('quotes as q', (join) => join.onRef('q.project_id', '=', 't.project_id').onRef('q.mode', '=', 't.mode').onRef('q.id', '=', 't.quote_id'))
    .select(JOINED_COLUMNS)
    .orderBy('t.created_at', order)
    .orderBy('t.id', order)
    .execute();
}

/** A transaction claimed for settlement, with the ledger accounts its wallets name. */
export interface SettlementRecord extends TransactionRecord {
  project_id: string;
  mode: Mode;
  source_account_id: string;
  hold_account_id: string;
  fees_account_id: string;
  source_external_account_id: string;
  /** Null for a transfer to an outside address. */
  destination_account_id: string | null;
  destination_external_account_id: string | null;
}

type ClaimedRow = TransactionColumns & { project_id: string; mode: Mode };

const CLAIMED_COLUMNS = ['project_id', 'mode', ...COLUMNS] as const;

const key = (projectId: string, mode: string, id: string) => `${projectId}/${mode}/${id}`;

/**
 * Completes claimed rows with their quotes' prices and their wallets' accounts, reading each
 * table by primary key on its own. (One join over the four tables was planned from a young
 * table's statistics as a scan of every quote of the project for every claimed row: seconds
 * per claim once a few thousand transactions existed.)
 */
async function withParties(db: Db, rows: readonly ClaimedRow[]): Promise<SettlementRecord[]> {
  if (rows.length === 0) return [];
  const quotes = await db
    .selectFrom('quotes')
    .select(['project_id', 'mode', 'id', ...PRICED_COLUMNS])
    .where(({ eb, refTuple, tuple }) => eb(refTuple('project_id', 'mode', 'id'), 'in', rows.map((r) => tuple(r.project_id, r.mode, r.quote_id))))
    .execute();
  const quoteOf = new Map(quotes.map((q) => [key(q.project_id, q.mode, q.id), q]));
  const walletKeys = quotes.flatMap((q) => [q.source_wallet_id, q.destination_wallet_id].filter((id): id is string => id !== null).map((id) => [q.project_id, q.mode, id] as const));
  const wallets = await db
    .selectFrom('wallets')
    .select(['project_id', 'mode', 'id', 'ledger_account_id', 'hold_account_id', 'fees_account_id', 'external_account_id'])
    .where(({ eb, refTuple, tuple }) => eb(refTuple('project_id', 'mode', 'id'), 'in', walletKeys.map(([p, m, id]) => tuple(p, m, id))))
    .execute();
  const walletOf = new Map(wallets.map((w) => [key(w.project_id, w.mode, w.id), w]));
  return rows.map((row) => {
    const { project_id: _p, mode: _m, id: _id, ...quote } = quoteOf.get(key(row.project_id, row.mode, row.quote_id))!;
    const source = walletOf.get(key(row.project_id, row.mode, quote.source_wallet_id))!;
    const destination = quote.destination_wallet_id === null ? undefined : walletOf.get(key(row.project_id, row.mode, quote.destination_wallet_id));
    return {
      ...row,
      ...quote,
      source_account_id: source.ledger_account_id,
      hold_account_id: source.hold_account_id,
      fees_account_id: source.fees_account_id,
      source_external_account_id: source.external_account_id,
      destination_account_id: destination?.ledger_account_id ?? null,
      destination_external_account_id: destination?.external_account_id ?? null,
    };
  });
}

/**
 * Locks up to `limit` due transfers between wallets of this server, oldest due first, for the
 * caller's transaction, which settles them; rows another worker holds are skipped.
 * (A transfer inside the server is the one with a recipient customer.)
 */
export async function claimDueInternal(trx: Transaction<Database>, limit: number): Promise<SettlementRecord[]> {
  const rows = await trx
    .selectFrom('transactions')
    .select(CLAIMED_COLUMNS)
    .where('status', '=', 'processing')
    .where('settle_after', '<=', sql<Date>`now()`)
    .where('recipient_customer_id', 'is not', null)
    .orderBy('settle_after')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
  return withParties(trx, rows);
}

/**
 * Leases up to `limit` due transfers to outside addresses for `leaseSeconds`, in one
 * statement that commits before the chain is called: no lock is held across that call.
 */
export async function leaseDueOnChain(db: Db, limit: number, leaseSeconds: number): Promise<SettlementRecord[]> {
  const leased = await db
    .updateTable('transactions')
    .set({ locked_until: sql<Date>`now() + make_interval(secs => ${leaseSeconds})` })
    .where(({ eb, selectFrom, refTuple }) =>
      eb(
        refTuple('project_id', 'mode', 'id'),
        'in',
        selectFrom('transactions')
          .select(['project_id', 'mode', 'id'])
          .where('status', '=', 'processing')
          .where('recipient_customer_id', 'is', null)
          .where('settle_after', '<=', sql<Date>`now()`)
          .where((w) => w.or([w('locked_until', 'is', null), w('locked_until', '<', sql<Date>`now()`)]))
          .orderBy('settle_after')
          .limit(limit)
          .forUpdate()
          .skipLocked() as never,
      ),
    )
    .returning(CLAIMED_COLUMNS)
    .execute();
  return withParties(db, leased);
}

/** The transaction again, under its row lock, if it is still processing: what a worker or an operator finalizes. */
export async function lockProcessing(trx: Transaction<Database>, scope: Scope, id: string): Promise<SettlementRecord | undefined> {
  const rows = await trx
    .selectFrom('transactions')
    .select(CLAIMED_COLUMNS)
    .where('project_id', '=', scope.projectId)
    .where('mode', '=', scope.mode)
    .where('id', '=', id)
    .where('status', '=', 'processing')
    .forUpdate()
    .execute();
  return (await withParties(trx, rows))[0];
}

/**
 * Locks ledger accounts in id order, the order every posting takes them in, so a batch never
 * waits in a cycle. NO KEY UPDATE is what a balance update takes: enough to queue postings,
 * while the foreign-key checks of postings to these accounts (KEY SHARE) go on.
 */
export async function lockAccounts(trx: Transaction<Database>, accounts: readonly { projectId: string; mode: Mode; id: string }[]): Promise<void> {
  if (accounts.length === 0) return;
  await trx
    .selectFrom('ledger_accounts')
    .select('id')
    .where(({ eb, refTuple, tuple }) => eb(refTuple('project_id', 'mode', 'id'), 'in', accounts.map((a) => tuple(a.projectId, a.mode, a.id))))
    .orderBy('id')
    .forNoKeyUpdate()
    .execute();
}

export type Outcome = { status: 'completed' } | { status: 'failed'; code: string; message: string };

/** Ends the given transactions, each with its outcome, in one statement. */
export async function finalizeAll(trx: Transaction<Database>, scope: Scope, ended: readonly { id: string; outcome: Outcome }[], at: Date): Promise<void> {
  const failure = (o: Outcome) => (o.status === 'failed' ? o : undefined);
  await sql`
    update transactions t
       set status = u.status, sub_status = null, locked_until = null, updated_at = ${at},
           completed_at = case when u.status = 'completed' then ${at}::timestamptz end,
           failure_code = u.code, failure_message = u.message
      from unnest(${ended.map((e) => e.id)}::text[], ${ended.map((e) => e.outcome.status)}::text[],
                  ${ended.map((e) => failure(e.outcome)?.code ?? null)}::text[], ${ended.map((e) => failure(e.outcome)?.message ?? null)}::text[]) as u(id, status, code, message)
     where t.project_id = ${scope.projectId} and t.mode = ${scope.mode} and t.id = u.id`.execute(trx);
}

/** Records what the chain said short of an outcome (submitted, still pending) and when to look again; releases the lease. */
export async function reschedule(
  db: Db,
  scope: Scope,
  id: string,
  next: { settleAfter: Date; subStatus: string; submission?: { txHash: string; at: Date } },
): Promise<void> {
  await db
    .updateTable('transactions')
    .set({
      settle_after: next.settleAfter,
      sub_status: next.subStatus,
      locked_until: null,
      ...(next.submission ? { tx_hash: next.submission.txHash, submitted_at: next.submission.at, updated_at: next.submission.at } : {}),
    })
    .where('project_id', '=', scope.projectId)
    .where('mode', '=', scope.mode)
    .where('id', '=', id)
    .where('status', '=', 'processing')
    .execute();
}
