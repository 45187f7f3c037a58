import { randomBytes } from 'node:crypto';
import type { Custody } from '../../custody/custody.js';
import type { Db } from '../../db/database.js';
import { isUniqueViolation } from '../../db/errors.js';
import { inTransaction } from '../../db/transactions.js';
import { supportedPair, type AssetCatalogue } from '../../domain/assets.js';
import { DomainError, notFound } from '../../domain/errors.js';
import { assertId, newId } from '../../domain/ids.js';
import type { Scope } from '../../domain/scope.js';
import { parsePageQuery, toPage, type Page } from '../../http/pagination.js';
import { isoTimestamp } from '../../http/schema-helpers.js';
import { eventsInsert, newEvent, recordEvents } from '../../events/outbox.js';
import { formatAmount, parsePositiveAmount, sum } from '../../ledger/decimal-amount.js';
import * as ledger from '../../ledger/ledger.js';
import * as customers from '../customers/customers.repo.js';
import type { Static } from 'typebox';
import type { CustomerBalance, Deposit, WalletBalance, WalletCreateBody, WalletListQueryParams, WalletView } from './wallets.schemas.js';
import * as repo from './wallets.repo.js';
import { USD_DECIMALS, valueHolding } from './valuation.js';
import { toWalletView } from './wallets.view.js';

/**
 * Custodial wallets (spec 4): an address from custody, money in the ledger. Creation and
 * deposits write the wallet or the ledger entry and their event in the caller's transaction.
 */
export interface WalletsService {
  create(db: Db, scope: Scope, customerId: string, body: WalletCreateBody): Promise<WalletView>;
  get(db: Db, scope: Scope, id: string): Promise<WalletView>;
  listForCustomer(db: Db, scope: Scope, customerId: string, query: WalletListQueryParams): Promise<Page<WalletView>>;
  balance(db: Db, scope: Scope, id: string): Promise<Static<typeof WalletBalance>>;
  customerBalance(db: Db, scope: Scope, customerId: string): Promise<Static<typeof CustomerBalance>>;
  sandboxDeposit(db: Db, scope: Scope, walletId: string, amount: string): Promise<Static<typeof Deposit>>;
}

export function createWalletsService({ custody, assets }: { custody: Custody; assets: AssetCatalogue }): WalletsService {
  async function walletOrThrow(db: Db, scope: Scope, id: string): Promise<repo.WalletRow> {
    assertId('wallet', id);
    const wallet = await repo.findWallet(db, scope, id);
    if (!wallet) throw notFound('wallet');
    return wallet;
  }

  function valued(row: repo.WalletRow) {
    const { balance, estimatedValueUsd } = valueHolding(assets, row.asset, row.balance, row.scale);
    return { balance, estimatedValue: estimatedValueUsd };
  }

  return {
    create: (db, scope, customerId, body) =>
      inTransaction(db, async (trx) => {
        assertId('customer', customerId);
        const pair = supportedPair(assets, body.asset, body.chain);
        // Locked, so a concurrent offboarding or revocation cannot slip between the checks and the insert.
        const customer = await customers.findCustomer(trx, scope, customerId, { forUpdate: true });
        if (!customer) throw notFound('customer');
        if (customer.row.status !== 'active') throw new DomainError('customer_inactive', 'the customer is inactive and can open no wallet');
        if (customer.endorsements.find((e) => e.name === 'cryptoCustody')?.status !== 'ACTIVE') {
          throw new DomainError('endorsement_required', 'the cryptoCustody endorsement must be ACTIVE to open a wallet');
        }
        const id = newId('wallet');
        const at = new Date();
        const address = await custody.evmAddressOf(trx, scope, customerId);
        const accounts = new Map<ledger.AccountKind, ledger.AccountRef>();
        for (const kind of ['wallet', 'in_flight', 'external', 'fees'] as const) {
          const walletId = kind === 'wallet' || kind === 'in_flight' ? id : null;
          accounts.set(kind, await ledger.ensureAccount(trx, scope, { kind, asset: pair.asset, chain: pair.chain, walletId, scale: pair.decimals }));
        }
        try {
          await repo.insertWallet(trx, scope, {
            id,
            customerId,
            asset: pair.asset,
            chain: pair.chain,
            address,
            ledgerAccountId: accounts.get('wallet')!.id,
            externalAccountId: accounts.get('external')!.id,
            holdAccountId: accounts.get('in_flight')!.id,
            feesAccountId: accounts.get('fees')!.id,
            at,
          });
        } catch (err) {
          if (isUniqueViolation(err, 'wallets_project_id_mode_customer_id_asset_chain_key')) {
            throw new DomainError('conflict', `the customer already has a ${pair.asset} wallet on ${pair.chain}`);
          }
          throw err;
        }
        const wallet = toWalletView({ id, customer_id: customerId, asset: pair.asset, chain: pair.chain, address, status: 'active', type: 'internal', created_at: at, updated_at: at });
        await recordEvents(trx, scope, [newEvent('wallet.created', wallet, at)]);
        return wallet;
      }),

    async get(db, scope, id) {
      return toWalletView(await walletOrThrow(db, scope, id));
    },

    async listForCustomer(db, scope, customerId, query) {
      assertId('customer', customerId);
      const page = parsePageQuery(query, 'wallet');
      if (!(await customers.customerExists(db, scope, customerId))) throw notFound('customer');
      return toPage(await repo.listCustomerWallets(db, scope, customerId, page), page, toWalletView);
    },

    async balance(db, scope, id) {
      const wallet = await walletOrThrow(db, scope, id);
      return { object: 'walletBalance', walletId: wallet.id, asset: wallet.asset, chain: wallet.chain, ...valued(wallet), currency: 'USD' };
    },

    async customerBalance(db, scope, customerId) {
      assertId('customer', customerId);
      if (!(await customers.customerExists(db, scope, customerId))) throw notFound('customer');
      const balances = (await repo.customerWalletsWithBalances(db, scope, customerId)).map((w) => ({ walletId: w.id, asset: w.asset, network: w.chain, ...valued(w) }));
      return {
        object: 'customerBalance',
        customerId,
        currency: 'USD',
        estimatedBalance: sum(balances.map((b) => b.estimatedValue), USD_DECIMALS),
        balances,
      };
    },

    sandboxDeposit: (db, scope, walletId, amount) =>
      inTransaction(db, async (trx) => {
        // A closed wallet's ledger account accepts nothing: the posting below is refused with 409.
        const wallet = await walletOrThrow(trx, scope, walletId);
        const decimals = wallet.scale;
        const credited = parsePositiveAmount(amount, decimals);
        const txHash = `0x${randomBytes(32).toString('hex')}`;
        const at = new Date();
        const deposit = { amount: formatAmount(credited, decimals), txHash };
        const world = { id: wallet.external_account_id, asset: wallet.asset };
        const account = { id: wallet.ledger_account_id, asset: wallet.asset };
        const detected = eventsInsert(trx, scope, [newEvent('wallet.depositDetected', toWalletView(wallet), at, { deposit })]);
        const posted = await ledger.post(trx, scope, ledger.transfer('deposit', world, account, credited, txHash), at, detected);
        const balance = posted.balances.get(account.id)!;
        return {
          object: 'deposit',
          walletId: wallet.id,
          asset: wallet.asset,
          chain: wallet.chain,
          ...deposit,
          balance: formatAmount(balance, decimals),
          createdAt: isoTimestamp(at),
        };
      }),
  };
}
