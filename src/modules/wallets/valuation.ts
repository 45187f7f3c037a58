import type { AssetCatalogue } from '../../domain/assets.js';
import { formatAmount, multiply } from '../../ledger/decimal-amount.js';

export const USD_DECIMALS = 2;

export interface Valuation {
  /** The ledger balance at the asset's precision. */
  balance: string;
  /** The balance at the catalogue's USD price, to the cent (rounded half up). */
  estimatedValueUsd: string;
}

/** What a wallet holds and what it is worth: the one place balances meet the price table. */
export function valueHolding(assets: AssetCatalogue, asset: string, balance: string, scale: number): Valuation {
  const price = assets.priceUsd(asset);
  // The catalogue is read at start; a wallet of an asset it no longer lists is a configuration error.
  if (price === undefined) throw new Error(`the asset catalogue has no USD price for ${asset}`);
  const formatted = formatAmount(balance, scale);
  return { balance: formatted, estimatedValueUsd: multiply(formatted, price, USD_DECIMALS) };
}
