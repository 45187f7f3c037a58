import type { Transaction } from 'kysely';
import type { Db } from '../../db/database.js';
import type { Database, WalletsTable } from '../../db/schema.js';
import type { Scope } from '../../domain/scope.js';
import { keyset, type PageRequest } from '../../http/pagination.js';

/** SQL for wallets, each with its ledger balance; every query is confined to one scope. */

export interface WalletRow {
  id: string;
  customer_id: string;
  asset: string;
  chain: string;
  address: string;
  status: WalletsTable['status'];
  type: WalletsTable['type'];
  created_at: Date;
  updated_at: Date;
  ledger_account_id: string;
  external_account_id: string;
  hold_account_id: string;
  fees_account_id: string;
  /** The wallet's ledger account balance, NUMERIC text, and its asset's decimals. */
  balance: string;
  scale: number;
}

function withBalances(db: Db, scope: Scope) {
  return db
    .selectFrom('wallets as w')
    .innerJoin('ledger_accounts as a', (join) =>
      join.onRef('a.project_id', '=', 'w.project_id').onRef('a.mode', '=', 'w.mode').onRef('a.id', '=', 'w.ledger_account_id'),
    )
    .select([
      'w.id',
      'w.customer_id',
      'w.asset',
      'w.chain',
      'w.address',
      'w.status',
      'w.type',
      'w.ledger_account_id',
      'w.external_account_id',
      'w.hold_account_id',
      'w.fees_account_id',
      'w.created_at',
      'w.updated_at',
      'a.balance',
      'a.scale',
    ])
    // A wallet's account caches its balance: only the outside world's accounts do not.
    .$narrowType<{ balance: string }>()
    .where('w.project_id', '=', scope.projectId)
    .where('w.mode', '=', scope.mode);
}

export async function findWallet(db: Db, scope: Scope, id: string, options: { forUpdate?: boolean } = {}): Promise<WalletRow | undefined> {
  const query = withBalances(db, scope).where('w.id', '=', id);
  return (options.forUpdate ? query.forUpdate('w') : query).executeTakeFirst();
}

/** The project and mode a wallet belongs to, for operators, who name it by id alone. */
export async function findWalletScope(db: Db, id: string): Promise<Scope | undefined> {
  const row = await db.selectFrom('wallets').select(['project_id', 'mode']).where('id', '=', id).executeTakeFirst();
  return row ? { projectId: row.project_id, mode: row.mode } : undefined;
}

export async function setWalletStatus(trx: Transaction<Database>, scope: Scope, id: string, status: WalletsTable['status'], at: Date): Promise<void> {
  await trx.updateTable('wallets').set({ status, updated_at: at }).where('project_id', '=', scope.projectId).where('mode', '=', scope.mode).where('id', '=', id).execute();
}

/** All of a customer's wallets with their balances, newest first (a customer has a handful at most). */
export async function customerWalletsWithBalances(db: Db, scope: Scope, customerId: string): Promise<WalletRow[]> {
  return withBalances(db, scope).where('w.customer_id', '=', customerId).orderBy('w.created_at', 'desc').orderBy('w.id', 'desc').execute();
}

export type WalletListRow = Omit<WalletRow, 'ledger_account_id' | 'external_account_id' | 'hold_account_id' | 'fees_account_id' | 'balance' | 'scale'>;

/** One page of a customer's wallets (spec 1.7), without balances. */
export async function listCustomerWallets(db: Db, scope: Scope, customerId: string, page: PageRequest): Promise<WalletListRow[]> {
  const { conditions, order, fetch } = keyset(page);
  let query = db
    .selectFrom('wallets')
    .select(['id', 'customer_id', 'asset', 'chain', 'address', 'status', 'type', 'created_at', 'updated_at'])
    .where('project_id', '=', scope.projectId)
    .where('mode', '=', scope.mode)
    .where('customer_id', '=', customerId);
  for (const condition of conditions) query = query.where(condition);
  return query.orderBy('created_at', order).orderBy('id', order).limit(fetch).execute();
}

export async function insertWallet(
  trx: Transaction<Database>,
  scope: Scope,
  wallet: {
    id: string;
    customerId: string;
    asset: string;
    chain: string;
    address: string;
    ledgerAccountId: string;
    externalAccountId: string;
    holdAccountId: string;
    feesAccountId: string;
    at: Date;
  },
): Promise<void> {
  await trx
    .insertInto('wallets')
    .values({
      project_id: scope.projectId,
      mode: scope.mode,
      id: wallet.id,
      customer_id: wallet.customerId,
      asset: wallet.asset,
      chain: wallet.chain,
      address: wallet.address,
      status: 'active',
      type: 'internal',
      ledger_account_id: wallet.ledgerAccountId,
      external_account_id: wallet.externalAccountId,
      hold_account_id: wallet.holdAccountId,
      fees_account_id: wallet.feesAccountId,
      created_at: wallet.at,
      updated_at: wallet.at,
    })
    .execute();
}
