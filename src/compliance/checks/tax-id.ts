/**
 * Shape rules for US taxpayer numbers, as the Social Security Administration and the IRS
 * publish them. Nine digits, written 123-45-6789 or 123456789.
 */
function digits(value: string): string | undefined {
  const trimmed = value.trim();
  return /^\d{3}-\d{2}-\d{4}$/.test(trimmed) ? trimmed.replaceAll('-', '') : /^\d{9}$/.test(trimmed) ? trimmed : undefined;
}

/** SSN: area not 000, 666 or 900–999; group not 00; serial not 0000. */
export function isValidSsn(value: string): boolean {
  const n = digits(value);
  if (!n) return false;
  const area = n.slice(0, 3);
  return area !== '000' && area !== '666' && area[0] !== '9' && n.slice(3, 5) !== '00' && n.slice(5) !== '0000';
}

/** ITIN: starts with 9, and the fourth and fifth digits are in 50–65, 70–88, 90–92 or 94–99. */
export function isValidItin(value: string): boolean {
  const n = digits(value);
  if (!n || n[0] !== '9') return false;
  const group = Number.parseInt(n.slice(3, 5), 10);
  return (group >= 50 && group <= 65) || (group >= 70 && group <= 88) || (group >= 90 && group <= 92) || (group >= 94 && group <= 99);
}
