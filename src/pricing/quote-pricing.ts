import { validationError } from '../domain/errors.js';
import { formatAmount, fromUnits, toUnits } from '../ledger/decimal-amount.js';

/**
 * How a quote is priced. The rounding rules live here and only here (the README repeats them):
 *
 * 1. The OMS fee is taken on the source side, in the source asset: `percentage` % of
 *    source.amountGross, rounded up to the source asset's decimals, plus the fixed fee.
 *    source.amountNet = source.amountGross − fee.
 * 2. Conversion: destination.amountGross = source.amountNet × exchangeRate, rounded down
 *    (truncated) to the destination asset's decimals. Nothing is deducted on the destination
 *    side in this version, so destination.amountNet = destination.amountGross.
 * 3. A fixed destination amount is met exactly: source.amountNet is the smallest amount whose
 *    conversion is that amount, and source.amountGross the smallest amount whose fee leaves
 *    that net. When no source amount converts to exactly that amount (possible only at a rate
 *    above 1, or when the destination has more decimals than the source), it is refused.
 * 4. effectiveRate = destination.amountNet ÷ source.amountGross, rounded half-up to 8 decimals.
 *    It informs; nothing is computed from it.
 *
 * All arithmetic is on integers of the smallest unit (BigInt); no float is ever involved.
 */

export interface FeeSchedule {
  /** Percent of the gross source amount, as a decimal string: "0.1" is 0.1 %. */
  percentage: string;
  /** Added to every quote, in units of the source asset. */
  fixed: string;
}

export interface PricingRequest {
  fixedSide: 'source' | 'destination';
  /** The amount the caller fixed: a positive decimal string at that side's decimals. */
  amount: string;
  sourceScale: number;
  destinationScale: number;
  /** Units of the destination asset per unit of the source asset. */
  exchangeRate: string;
  fee: FeeSchedule;
}

export interface SideAmounts {
  amountGross: string;
  amountNet: string;
  feesDeducted: string;
}

export interface Priced {
  source: SideAmounts;
  destination: SideAmounts;
  fees: { total: string; oms: string; developer: string; gas: string };
  exchangeRate: string;
  effectiveRate: string;
}

export const EFFECTIVE_RATE_DECIMALS = 8;

const pow10 = (n: number): bigint => 10n ** BigInt(n);
const ceilDiv = (a: bigint, b: bigint): bigint => (a + b - 1n) / b;

/** A non-negative decimal string as the fraction num/den. */
function ratio(value: string): { num: bigint; den: bigint } {
  const { units, scale } = toUnits(value);
  return { num: units, den: pow10(scale) };
}

/** The decimal string without trailing zeros ("0.9980" → "0.998", "1.0" → "1"). */
export function normalizeDecimal(value: string): string {
  return value.includes('.') ? value.replace(/0+$/, '').replace(/\.$/, '') : value;
}

/** Units at `scale` of a decimal string that has no more decimals than that. */
function unitsAt(value: string, scale: number): bigint {
  return toUnits(formatAmount(value, scale)).units;
}

export function priceQuote(request: PricingRequest): Priced {
  const { sourceScale: ss, destinationScale: ds } = request;
  const rate = ratio(request.exchangeRate);
  const percent = ratio(request.fee.percentage);
  const fixedFee = unitsAt(request.fee.fixed, ss);
  const percentDen = percent.den * 100n;

  const feeOn = (gross: bigint): bigint => ceilDiv(gross * percent.num, percentDen) + fixedFee;
  const netOf = (gross: bigint): bigint => gross - feeOn(gross);
  const convert = (net: bigint): bigint => (net * rate.num * pow10(ds)) / (rate.den * pow10(ss));

  let gross: bigint;
  let net: bigint;
  let delivered: bigint;
  if (request.fixedSide === 'source') {
    gross = unitsAt(request.amount, ss);
    net = netOf(gross);
    if (net <= 0n) throw validationError('/source/amount', `does not cover the fee of ${fromUnits(feeOn(gross), ss)}`);
    delivered = convert(net);
    if (delivered <= 0n) throw validationError('/source/amount', 'is too small to convert: it would deliver nothing');
  } else {
    delivered = unitsAt(request.amount, ds);
    net = ceilDiv(delivered * rate.den * pow10(ss), rate.num * pow10(ds));
    if (convert(net) !== delivered) {
      throw validationError('/destination/amount', `no source amount converts to exactly ${request.amount} at ${request.exchangeRate}; fix the source amount instead`);
    }
    // netOf rises by 0 or 1 unit per unit of gross (the percentage is below 100), so it meets `net` exactly.
    gross = ceilDiv((net + fixedFee) * percentDen, percentDen - percent.num);
    while (gross > 1n && netOf(gross - 1n) >= net) gross -= 1n;
    while (netOf(gross) < net) gross += 1n;
  }

  const fee = gross - net;
  const effective = (delivered * pow10(ss) * pow10(EFFECTIVE_RATE_DECIMALS) * 2n + gross * pow10(ds)) / (2n * gross * pow10(ds));
  const source = (units: bigint) => fromUnits(units, ss);
  const destination = (units: bigint) => fromUnits(units, ds);
  return {
    source: { amountGross: source(gross), amountNet: source(net), feesDeducted: source(fee) },
    destination: { amountGross: destination(delivered), amountNet: destination(delivered), feesDeducted: destination(0n) },
    fees: { total: source(fee), oms: source(fee), developer: source(0n), gas: source(0n) },
    exchangeRate: normalizeDecimal(request.exchangeRate),
    effectiveRate: normalizeDecimal(fromUnits(effective, EFFECTIVE_RATE_DECIMALS)),
  };
}
