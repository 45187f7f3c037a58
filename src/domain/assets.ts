import { readFileSync } from 'node:fs';
import path from 'node:path';
import Type, { type Static } from 'typebox';
import { Value } from 'typebox/value';
import { packageRoot } from '../package-root.js';
import { DomainError } from './errors.js';

/**
 * The (asset, chain) pairs custody supports (spec 4.3), from a JSON file: the bundled
 * data/assets.json or OMS_ASSETS_FILE. Read and validated once at start.
 */
const AssetsFile = Type.Object({
  assets: Type.Record(
    Type.String({ pattern: '^[a-z0-9]{2,12}$' }),
    Type.Object({
      priceUsd: Type.String({ pattern: '^(0|[1-9]\\d*)(\\.\\d+)?$' }),
      chains: Type.Record(
        Type.String({ pattern: '^[a-z0-9-]{2,20}$' }),
        Type.Object({ contract: Type.String({ pattern: '^0x[0-9a-fA-F]{40}$' }), decimals: Type.Integer({ minimum: 0, maximum: 18 }) }),
        { additionalProperties: false },
      ),
    }),
    { additionalProperties: false },
  ),
});

export interface AssetOnChain {
  asset: string;
  chain: string;
  contract: string;
  decimals: number;
  priceUsd: string;
}

export interface AssetCatalogue {
  find(asset: string, chain: string): AssetOnChain | undefined;
  priceUsd(asset: string): string | undefined;
  /** The decimals of the supported pair that has the fewest: what an amount valid for every pair may carry. */
  fewestDecimals(): number;
}

/** The pair, or 422 unsupported_asset naming it (and where in the request it was named, when given). */
export function supportedPair(catalogue: AssetCatalogue, asset: string, chain: string, where?: string): AssetOnChain {
  const found = catalogue.find(asset, chain);
  if (!found) throw new DomainError('unsupported_asset', `${where ? `${where}: ` : ''}${asset} on ${chain} is not supported`);
  return found;
}

const BUNDLED_ASSETS = path.join(packageRoot, 'data', 'assets.json');

export function readAssetCatalogue(file = BUNDLED_ASSETS): AssetCatalogue {
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!Value.Check(AssetsFile, parsed)) {
    const first = [...Value.Errors(AssetsFile, parsed)][0];
    throw new Error(`${file}: ${first?.instancePath ?? ''} ${first?.message ?? 'invalid'}`);
  }
  const { assets } = parsed as Static<typeof AssetsFile>;
  return {
    find(asset, chain) {
      const entry = Object.hasOwn(assets, asset) ? assets[asset] : undefined;
      const onChain = entry && Object.hasOwn(entry.chains, chain) ? entry.chains[chain] : undefined;
      return entry && onChain ? { asset, chain, contract: onChain.contract, decimals: onChain.decimals, priceUsd: entry.priceUsd } : undefined;
    },
    priceUsd: (asset) => (Object.hasOwn(assets, asset) ? assets[asset]!.priceUsd : undefined),
    fewestDecimals: () => Math.min(...Object.values(assets).flatMap((entry) => Object.values(entry.chains).map((onChain) => onChain.decimals))),
  };
}
