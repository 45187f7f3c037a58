import type { Db } from '../../db/database.js';
import type { AccountAccepts, WalletsTable } from '../../db/schema.js';
import { inTransaction } from '../../db/transactions.js';
import { DomainError, notFound } from '../../domain/errors.js';
import type { Scope } from '../../domain/scope.js';
import { isoTimestamp } from '../../http/schema-helpers.js';
import { formatAmount, isZero } from '../../ledger/decimal-amount.js';
import * as ledger from '../../ledger/ledger.js';
import type { WalletView } from '../wallets/wallets.schemas.js';
import * as wallets from '../wallets/wallets.repo.js';
import { toWalletView } from '../wallets/wallets.view.js';
import { recordAudit } from './operator.repo.js';
import type { WalletPostingsView } from './operator.schemas.js';
import { scopeById } from './scope-by-id.js';

/**
 * The operator's hold on a wallet. Its status and what its ledger account accepts change
 * together, in one transaction under the wallet's row lock: a suspended wallet's account takes
 * credits only, a closed one's nothing, and the database refuses any other posting. Audited.
 */
export const WALLET_ACTIONS = ['suspend', 'reactivate', 'close'] as const;
export type WalletAction = (typeof WALLET_ACTIONS)[number];

type WalletStatus = WalletsTable['status'];

const ACTIONS: Record<WalletAction, { from: readonly WalletStatus[]; to: WalletStatus; accepts: AccountAccepts; audit: string }> = {
  suspend: { from: ['active'], to: 'suspended', accepts: 'credits', audit: 'suspendWallet' },
  reactivate: { from: ['suspended'], to: 'active', accepts: 'all', audit: 'reactivateWallet' },
  close: { from: ['active', 'suspended'], to: 'closed', accepts: 'nothing', audit: 'closeWallet' },
};

export interface WalletOperations {
  act(operator: string, walletId: string, action: WalletAction, reason: string): Promise<WalletView>;
  postings(walletId: string, page: { limit: number; before?: string | undefined }): Promise<WalletPostingsView>;
}

export function createWalletOperations({ db }: { db: Db }): WalletOperations {
  const scopeOf = (id: string): Promise<Scope> => scopeById('wallet', id, (id) => wallets.findWalletScope(db, id));

  return {
    async act(operator, walletId, action, reason) {
      const scope = await scopeOf(walletId);
      const { from, to, accepts, audit } = ACTIONS[action];
      return inTransaction(db, async (trx) => {
        const wallet = await wallets.findWallet(trx, scope, walletId, { forUpdate: true });
        if (!wallet) throw notFound('wallet');
        if (!from.includes(wallet.status)) {
          throw new DomainError('conflict', `the wallet is ${wallet.status}: only a wallet that is ${from.join(' or ')} can ${action}`);
        }
        const refused = await ledger.setAccepts(trx, scope, wallet.ledger_account_id, accepts, { onlyIfEmpty: action === 'close' });
        if (refused) throw new DomainError('conflict', `the wallet holds ${formatAmount(refused.refusedAt, wallet.scale)} ${wallet.asset}; it closes only when empty`);
        if (action === 'close') {
          // Read after the wallet account is locked: a send created before it is committed and seen here.
          const held = (await ledger.findAccount(trx, scope, wallet.hold_account_id))?.balance ?? '0';
          if (!isZero(held)) throw new DomainError('conflict', `${formatAmount(held, wallet.scale)} ${wallet.asset} of the wallet is held for transactions in flight; it closes once they settle`);
        }
        const at = new Date();
        await wallets.setWalletStatus(trx, scope, walletId, to, at);
        await recordAudit(trx, scope, { operator, action: audit, customerId: wallet.customer_id, reason, detail: { walletId, from: wallet.status, to } }, at);
        return toWalletView({ ...wallet, status: to, updated_at: at });
      });
    },

    async postings(walletId, page) {
      const scope = await scopeOf(walletId);
      const wallet = await wallets.findWallet(db, scope, walletId);
      if (!wallet) throw notFound('wallet');
      const lines = await ledger.accountPostings(db, scope, wallet.ledger_account_id, { limit: page.limit + 1, before: page.before });
      const shown = lines.slice(0, page.limit);
      const amount = (value: string) => formatAmount(value, wallet.scale);
      return {
        object: 'list',
        walletId,
        projectId: scope.projectId,
        mode: scope.mode,
        asset: wallet.asset,
        chain: wallet.chain,
        balance: amount(wallet.balance),
        data: shown.map((line) => ({
          entryId: line.entry_id,
          kind: line.kind,
          reference: line.reference,
          amount: amount(line.amount),
          createdAt: isoTimestamp(line.created_at),
          counterparts: line.counterparts.map((c) => ({ accountKind: c.accountKind, walletId: c.walletId, amount: amount(c.amount) })),
        })),
        hasMore: lines.length > page.limit,
      };
    },
  };
}
