import { describe, expect, it } from 'vitest';
import type { AssetCatalogue } from '../src/domain/assets.js';
import { valueHolding } from '../src/modules/wallets/valuation.js';

const catalogue = (prices: Record<string, string>): AssetCatalogue => ({ find: () => undefined, priceUsd: (asset) => prices[asset], fewestDecimals: () => 6 });

describe('valueHolding', () => {
  it.each([
    ['2.5', 6, '0.999', '2.500000', '2.50'],
    ['2.4949', 4, '1', '2.4949', '2.49'],
    ['1.005', 3, '1', '1.005', '1.01'],
    ['0', 6, '1.00', '0.000000', '0.00'],
    ['123456789012.123456', 6, '3000.5', '123456789012.123456', '370432095430876.43'],
  ])('values %s (scale %i) at %s USD as %s / %s, exactly, half up to the cent', (balance, scale, price, shown, usd) => {
    expect(valueHolding(catalogue({ usdc: price }), 'usdc', balance, scale)).toEqual({ balance: shown, estimatedValueUsd: usd });
  });

  it('refuses to invent a price for an asset the catalogue no longer lists', () => {
    expect(() => valueHolding(catalogue({}), 'gone', '1', 6)).toThrow(/no USD price for gone/);
  });
});
