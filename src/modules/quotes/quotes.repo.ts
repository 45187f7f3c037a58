import { sql, type Selectable } from 'kysely';
import type { Db } from '../../db/database.js';
import type { QuotesTable } from '../../db/schema.js';
import type { Scope } from '../../domain/scope.js';

/** SQL for quotes; every query is confined to one scope. Amounts are stored at their asset's decimals and read back as written. */

export type QuoteRow = Omit<Selectable<QuotesTable>, 'project_id' | 'mode'>;

/** What a quote fixed that its transaction shows and settles by: the priced parts (spec 5.1, 5.2). */
export const PRICED_COLUMNS = [
  'source_wallet_id',
  'source_asset',
  'source_network',
  'source_amount_gross',
  'source_fees',
  'source_amount_net',
  'destination_asset',
  'destination_network',
  'destination_amount_gross',
  'destination_fees',
  'destination_amount_net',
  'destination_wallet_id',
  'destination_address',
  'exchange_rate',
  'effective_rate',
  'fixed_amount_side',
] as const satisfies readonly (keyof QuoteRow)[];

export type PricedColumns = Pick<QuoteRow, (typeof PRICED_COLUMNS)[number]>;

export type NewQuote = Omit<QuoteRow, 'status' | 'accepted_at' | 'metadata'> & { metadata: Record<string, string> };

export async function insertQuote(db: Db, scope: Scope, quote: NewQuote): Promise<void> {
  await db
    .insertInto('quotes')
    .values({ ...quote, project_id: scope.projectId, mode: scope.mode, status: 'open', accepted_at: null, metadata: JSON.stringify(quote.metadata) })
    .execute();
}

export async function findQuote(db: Db, scope: Scope, id: string): Promise<QuoteRow | undefined> {
  return db.selectFrom('quotes').selectAll().where('project_id', '=', scope.projectId).where('mode', '=', scope.mode).where('id', '=', id).executeTakeFirst();
}

export interface PartyWallet {
  id: string;
  customer_id: string;
  asset: string;
  chain: string;
  status: string;
}

/** Who a quote is between, in one read: the customer's status, the source wallet and the destination wallet (when named), in this scope. */
export async function findParties(
  db: Db,
  scope: Scope,
  ids: { customerId: string; sourceWalletId: string; destinationWalletId: string | null },
): Promise<{ customerStatus: string; source: PartyWallet | null; destination: PartyWallet | null } | undefined> {
  const { rows } = await sql<{ customer_status: string; source: PartyWallet | null; destination: PartyWallet | null }>`
    select c.status as customer_status,
           case when sw.id is null then null else json_build_object('id', sw.id, 'customer_id', sw.customer_id, 'asset', sw.asset, 'chain', sw.chain, 'status', sw.status) end as source,
           case when dw.id is null then null else json_build_object('id', dw.id, 'customer_id', dw.customer_id, 'asset', dw.asset, 'chain', dw.chain, 'status', dw.status) end as destination
      from customers c
      left join wallets sw on (sw.project_id, sw.mode, sw.id) = (c.project_id, c.mode, ${ids.sourceWalletId})
      left join wallets dw on (dw.project_id, dw.mode, dw.id) = (c.project_id, c.mode, ${ids.destinationWalletId})
     where c.project_id = ${scope.projectId} and c.mode = ${scope.mode} and c.id = ${ids.customerId}`.execute(db);
  const row = rows[0];
  return row && { customerStatus: row.customer_status, source: row.source, destination: row.destination };
}
