import type { AssetCatalogue } from '../../domain/assets.js';
import { isoTimestamp } from '../../http/schema-helpers.js';
import type { WalletHoldingRow } from '../customers/customers.repo.js';
import type { CustomerWalletView } from '../customers/customers.schemas.js';
import { valueHolding } from './valuation.js';
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

/** The customer object's flat view of its wallets (spec 2.1), valued at the catalogue's prices. */
export function toCustomerWallets(holdings: readonly WalletHoldingRow[], assets: AssetCatalogue): CustomerWalletView[] {
  return holdings.map((holding) => toCustomerWallet(holding, assets));
}

function toCustomerWallet(holding: WalletHoldingRow, assets: AssetCatalogue): CustomerWalletView {
  const { balance, estimatedValueUsd } = valueHolding(assets, holding.asset, holding.balance, holding.scale);
  return {
    id: holding.id,
    type: 'custodial',
    address: holding.address,
    network: holding.chain,
    asset: holding.asset,
    balance,
    estimatedValueUsd,
    createdAt: isoTimestamp(holding.created_at),
  };
}
