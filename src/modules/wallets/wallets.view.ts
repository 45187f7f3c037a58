import { isoTimestamp } from '../../http/schema-helpers.js';
import type { WalletView } from './wallets.schemas.js';
import type { WalletListRow } from './wallets.repo.js';

export function toWalletView(row: WalletListRow): WalletView {
  return {
    id: row.id,
    object: 'wallet',
    customerId: row.customer_id,
    address: row.address,
    asset: row.asset,
    chain: row.chain,
    status: row.status,
    type: row.type,
    createdAt: isoTimestamp(row.created_at),
    updatedAt: isoTimestamp(row.updated_at),
  };
}
