import { validationError } from '../domain/errors.js';

/**
 * Amounts are decimal strings end to end: validated and formatted here as text, added up by
 * PostgreSQL as NUMERIC, never turned into a JavaScript number.
 */

const POSITIVE_DECIMAL = /^(0|[1-9]\d*)(?:\.(\d+))?$/;

/** A positive amount with at most `scale` decimals, as sent; throws a 400 otherwise. */
export function parsePositiveAmount(value: string, scale: number, path = '/amount'): string {
  const match = POSITIVE_DECIMAL.exec(value);
  if (!match) throw validationError(path, 'must be a positive decimal string, e.g. "10.50"');
  if ((match[2] ?? '').length > scale) throw validationError(path, `has more than ${scale} decimals`);
  if (isZero(value)) throw validationError(path, 'must be greater than zero');
  return value;
}

/** Whether a decimal string is zero, however written ("0", "0.000000", "-0"). */
export function isZero(amount: string): boolean {
  return !/[1-9]/.test(amount);
}

export function negate(amount: string): string {
  return amount.startsWith('-') ? amount.slice(1) : `-${amount}`;
}

/** A NUMERIC's text with exactly `scale` decimals ("10.5" at scale 2 → "10.50"); it never rounds. */
export function formatAmount(numeric: string, scale: number): string {
  const negative = numeric.startsWith('-');
  const [whole = '0', fraction = ''] = (negative ? numeric.slice(1) : numeric).split('.');
  const trimmed = fraction.replace(/0+$/, '');
  if (trimmed.length > scale) throw new Error(`${numeric} has more than ${scale} decimals`);
  const text = scale === 0 ? whole : `${whole}.${trimmed.padEnd(scale, '0')}`;
  return negative && !isZero(text) ? `-${text}` : text;
}

/** A non-negative decimal string as an integer count of 10^-scale units (BigInt, exact). */
export function toUnits(value: string): { units: bigint; scale: number } {
  const [whole = '0', fraction = ''] = value.split('.');
  return { units: BigInt(whole + fraction), scale: fraction.length };
}

export function fromUnits(units: bigint, scale: number): string {
  const digits = units.toString().padStart(scale + 1, '0');
  return scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
}

/** a × b for non-negative decimal strings, rounded half-up to `scale` decimals, exactly (balance × price). */
export function multiply(a: string, b: string, scale: number): string {
  const x = toUnits(a);
  const y = toUnits(b);
  const product = x.units * y.units;
  const drop = x.scale + y.scale - scale;
  const units = drop <= 0 ? product * 10n ** BigInt(-drop) : (product + 5n * 10n ** BigInt(drop - 1)) / 10n ** BigInt(drop);
  return fromUnits(units, scale);
}

/** The exact sum of non-negative decimal strings, at `scale` decimals (none may have more). */
export function sum(values: readonly string[], scale: number): string {
  return fromUnits(values.reduce((total, value) => total + toUnits(formatAmount(value, scale)).units, 0n), scale);
}
