import { readFileSync } from 'node:fs';
import path from 'node:path';
import Type, { type Static } from 'typebox';
import { Value } from 'typebox/value';
import { packageRoot } from '../package-root.js';
import { fromUnits, isZero, toUnits } from '../ledger/decimal-amount.js';
import { normalizeDecimal, type FeeSchedule } from './quote-pricing.js';

/**
 * Exchange rates and fee schedules, from a JSON file: the bundled data/pricing.json or
 * OMS_PRICING_FILE. Read and validated once at start; a rate's spread is applied here, so
 * the rest of the code sees the rate a customer gets.
 */
const Decimal = Type.String({ pattern: '^(0|[1-9]\\d*)(\\.\\d+)?$' });
const Fees = Type.Object({ cryptoToCrypto: Type.Object({ percentage: Decimal, fixed: Decimal }, { additionalProperties: false }) }, { additionalProperties: false });
const PricingFile = Type.Object({
  '//': Type.Optional(Type.String()),
  rates: Type.Array(Type.Object({ from: Type.String(), to: Type.String(), rate: Decimal, spread: Decimal }, { additionalProperties: false })),
  fees: Fees,
  projects: Type.Record(Type.String({ pattern: '^prj_[0-9a-z]{26}$' }), Type.Object({ fees: Fees }, { additionalProperties: false }), { additionalProperties: false }),
}, { additionalProperties: false });

export type QuoteType = keyof Static<typeof Fees>;

export interface PricingTable {
  /** Units of `to` per unit of `from`, spread included; undefined when the pair is not offered. */
  exchangeRate(from: string, to: string): string | undefined;
  fee(projectId: string, type: QuoteType): FeeSchedule;
}

const BUNDLED_PRICING = path.join(packageRoot, 'data', 'pricing.json');

/** rate × (1 − spread), exactly. */
function withSpread(rate: string, spread: string): string {
  const r = toUnits(rate);
  const s = toUnits(spread);
  return normalizeDecimal(fromUnits(r.units * (10n ** BigInt(s.scale) - s.units), r.scale + s.scale));
}

const isBelow = (value: string, limit: bigint): boolean => {
  const { units, scale } = toUnits(value);
  return units < limit * 10n ** BigInt(scale);
};

/**
 * `feeDecimals`: how many decimals a fixed fee may have. A fixed fee is charged in whatever the
 * source asset is, so it must fit the supported asset with the fewest (the server passes
 * `AssetCatalogue.fewestDecimals()`); one that does not is refused here, at start, rather
 * than failing every quote it would price.
 */
export function readPricingTable(file = BUNDLED_PRICING, { feeDecimals }: { feeDecimals: number } = { feeDecimals: 18 }): PricingTable {
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  const problem = (where: string, message: string) => new Error(`${file}: ${where} ${message}`);
  if (!Value.Check(PricingFile, parsed)) {
    const first = [...Value.Errors(PricingFile, parsed)][0];
    throw problem(first?.instancePath ?? '', first?.message ?? 'invalid');
  }
  const pricing = parsed as Static<typeof PricingFile>;
  const rates = new Map<string, string>();
  pricing.rates.forEach((entry, i) => {
    if (!isBelow(entry.spread, 1n)) throw problem(`/rates/${i}/spread`, 'must be below 1');
    const rate = withSpread(entry.rate, entry.spread);
    if (isZero(rate)) throw problem(`/rates/${i}/rate`, 'must be above 0');
    rates.set(`${entry.from}/${entry.to}`, rate);
  });
  const checkFees = (fees: Static<typeof Fees>, where: string) => {
    for (const [type, schedule] of Object.entries(fees)) {
      if (!isBelow(schedule.percentage, 100n)) throw problem(`${where}/${type}/percentage`, 'must be below 100');
      if (toUnits(schedule.fixed).scale > feeDecimals) throw problem(`${where}/${type}/fixed`, `has more than ${feeDecimals} decimals, more than a supported asset has`);
    }
  };
  checkFees(pricing.fees, '/fees');
  for (const [projectId, project] of Object.entries(pricing.projects)) checkFees(project.fees, `/projects/${projectId}/fees`);

  return {
    exchangeRate: (from, to) => (from === to ? '1' : rates.get(`${from}/${to}`)),
    fee: (projectId, type) => (Object.hasOwn(pricing.projects, projectId) ? pricing.projects[projectId]!.fees : pricing.fees)[type],
  };
}
