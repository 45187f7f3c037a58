/**
 * Quote pricing, pure: no database, no HTTP.
 *
 * Proves the rules in the header of src/pricing/quote-pricing.ts and the contract of
 * src/pricing/pricing-table.ts:
 *  - hand-computed fixed-source and fixed-destination quotes at scales 0, 2, 6 and 18, with
 *    percentage + fixed fees, spreads, truncation on conversion and half-up effective rates;
 *  - properties (fast-check) over random amounts, rates, fees and scales: gross = net + fee,
 *    the fee is the percentage rounded up plus the fixed fee, source.amountNet × exchangeRate
 *    truncated to the destination's decimals is destination.amountGross, a fixed destination is
 *    met exactly with a minimal source (or refused only when no source amount can meet it),
 *    fixed source and fixed destination agree with each other, and every amount is a string
 *    with exactly its asset's decimals;
 *  - the pricing table file: spread applied exactly, fee schedules with per-project overrides,
 *    the bundled data/pricing.json, and refusal of invalid files.
 *
 * Expected values are computed with BigInt on integer units; no amount ever becomes a float.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAssetCatalogue } from '../src/domain/assets.js';
import { DomainError } from '../src/domain/errors.js';
import { readPricingTable } from '../src/pricing/pricing-table.js';
import { normalizeDecimal, priceQuote, type Priced, type PricingRequest } from '../src/pricing/quote-pricing.js';

// ---------------------------------------------------------------------------------------------
// Exact decimal helpers for the test's own expectations (BigInt only)
// ---------------------------------------------------------------------------------------------

const pow10 = (n: number): bigint => 10n ** BigInt(n);

/** A non-negative decimal string as the exact fraction num / den. */
function fraction(value: string): { num: bigint; den: bigint } {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(value);
  if (!match) throw new Error(`test helper: not a decimal: ${value}`);
  const decimals = match[2] ?? '';
  return { num: BigInt(match[1]! + decimals), den: pow10(decimals.length) };
}

/** Integer units at `scale` of a decimal string with at most `scale` significant decimals. */
function unitsOf(value: string, scale: number): bigint {
  const { num, den } = fraction(value);
  const scaled = num * pow10(scale);
  if (scaled % den !== 0n) throw new Error(`test helper: ${value} has more than ${scale} decimals`);
  return scaled / den;
}

/** Units as a decimal string with exactly `scale` decimals. */
function text(units: bigint, scale: number): string {
  if (scale === 0) return units.toString();
  const digits = units.toString().padStart(scale + 1, '0');
  return `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

/** Units as the shortest decimal string (no trailing zeros after the point). */
function shortText(units: bigint, scale: number): string {
  const full = text(units, scale);
  return full.includes('.') ? full.replace(/0+$/, '').replace(/\.$/, '') : full;
}

const sameValue = (a: string, b: string): boolean => {
  const x = fraction(a);
  const y = fraction(b);
  return x.num * y.den === y.num * x.den;
};

/** A string with exactly `scale` decimals and no superfluous leading zero. */
const amountPattern = (scale: number): RegExp => (scale === 0 ? /^(0|[1-9]\d*)$/ : new RegExp(`^(0|[1-9]\\d*)\\.\\d{${scale}}$`));

/** The fee rule, from the header: percentage % of gross rounded up to a unit, plus the fixed fee. */
function feeRule(gross: bigint, percentage: string, fixedUnits: bigint): bigint {
  const p = fraction(percentage);
  // smallest integer u with u ≥ gross × p / 100, found by inequality rather than a shared formula
  let u = (gross * p.num) / (p.den * 100n);
  if (u * p.den * 100n < gross * p.num) u += 1n;
  return u + fixedUnits;
}

/** Conversion rule: net × rate, truncated to destination units. */
function convertRule(net: bigint, rate: string, ss: number, ds: number): bigint {
  const r = fraction(rate);
  return (net * r.num * pow10(ds)) / (r.den * pow10(ss));
}

function request(partial: Partial<PricingRequest> & Pick<PricingRequest, 'fixedSide' | 'amount'>): PricingRequest {
  return { sourceScale: 6, destinationScale: 6, exchangeRate: '1', fee: { percentage: '0.1', fixed: '0' }, ...partial };
}

/** The price, or the DomainError it was refused with; anything else is rethrown. */
function attempt(req: PricingRequest): Priced | DomainError {
  try {
    return priceQuote(req);
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
}

function expectRefused(req: PricingRequest, where: '/source/amount' | '/destination/amount'): DomainError {
  const outcome = attempt(req);
  expect(outcome).toBeInstanceOf(DomainError);
  const error = outcome as DomainError;
  expect(error.code).toBe('validation_error');
  expect(error.details?.[0]?.path).toBe(where);
  return error;
}

/** Checks every invariant that must hold for any successful quote. */
function checkInvariants(req: PricingRequest, priced: Priced): void {
  const { sourceScale: ss, destinationScale: ds } = req;
  const gross = unitsOf(priced.source.amountGross, ss);
  const net = unitsOf(priced.source.amountNet, ss);
  const fee = unitsOf(priced.source.feesDeducted, ss);
  const delivered = unitsOf(priced.destination.amountGross, ds);
  const fixedFee = unitsOf(req.fee.fixed, ss);
  const p = fraction(req.fee.percentage);
  const r = fraction(req.exchangeRate);

  // Formatting: exactly the scale's decimals everywhere.
  for (const value of [priced.source.amountGross, priced.source.amountNet, priced.source.feesDeducted, priced.fees.total, priced.fees.oms, priced.fees.developer, priced.fees.gas]) {
    expect(value).toMatch(amountPattern(ss));
  }
  for (const value of [priced.destination.amountGross, priced.destination.amountNet, priced.destination.feesDeducted]) {
    expect(value).toMatch(amountPattern(ds));
  }

  // gross = net + fee, exactly, on both sides; nothing deducted on the destination side.
  expect(gross).toBe(net + fee);
  expect(priced.destination.amountNet).toBe(priced.destination.amountGross);
  expect(unitsOf(priced.destination.feesDeducted, ds)).toBe(0n);
  expect(net > 0n).toBe(true);
  expect(delivered > 0n).toBe(true);

  // The fee: fixed + percentage rounded up to one source unit.
  //   fee − fixed ≥ gross × p / 100   and   fee − fixed − 1 < gross × p / 100
  const percentPart = fee - fixedFee;
  expect(percentPart >= 0n).toBe(true);
  expect(percentPart * p.den * 100n >= gross * p.num).toBe(true);
  expect((percentPart - 1n) * p.den * 100n < gross * p.num).toBe(true);

  // Fee breakdown: all of it is the OMS fee, in the source asset.
  expect(priced.fees.total).toBe(priced.source.feesDeducted);
  expect(priced.fees.oms).toBe(priced.source.feesDeducted);
  expect(unitsOf(priced.fees.developer, ss)).toBe(0n);
  expect(unitsOf(priced.fees.gas, ss)).toBe(0n);

  // The invariant: source.amountNet × exchangeRate = destination.amountGross, truncated at ds.
  //   delivered ≤ net × rate < delivered + 1 unit   (all in integers)
  const exact = net * r.num * pow10(ds); // × 1 / (r.den × 10^ss)
  const unit = r.den * pow10(ss);
  expect(delivered * unit <= exact).toBe(true);
  expect(exact < (delivered + 1n) * unit).toBe(true);

  // The rate is echoed without trailing zeros, unchanged in value.
  expect(priced.exchangeRate).not.toMatch(/\.\d*0$|\.$/);
  expect(sameValue(priced.exchangeRate, req.exchangeRate)).toBe(true);

  // effectiveRate = delivered ÷ gross, half-up at 8 decimals:
  //   (2E − 1) / 2 ≤ x < (2E + 1) / 2 with x = delivered ÷ gross × 10^8 in units
  expect(priced.effectiveRate).toMatch(/^(0|[1-9]\d*)(\.\d{0,7}[1-9])?$/);
  const e = unitsOf(priced.effectiveRate, 8);
  const x = delivered * pow10(ss) * pow10(8) * 2n;
  const d = gross * pow10(ds);
  expect((2n * e - 1n) * d <= x).toBe(true);
  expect(x < (2n * e + 1n) * d).toBe(true);
}

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

const SCALES = [0, 2, 6, 18] as const;
const scaleArb = fc.constantFrom(...SCALES);

/** A positive rate as a decimal string: 1, around 1 (spreads), or anything from 1e-10 to 1e12. */
const rateArb = fc.oneof(
  fc.constant('1'),
  fc.bigInt({ min: 9_000n, max: 11_000n }).map((u) => shortText(u, 4)),
  fc.record({ units: fc.bigInt({ min: 1n, max: 10n ** 12n }), scale: fc.integer({ min: 0, max: 10 }) }).map(({ units, scale }) => text(units, scale)),
);

/** A percentage below 100, with 0 to 4 decimals (sometimes with trailing zeros). */
const percentageArb = fc.oneof(
  fc.constantFrom('0', '0.1', '1', '2.5', '0.0', '99.9999'),
  fc.integer({ min: 0, max: 4 }).chain((scale) => fc.bigInt({ min: 0n, max: 100n * pow10(scale) - 1n }).map((u) => text(u, scale))),
);

/** A source-side amount in units: tiny (edge cases) or large (up to 10^9 whole units). */
const unitsArb = (scale: number) => fc.oneof(fc.bigInt({ min: 1n, max: 1_000n }), fc.bigInt({ min: 1n, max: pow10(scale + 9) }));

/** The amount as a caller may send it: full decimals or without trailing zeros. */
const amountText = (units: bigint, scale: number, short: boolean) => (short ? shortText(units, scale) : text(units, scale));

const pricingArb = (fixedSide: 'source' | 'destination') =>
  fc
    .record({ ss: scaleArb, ds: scaleArb, rate: rateArb, percentage: percentageArb, short: fc.boolean() })
    .chain(({ ss, ds, rate, percentage, short }) =>
      fc
        .record({
          amount: unitsArb(fixedSide === 'source' ? ss : ds),
          fixedFee: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: pow10(ss) })),
        })
        .map(
          ({ amount, fixedFee }): PricingRequest => ({
            fixedSide,
            amount: amountText(amount, fixedSide === 'source' ? ss : ds, short),
            sourceScale: ss,
            destinationScale: ds,
            exchangeRate: rate,
            fee: { percentage, fixed: shortText(fixedFee, ss) },
          }),
        ),
    );

const RUNS = { numRuns: 300 };

// ---------------------------------------------------------------------------------------------
// priceQuote: hand-computed examples
// ---------------------------------------------------------------------------------------------

describe('priceQuote — fixed source, hand-computed', () => {
  it('10 usdc at 0.1 % + 0, rate 1: fee 0.010000, net 9.990000, delivers 9.990000', () => {
    const req = request({ fixedSide: 'source', amount: '10' });
    const priced = priceQuote(req);
    expect(priced).toEqual({
      source: { amountGross: '10.000000', amountNet: '9.990000', feesDeducted: '0.010000' },
      destination: { amountGross: '9.990000', amountNet: '9.990000', feesDeducted: '0.000000' },
      fees: { total: '0.010000', oms: '0.010000', developer: '0.000000', gas: '0.000000' },
      exchangeRate: '1',
      effectiveRate: '0.999',
    });
    checkInvariants(req, priced);
  });

  it('10 usdc at rate 0.998 (spread 0.002) delivers 9.990000 × 0.998 = 9.970020', () => {
    const req = request({ fixedSide: 'source', amount: '10.000000', exchangeRate: '0.998' });
    const priced = priceQuote(req);
    expect(priced.source).toEqual({ amountGross: '10.000000', amountNet: '9.990000', feesDeducted: '0.010000' });
    expect(priced.destination.amountGross).toBe('9.970020');
    expect(priced.exchangeRate).toBe('0.998');
    expect(priced.effectiveRate).toBe('0.997002');
    checkInvariants(req, priced);
  });

  it('0.000001 gross at 0.1 %: the fee rounds up to 0.000001, the net is 0, so it is refused', () => {
    const error = expectRefused(request({ fixedSide: 'source', amount: '0.000001' }), '/source/amount');
    expect(error.message).toMatch(/fee/);
  });

  it('0.000002 gross at 0.1 %: fee 0.000001, net 0.000001', () => {
    const req = request({ fixedSide: 'source', amount: '0.000002' });
    const priced = priceQuote(req);
    expect(priced.source).toEqual({ amountGross: '0.000002', amountNet: '0.000001', feesDeducted: '0.000001' });
    expect(priced.destination.amountGross).toBe('0.000001');
    expect(priced.effectiveRate).toBe('0.5');
    checkInvariants(req, priced);
  });

  describe('percentage + fixed fee', () => {
    it.each([
      // [gross, scale, percentage, fixed, fee, net]
      ['100.00', 2, '1', '0.5', '1.50', '98.50'],
      ['100', 2, '0.1', '0.50', '0.60', '99.40'],
      ['1.00', 2, '2.5', '0', '0.03', '0.97'], // 0.025 rounds up to 0.03
      ['10.01', 2, '0.1', '0', '0.02', '9.99'], // 0.01001 rounds up to 0.02
      ['10', 6, '0', '0', '0.000000', '10.000000'],
      ['10', 6, '0.0', '0.000', '0.000000', '10.000000'],
      ['10', 6, '0', '0.25', '0.250000', '9.750000'],
      ['7', 0, '10', '1', '2', '5'], // 0.7 rounds up to 1, plus 1
      ['3', 0, '99.9999', '0', '3', '0'], // refused below
    ])('gross %s at scale %i, %s %% + %s: fee %s, net %s', (gross, scale, percentage, fixed, fee, net) => {
      const req = request({ fixedSide: 'source', amount: gross, sourceScale: scale, destinationScale: scale, fee: { percentage, fixed } });
      if (unitsOf(net, scale) === 0n) {
        expectRefused(req, '/source/amount');
        return;
      }
      const priced = priceQuote(req);
      expect(priced.source.feesDeducted).toBe(fee);
      expect(priced.source.amountNet).toBe(net);
      expect(priced.destination.amountGross).toBe(net);
      checkInvariants(req, priced);
    });

    it.each([
      ['1.00', '1'],
      ['0.50', '1'],
      ['1.01', '1'],
    ])('refuses %s when the fixed fee %s leaves nothing (or less than nothing)', (gross, fixed) => {
      const req = request({ fixedSide: 'source', amount: gross, sourceScale: 2, destinationScale: 2, fee: { percentage: '0', fixed } });
      if (gross === '1.01') {
        expect(priceQuote(req).source.amountNet).toBe('0.01');
        return;
      }
      expectRefused(req, '/source/amount');
    });
  });

  describe('rounding at each precision', () => {
    it.each([
      // [scale, gross, fee at 0.1 %, net]
      [0, '1000', '1', '999'],
      [0, '1001', '2', '999'], // 1.001 rounds up to 2
      [0, '1', null, null], // fee rounds up to 1, net 0
      [2, '10.00', '0.01', '9.99'],
      [2, '10.01', '0.02', '9.99'],
      [2, '0.01', null, null],
      [6, '10', '0.010000', '9.990000'],
      [6, '10.000001', '0.010001', '9.990000'],
      [6, '0.000001', null, null],
      [18, '1', '0.001000000000000000', '0.999000000000000000'],
      [18, '1.000000000000000001', '0.001000000000000001', '0.999000000000000000'],
      [18, '0.000000000000000001', null, null],
      [18, '123456789.123456789123456789', '123456.789123456789123457', '123333332.334333332334333332'],
    ])('scale %i: gross %s at 0.1 %% → fee %s, net %s', (scale, gross, fee, net) => {
      const req = request({ fixedSide: 'source', amount: gross, sourceScale: scale, destinationScale: scale });
      if (fee === null) {
        expectRefused(req, '/source/amount');
        return;
      }
      const priced = priceQuote(req);
      expect(priced.source.amountGross).toBe(text(unitsOf(gross, scale), scale));
      expect(priced.source.feesDeducted).toBe(fee);
      expect(priced.source.amountNet).toBe(net);
      expect(priced.destination.amountGross).toBe(net);
      checkInvariants(req, priced);
    });

    it.each([
      // [ss, ds, rate, gross, delivered] — fee 0, conversion truncated to the destination
      [18, 6, '1', '1.000000999999999999', '1.000000'],
      [6, 18, '1', '1.5', '1.500000000000000000'],
      [6, 0, '1', '2.999999', '2'],
      [0, 2, '0.333', '10', '3.33'],
      [0, 2, '0.333', '1', '0.33'],
      [2, 2, '0.998', '9.99', '9.97'], // 9.97002
      [6, 6, '0.998', '9.99', '9.970020'],
      [0, 18, '0.0000000001', '3', '0.000000000300000000'],
      [18, 0, '1000', '0.001999999999999999', '1'],
      [2, 6, '1.2475', '10.00', '12.475000'],
      [6, 2, '1.2475', '10.000009', '12.47'], // 12.4750112…
    ])('%i → %i decimals at rate %s: %s delivers %s (truncated)', (ss, ds, rate, gross, delivered) => {
      const req = request({ fixedSide: 'source', amount: gross, sourceScale: ss, destinationScale: ds, exchangeRate: rate, fee: { percentage: '0', fixed: '0' } });
      const priced = priceQuote(req);
      expect(priced.destination.amountGross).toBe(delivered);
      expect(priced.destination.amountNet).toBe(delivered);
      checkInvariants(req, priced);
    });

    it.each([
      [18, 6, '1', '0.000000999999999999'],
      [6, 0, '1', '0.999999'],
      [0, 0, '0.5', '1'],
    ])('%i → %i decimals at rate %s: %s would deliver nothing, so it is refused', (ss, ds, rate, gross) => {
      const error = expectRefused(
        request({ fixedSide: 'source', amount: gross, sourceScale: ss, destinationScale: ds, exchangeRate: rate, fee: { percentage: '0', fixed: '0' } }),
        '/source/amount',
      );
      expect(error.message).toMatch(/deliver nothing/);
    });
  });

  describe('effectiveRate: destination.amountNet ÷ source.amountGross, half up at 8 decimals', () => {
    it.each([
      // [gross, rate, effective] — scale 0 both sides, no fee
      ['3', '0.7', '0.66666667'], // 2 / 3
      ['3', '0.4', '0.33333333'], // 1 / 3
      ['200000000', '0.000000005', '0.00000001'], // exactly 0.000000005: half rounds up
      ['200000001', '0.000000005', '0'], // 1 / 200000001 < 0.000000005
      ['8', '1', '1'],
      ['7', '1.5', '1.42857143'], // 10 / 7 = 1.428571428…
    ])('gross %s at rate %s → %s', (gross, rate, effective) => {
      const req = request({ fixedSide: 'source', amount: gross, sourceScale: 0, destinationScale: 0, exchangeRate: rate, fee: { percentage: '0', fixed: '0' } });
      const priced = priceQuote(req);
      expect(priced.effectiveRate).toBe(effective);
      checkInvariants(req, priced);
    });

    it('compares in value across different scales (18 → 6)', () => {
      const req = request({ fixedSide: 'source', amount: '2', sourceScale: 18, destinationScale: 6, fee: { percentage: '0.1', fixed: '0' } });
      const priced = priceQuote(req);
      expect(priced.destination.amountGross).toBe('1.998000');
      expect(priced.effectiveRate).toBe('0.999');
    });
  });

  it.each([
    ['0.9980', '0.998'],
    ['1.000', '1'],
    ['2', '2'],
    ['10', '10'],
  ])('echoes the exchange rate %s as %s', (rate, shown) => {
    expect(priceQuote(request({ fixedSide: 'source', amount: '10', exchangeRate: rate })).exchangeRate).toBe(shown);
  });
});

describe('priceQuote — fixed destination, hand-computed', () => {
  it('10 at rate 0.998, scale 6, 0.1 %: net 10.020041, gross 10.030072, fee 0.010031', () => {
    // net: smallest N with ⌊N × 0.998⌋ ≥ 10.000000 → N ≥ 10.02004008… → 10.020041 (→ 10.000000918 → 10.000000)
    // gross: smallest G with G − ⌈G × 0.001⌉ ≥ 10.020041 → 10.030072 (10.030071 nets 10.020040)
    const req = request({ fixedSide: 'destination', amount: '10', exchangeRate: '0.998' });
    const priced = priceQuote(req);
    expect(priced).toEqual({
      source: { amountGross: '10.030072', amountNet: '10.020041', feesDeducted: '0.010031' },
      destination: { amountGross: '10.000000', amountNet: '10.000000', feesDeducted: '0.000000' },
      fees: { total: '0.010031', oms: '0.010031', developer: '0.000000', gas: '0.000000' },
      exchangeRate: '0.998',
      effectiveRate: '0.99700182', // 10 / 10.030072 = 0.9970018161…
    });
    checkInvariants(req, priced);
  });

  it('9.99 at rate 1, 0.1 %: the source is 10.000000 — the fixed-source example in reverse', () => {
    const priced = priceQuote(request({ fixedSide: 'destination', amount: '9.99' }));
    expect(priced.source).toEqual({ amountGross: '10.000000', amountNet: '9.990000', feesDeducted: '0.010000' });
    expect(priced.destination.amountGross).toBe('9.990000');
  });

  it('100.00 at rate 1, scale 2, 1 % + 0.50: gross 101.52, fee 1.52', () => {
    // G − ⌈G × 1 %⌉ − 0.50 ≥ 100.00: 101.52 − 1.02 − 0.50 = 100.00; 101.51 − 1.02 − 0.50 = 99.99
    const req = request({ fixedSide: 'destination', amount: '100.00', sourceScale: 2, destinationScale: 2, fee: { percentage: '1', fixed: '0.50' } });
    const priced = priceQuote(req);
    expect(priced.source).toEqual({ amountGross: '101.52', amountNet: '100.00', feesDeducted: '1.52' });
    checkInvariants(req, priced);
  });

  it.each([
    // [ss, ds, rate, destination, source net (fee 0)]
    [0, 0, '3', '9', '3'],
    [18, 6, '1', '1', '1.000000000000000000'],
    [6, 18, '1', '1', '1.000000'],
    [6, 2, '0.998', '9.97', '9.989980'], // 9.98998 × 0.998 = 9.97000004 → 9.97; 9.989979 → 9.96999…
    [0, 2, '0.333', '3.33', '10'],
    [0, 2, '0.333', '0.33', '1'],
  ])('%i → %i decimals at rate %s: destination %s needs source %s', (ss, ds, rate, destination, net) => {
    const req = request({ fixedSide: 'destination', amount: destination, sourceScale: ss, destinationScale: ds, exchangeRate: rate, fee: { percentage: '0', fixed: '0' } });
    const priced = priceQuote(req);
    expect(priced.source.amountNet).toBe(net);
    expect(priced.source.amountGross).toBe(net);
    expect(priced.destination.amountGross).toBe(text(unitsOf(destination, ds), ds));
    checkInvariants(req, priced);
  });

  it.each([
    // no source amount converts to exactly this destination
    [0, 0, '3', '10'], // 3 → 9, 4 → 12
    [6, 18, '1', '1.000000000000000001'], // the destination has more decimals than the source
    [6, 6, '2', '0.000001'], // 0.000001 → 0.000002
    [0, 2, '0.333', '0.34'], // 1 → 0.33, 2 → 0.66
  ])('%i → %i decimals at rate %s: refuses destination %s', (ss, ds, rate, destination) => {
    expectRefused(
      request({ fixedSide: 'destination', amount: destination, sourceScale: ss, destinationScale: ds, exchangeRate: rate, fee: { percentage: '0', fixed: '0' } }),
      '/destination/amount',
    );
  });
});

// ---------------------------------------------------------------------------------------------
// priceQuote: properties
// ---------------------------------------------------------------------------------------------

describe('priceQuote — properties, fixed source', () => {
  it('source.amountNet × exchangeRate = destination.amountGross, truncated at the destination precision, and every other invariant', () => {
    fc.assert(
      fc.property(pricingArb('source'), (req) => {
        const outcome = attempt(req);
        const ss = req.sourceScale;
        const gross = unitsOf(req.amount, ss);
        const fee = feeRule(gross, req.fee.percentage, unitsOf(req.fee.fixed, ss));
        const net = gross - fee;
        if (outcome instanceof DomainError) {
          // Refused only when the fee eats the amount or the conversion delivers nothing.
          expect(outcome.code).toBe('validation_error');
          expect(outcome.details?.[0]?.path).toBe('/source/amount');
          expect(net <= 0n || convertRule(net, req.exchangeRate, ss, req.destinationScale) === 0n).toBe(true);
          return;
        }
        expect(unitsOf(outcome.source.amountGross, ss)).toBe(gross);
        expect(unitsOf(outcome.source.feesDeducted, ss)).toBe(fee);
        expect(unitsOf(outcome.destination.amountGross, req.destinationScale)).toBe(convertRule(net, req.exchangeRate, ss, req.destinationScale));
        checkInvariants(req, outcome);
      }),
      RUNS,
    );
  });

  it('the amount sent with or without trailing zeros prices the same', () => {
    fc.assert(
      fc.property(pricingArb('source'), (req) => {
        const units = unitsOf(req.amount, req.sourceScale);
        const a = attempt({ ...req, amount: text(units, req.sourceScale) });
        const b = attempt({ ...req, amount: shortText(units, req.sourceScale) });
        if (a instanceof DomainError || b instanceof DomainError) {
          expect(a instanceof DomainError && b instanceof DomainError).toBe(true);
          return;
        }
        expect(b).toEqual(a);
      }),
    );
  });

  it('more gross never nets or delivers less', () => {
    fc.assert(
      fc.property(pricingArb('source'), fc.bigInt({ min: 1n, max: 1_000n }), (req, extra) => {
        const more = { ...req, amount: text(unitsOf(req.amount, req.sourceScale) + extra, req.sourceScale) };
        const a = attempt(req);
        const b = attempt(more);
        if (a instanceof DomainError) return;
        expect(b).not.toBeInstanceOf(DomainError);
        const pb = b as Priced;
        expect(unitsOf(pb.source.amountNet, req.sourceScale) >= unitsOf(a.source.amountNet, req.sourceScale)).toBe(true);
        expect(unitsOf(pb.destination.amountGross, req.destinationScale) >= unitsOf(a.destination.amountGross, req.destinationScale)).toBe(true);
      }),
    );
  });
});

describe('priceQuote — properties, fixed destination', () => {
  it('meets the destination exactly with a minimal source, or refuses only when no source amount can', () => {
    fc.assert(
      fc.property(pricingArb('destination'), (req) => {
        const { sourceScale: ss, destinationScale: ds } = req;
        const wanted = unitsOf(req.amount, ds);
        const r = fraction(req.exchangeRate);
        const outcome = attempt(req);
        if (outcome instanceof DomainError) {
          expect(outcome.code).toBe('validation_error');
          expect(outcome.details?.[0]?.path).toBe('/destination/amount');
          // Possible only at a rate above 1 or with more decimals at the destination…
          expect(r.num > r.den || ds > ss).toBe(true);
          // …and only when no net converts to exactly `wanted`: the smallest net that reaches it overshoots.
          let n = (wanted * r.den * pow10(ss)) / (r.num * pow10(ds));
          while (convertRule(n, req.exchangeRate, ss, ds) < wanted) n += 1n;
          expect(convertRule(n, req.exchangeRate, ss, ds) > wanted).toBe(true);
          return;
        }
        checkInvariants(req, outcome);
        const gross = unitsOf(outcome.source.amountGross, ss);
        const net = unitsOf(outcome.source.amountNet, ss);
        const fixedFee = unitsOf(req.fee.fixed, ss);
        // Met exactly.
        expect(outcome.destination.amountGross).toBe(text(wanted, ds));
        expect(convertRule(net, req.exchangeRate, ss, ds)).toBe(wanted);
        // The fee is the rule's fee for that gross.
        expect(gross - net).toBe(feeRule(gross, req.fee.percentage, fixedFee));
        // Minimal net: one unit less converts to less.
        expect(convertRule(net - 1n, req.exchangeRate, ss, ds) < wanted).toBe(true);
        // Minimal gross: one unit less nets less than required.
        expect(gross - 1n - feeRule(gross - 1n, req.fee.percentage, fixedFee) < net).toBe(true);
      }),
      RUNS,
    );
  });

  it('never refuses at a rate ≤ 1 when the destination has no more decimals than the source', () => {
    const arb = pricingArb('destination').filter((req) => {
      const r = fraction(req.exchangeRate);
      return r.num <= r.den && req.destinationScale <= req.sourceScale;
    });
    fc.assert(
      fc.property(arb, (req) => {
        expect(attempt(req)).not.toBeInstanceOf(DomainError);
      }),
    );
  });

  it('its source.amountGross, fixed as the source, delivers exactly the destination; one unit less nets less or delivers less', () => {
    fc.assert(
      fc.property(pricingArb('destination'), (req) => {
        const fixedDestination = attempt(req);
        if (fixedDestination instanceof DomainError) return;
        const ss = req.sourceScale;
        const wanted = unitsOf(fixedDestination.destination.amountGross, req.destinationScale);
        const net = unitsOf(fixedDestination.source.amountNet, ss);
        const gross = unitsOf(fixedDestination.source.amountGross, ss);

        const same = attempt({ ...req, fixedSide: 'source', amount: text(gross, ss) });
        expect(same).not.toBeInstanceOf(DomainError);
        expect((same as Priced).source).toEqual(fixedDestination.source);
        expect((same as Priced).destination).toEqual(fixedDestination.destination);
        expect((same as Priced).effectiveRate).toBe(fixedDestination.effectiveRate);

        if (gross > 1n) {
          const less = attempt({ ...req, fixedSide: 'source', amount: text(gross - 1n, ss) });
          if (!(less instanceof DomainError)) {
            const lessNet = unitsOf(less.source.amountNet, ss);
            const lessDelivered = unitsOf(less.destination.amountGross, req.destinationScale);
            expect(lessNet < net || lessDelivered < wanted).toBe(true);
          }
        }
      }),
      RUNS,
    );
  });
});

describe('priceQuote — fixed source then fixed destination', () => {
  it('fixing the destination at what a source delivers is met, with no more source than that', () => {
    fc.assert(
      fc.property(pricingArb('source'), (req) => {
        const bySource = attempt(req);
        if (bySource instanceof DomainError) return;
        const { sourceScale: ss, destinationScale: ds } = req;
        const byDestination = attempt({ ...req, fixedSide: 'destination', amount: bySource.destination.amountGross });
        expect(byDestination).not.toBeInstanceOf(DomainError);
        const priced = byDestination as Priced;
        checkInvariants({ ...req, fixedSide: 'destination', amount: bySource.destination.amountGross }, priced);
        expect(priced.destination).toEqual(bySource.destination);
        expect(unitsOf(priced.source.amountGross, ss) <= unitsOf(bySource.source.amountGross, ss)).toBe(true);
        expect(unitsOf(priced.source.amountNet, ss) <= unitsOf(bySource.source.amountNet, ss)).toBe(true);
        // And the minimal source, fixed, delivers the same amount again.
        const again = attempt({ ...req, fixedSide: 'source', amount: priced.source.amountGross });
        expect(again).not.toBeInstanceOf(DomainError);
        expect(unitsOf((again as Priced).destination.amountGross, ds)).toBe(unitsOf(bySource.destination.amountGross, ds));
      }),
      RUNS,
    );
  });
});

describe('normalizeDecimal', () => {
  it.each([
    ['0.9980', '0.998'],
    ['1.0', '1'],
    ['1.000', '1'],
    ['0.000', '0'],
    ['1.25', '1.25'],
    ['10', '10'],
    ['100', '100'],
    ['0', '0'],
  ])('%s → %s', (value, normalized) => {
    expect(normalizeDecimal(value)).toBe(normalized);
  });

  it('keeps the value and leaves no trailing zero after the point', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 30n }), fc.integer({ min: 0, max: 20 }), (units, scale) => {
        const value = text(units, scale);
        const normalized = normalizeDecimal(value);
        expect(sameValue(normalized, value)).toBe(true);
        expect(normalized).toBe(shortText(units, scale));
      }),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Pricing table
// ---------------------------------------------------------------------------------------------

describe('readPricingTable', () => {
  let dir: string;
  let count = 0;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'oms-pricing-test-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** Writes a pricing file (an object as JSON, or raw text) and returns its path. */
  const file = (content: unknown): string => {
    const name = path.join(dir, `pricing-${++count}.json`);
    writeFileSync(name, typeof content === 'string' ? content : JSON.stringify(content));
    return name;
  };

  const PROJECT = `prj_${'0123456789abcdefghjkmnpqrs'}`;
  const OTHER_PROJECT = `prj_${'zyxwvtsrqpnmkjhgfedcba9876'}`;
  const defaultFees = { cryptoToCrypto: { percentage: '0.1', fixed: '0' } };
  const table = (overrides: Record<string, unknown> = {}) => ({ rates: [{ from: 'usdc', to: 'usdt', rate: '1', spread: '0' }], fees: defaultFees, projects: {}, ...overrides });
  const withRate = (rate: unknown, spread: unknown) => table({ rates: [{ from: 'usdc', to: 'eurc', rate, spread }] });

  describe('the bundled data/pricing.json', () => {
    it('converts usdc ↔ usdt at 1, and an asset to itself at 1', () => {
      const pricing = readPricingTable();
      expect(pricing.exchangeRate('usdc', 'usdt')).toBe('1');
      expect(pricing.exchangeRate('usdt', 'usdc')).toBe('1');
      expect(pricing.exchangeRate('usdc', 'usdc')).toBe('1');
    });

    it('offers no other pair', () => {
      expect(readPricingTable().exchangeRate('usdc', 'eurc')).toBeUndefined();
      expect(readPricingTable().exchangeRate('eurc', 'usdc')).toBeUndefined();
    });

    it('charges 0.1 % + 0 for every project', () => {
      const pricing = readPricingTable();
      expect(pricing.fee(PROJECT, 'cryptoToCrypto')).toEqual({ percentage: '0.1', fixed: '0' });
      expect(pricing.fee(OTHER_PROJECT, 'cryptoToCrypto')).toEqual({ percentage: '0.1', fixed: '0' });
    });

    it('prices 10 usdc → usdt: fee 0.010000, delivers 9.990000', () => {
      const pricing = readPricingTable();
      const priced = priceQuote({
        fixedSide: 'source',
        amount: '10',
        sourceScale: 6,
        destinationScale: 6,
        exchangeRate: pricing.exchangeRate('usdc', 'usdt')!,
        fee: pricing.fee(PROJECT, 'cryptoToCrypto'),
      });
      expect(priced.source.feesDeducted).toBe('0.010000');
      expect(priced.destination.amountGross).toBe('9.990000');
    });
  });

  describe('rates: rate × (1 − spread), exactly', () => {
    it.each([
      ['1', '0.002', '0.998'],
      ['1', '0', '1'],
      ['1.000', '0.0', '1'],
      ['1.25', '0.002', '1.2475'],
      ['2', '0.5', '1'],
      ['0.000001', '0.5', '0.0000005'],
      ['3', '0', '3'],
      ['100', '0.25', '75'],
      ['1', '0.99999999', '0.00000001'],
      ['123456789.123456789', '0.000000001', '123456788.999999999876543211'],
    ])('rate %s with spread %s → %s', (rate, spread, expected) => {
      expect(readPricingTable(file(withRate(rate, spread))).exchangeRate('usdc', 'eurc')).toBe(expected);
    });

    it('holds for random rates and spreads (BigInt reference)', () => {
      const decimal = (maxScale: number, max: bigint) =>
        fc.record({ scale: fc.integer({ min: 0, max: maxScale }), units: fc.bigInt({ min: 0n, max }) });
      fc.assert(
        fc.property(
          decimal(12, 10n ** 15n).filter(({ units }) => units > 0n),
          fc.integer({ min: 1, max: 10 }).chain((scale) => fc.bigInt({ min: 0n, max: pow10(scale) - 1n }).map((units) => ({ scale, units }))),
          (rate, spread) => {
            const rateText = text(rate.units, rate.scale);
            const spreadText = text(spread.units, spread.scale);
            const expectedUnits = rate.units * (pow10(spread.scale) - spread.units);
            const expected = shortText(expectedUnits, rate.scale + spread.scale);
            expect(readPricingTable(file(withRate(rateText, spreadText))).exchangeRate('usdc', 'eurc')).toBe(expected);
          },
        ),
        { numRuns: 50 },
      );
    });

    it('is directional: a pair is offered only the way it is listed', () => {
      const pricing = readPricingTable(file(withRate('0.9', '0')));
      expect(pricing.exchangeRate('usdc', 'eurc')).toBe('0.9');
      expect(pricing.exchangeRate('eurc', 'usdc')).toBeUndefined();
      expect(pricing.exchangeRate('eurc', 'eurc')).toBe('1');
    });

    it('prices a quote at rate 0.998 from spread 0.002: 10 delivers 9.970020', () => {
      const pricing = readPricingTable(file(withRate('1', '0.002')));
      const priced = priceQuote(request({ fixedSide: 'source', amount: '10', exchangeRate: pricing.exchangeRate('usdc', 'eurc')! }));
      expect(priced.exchangeRate).toBe('0.998');
      expect(priced.destination.amountGross).toBe('9.970020');
    });
  });

  describe('fee schedules and per-project overrides', () => {
    const overridden = () =>
      readPricingTable(
        file(
          table({
            fees: { cryptoToCrypto: { percentage: '0.25', fixed: '0.5' } },
            projects: { [PROJECT]: { fees: { cryptoToCrypto: { percentage: '0', fixed: '0' } } } },
          }),
        ),
      );

    it('a project with an override gets its own schedule', () => {
      expect(overridden().fee(PROJECT, 'cryptoToCrypto')).toEqual({ percentage: '0', fixed: '0' });
    });

    it('any other project gets the default schedule', () => {
      expect(overridden().fee(OTHER_PROJECT, 'cryptoToCrypto')).toEqual({ percentage: '0.25', fixed: '0.5' });
    });

    it('a percentage just below 100 is accepted', () => {
      expect(readPricingTable(file(table({ fees: { cryptoToCrypto: { percentage: '99.999', fixed: '0' } } }))).fee(PROJECT, 'cryptoToCrypto').percentage).toBe('99.999');
    });
  });

  describe('fixed fees fit every supported asset', () => {
    const fixedFee = (fixed: string) => file(table({ fees: { cryptoToCrypto: { percentage: '0', fixed } }, projects: { [PROJECT]: { fees: { cryptoToCrypto: { percentage: '0', fixed: '0' } } } } }));

    it('takes a fixed fee with as many decimals as the asset with the fewest', () => {
      expect(readPricingTable(fixedFee('0.123456'), { feeDecimals: 6 }).fee(OTHER_PROJECT, 'cryptoToCrypto').fixed).toBe('0.123456');
    });

    it('refuses, at start, one with more (it could be charged in no asset that has fewer)', () => {
      expect(() => readPricingTable(fixedFee('0.1234567'), { feeDecimals: 6 })).toThrow(/\/fees\/cryptoToCrypto\/fixed has more than 6 decimals/);
      expect(() => readPricingTable(fixedFee('0.25'), { feeDecimals: 0 })).toThrow(/fixed has more than 0 decimals/);
    });

    it('the bundled assets have 6 decimals at the fewest, and the bundled pricing fits them', () => {
      const assets = readAssetCatalogue();
      expect(assets.fewestDecimals()).toBe(6);
      expect(() => readPricingTable(undefined, { feeDecimals: assets.fewestDecimals() })).not.toThrow();
    });
  });

  describe('refuses invalid files', () => {
    it.each([
      ['spread 1', withRate('1', '1'), /\/rates\/0\/spread must be below 1/],
      ['spread 1.000', withRate('1', '1.000'), /\/rates\/0\/spread must be below 1/],
      ['spread 1.5', withRate('1', '1.5'), /\/rates\/0\/spread must be below 1/],
      ['rate 0', withRate('0', '0'), /\/rates\/0\/rate must be above 0/],
      ['rate 0.000', withRate('0.000', '0.1'), /\/rates\/0\/rate must be above 0/],
      ['percentage 100', table({ fees: { cryptoToCrypto: { percentage: '100', fixed: '0' } } }), /\/fees\/cryptoToCrypto\/percentage must be below 100/],
      ['percentage 100.0', table({ fees: { cryptoToCrypto: { percentage: '100.0', fixed: '0' } } }), /percentage must be below 100/],
      ['percentage 250', table({ fees: { cryptoToCrypto: { percentage: '250', fixed: '0' } } }), /percentage must be below 100/],
      [
        'a project override with percentage 100',
        table({ projects: { [PROJECT]: { fees: { cryptoToCrypto: { percentage: '100', fixed: '0' } } } } }),
        new RegExp(`/projects/${PROJECT}/fees/cryptoToCrypto/percentage must be below 100`),
      ],
    ])('%s', (_name, content, message) => {
      const name = file(content);
      expect(() => readPricingTable(name)).toThrow(message);
      expect(() => readPricingTable(name)).toThrow(name); // says which file
    });

    it.each([
      ['01', 'a leading zero'],
      ['.5', 'no whole part'],
      ['1.', 'a trailing point'],
      ['-1', 'a sign'],
      ['1e3', 'an exponent'],
      ['1,5', 'a comma'],
      [' 1', 'a space'],
      ['', 'nothing'],
      [1, 'a JSON number'],
    ] as [unknown, string][])('a bad decimal %j (%s) as rate, spread, percentage or fixed fee', (bad) => {
      const cases = [
        withRate(bad, '0'),
        withRate('1', bad),
        table({ fees: { cryptoToCrypto: { percentage: bad, fixed: '0' } } }),
        table({ fees: { cryptoToCrypto: { percentage: '0.1', fixed: bad } } }),
        table({ projects: { [PROJECT]: { fees: { cryptoToCrypto: { percentage: '0.1', fixed: bad } } } } }),
      ];
      for (const content of cases) expect(() => readPricingTable(file(content))).toThrow();
    });

    it.each([
      ['in a rate', table({ rates: [{ from: 'usdc', to: 'usdt', rate: '1', spread: '0', margin: '0.1' }] })],
      ['in fees (an unknown quote type)', table({ fees: { ...defaultFees, cryptoToFiat: { percentage: '1', fixed: '0' } } })],
      ['in a fee schedule', table({ fees: { cryptoToCrypto: { percentage: '0.1', fixed: '0', minimum: '1' } } })],
      ['in a project', table({ projects: { [PROJECT]: { fees: defaultFees, name: 'x' } } })],
      ['in a project’s fees', table({ projects: { [PROJECT]: { fees: { ...defaultFees, fiatToCrypto: { percentage: '1', fixed: '0' } } } } })],
      ['at the top level', table({ fee: { cryptoToCrypto: { percentage: '5', fixed: '0' } } })],
    ])('an unknown field %s', (_where, content) => {
      expect(() => readPricingTable(file(content))).toThrow();
    });

    it.each([
      ['prj_short', 'too short'],
      [`prj_${'a'.repeat(27)}`, 'too long'],
      [`PRJ_${'a'.repeat(26)}`, 'an upper-case prefix'],
      [`prj_${'A'.repeat(26)}`, 'upper-case characters'],
      [`cus_${'a'.repeat(26)}`, 'another prefix'],
      ['a'.repeat(30), 'no prefix'],
    ])('a project key %s (%s)', (key) => {
      expect(() => readPricingTable(file(table({ projects: { [key]: { fees: defaultFees } } })))).toThrow();
    });

    it.each([
      ['no rates', { fees: defaultFees, projects: {} }],
      ['no fees', { rates: [], projects: {} }],
      ['no projects', { rates: [], fees: defaultFees }],
      ['no cryptoToCrypto schedule', table({ fees: {} })],
      ['a schedule without fixed', table({ fees: { cryptoToCrypto: { percentage: '0.1' } } })],
      ['a rate without spread', table({ rates: [{ from: 'usdc', to: 'usdt', rate: '1' }] })],
      ['rates that is not an array', table({ rates: {} })],
    ])('a missing or mistyped field: %s', (_name, content) => {
      expect(() => readPricingTable(file(content))).toThrow();
    });

    it('a file that is not JSON', () => {
      expect(() => readPricingTable(file('{ "rates": ['))).toThrow();
    });

    it('a file that does not exist', () => {
      expect(() => readPricingTable(path.join(dir, 'missing.json'))).toThrow();
    });
  });

  it('accepts a "//" comment and an empty rate list', () => {
    const pricing = readPricingTable(file({ '//': 'a comment', rates: [], fees: defaultFees, projects: {} }));
    expect(pricing.exchangeRate('usdc', 'usdt')).toBeUndefined();
    expect(pricing.fee(PROJECT, 'cryptoToCrypto')).toEqual({ percentage: '0.1', fixed: '0' });
  });
});
