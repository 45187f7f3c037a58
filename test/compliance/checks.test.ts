import { describe, expect, it } from 'vitest';
import { ADULT_AGE, ageOn, isExpired, isUnderAge } from '../../src/compliance/checks/age.js';
import { CHECK_NAMES, ISSUE_CODES } from '../../src/compliance/checks/issue-codes.js';
import { isValidItin, isValidSsn } from '../../src/compliance/checks/tax-id.js';

/** Pure checks behind the issue codes of spec 3.2 (underAge, documentExpired, invalidTaxId). */

const at = (iso: string) => new Date(iso);

describe('the vocabulary of spec 3.2', () => {
  it('issue codes', () => {
    expect([...ISSUE_CODES].sort()).toEqual(
      ['underAge', 'blockedJurisdiction', 'sanctionsMatch', 'invalidTaxId', 'documentExpired', 'identityMismatch'].sort(),
    );
  });

  it('check names', () => {
    expect([...CHECK_NAMES].sort()).toEqual(['identityVerification', 'sanctionsScreening', 'jurisdictionCheck'].sort());
  });
});

describe('age', () => {
  it('an adult is 18', () => {
    expect(ADULT_AGE).toBe(18);
  });

  // [birthDate, today, age]; underAge is age < 18
  const cases: [string, string, number][] = [
    // the 18th birthday itself counts, at any time of that (UTC) day
    ['2008-06-15', '2026-06-15T00:00:00.000Z', 18],
    ['2008-06-15', '2026-06-15T12:00:00.000Z', 18],
    ['2008-06-15', '2026-06-15T23:59:59.999Z', 18],
    // the day before the 18th birthday, to the last millisecond
    ['2008-06-15', '2026-06-14T23:59:59.999Z', 17],
    ['2008-06-15', '2026-06-14T00:00:00.000Z', 17],
    ['2008-06-16', '2026-06-15T12:00:00.000Z', 17],
    // same day-of-month, earlier month; same month, earlier day
    ['2008-07-15', '2026-06-15T12:00:00.000Z', 17],
    ['2008-06-30', '2026-06-01T12:00:00.000Z', 17],
    ['2008-05-31', '2026-06-01T12:00:00.000Z', 18],
    // year boundaries
    ['2008-01-01', '2025-12-31T23:59:59.999Z', 17],
    ['2008-01-01', '2026-01-01T00:00:00.000Z', 18],
    ['2008-12-31', '2026-12-30T12:00:00.000Z', 17],
    ['2008-12-31', '2026-12-31T12:00:00.000Z', 18],
    // the calendar day is the UTC one: 22:00 in New York on the 14th is already the 15th
    ['2008-06-15', '2026-06-14T22:00:00-05:00', 18],
    ['2008-06-15', '2026-06-15T01:00:00+02:00', 17],
    // leap-day births: in a common year the birthday is taken to be 1 March
    ['2008-02-29', '2026-02-28T23:59:59.999Z', 17],
    ['2008-02-29', '2026-03-01T00:00:00.000Z', 18],
    ['2008-02-29', '2024-02-28T12:00:00.000Z', 15],
    ['2008-02-29', '2024-02-29T00:00:00.000Z', 16],
    ['2008-02-29', '2025-02-28T12:00:00.000Z', 16],
    ['2008-02-29', '2025-03-01T12:00:00.000Z', 17],
    // born on 28 February / 1 March of a leap year
    ['2008-02-28', '2026-02-28T00:00:00.000Z', 18],
    ['2008-02-28', '2026-02-27T23:59:59.999Z', 17],
    ['2008-03-01', '2026-02-28T12:00:00.000Z', 17],
    ['2008-03-01', '2026-03-01T00:00:00.000Z', 18],
    // a leap day as "today", for someone born on 1 March
    ['2006-03-01', '2024-02-29T12:00:00.000Z', 17],
    // clearly adult, clearly minor
    ['1957-03-29', '2026-06-15T12:00:00.000Z', 69],
    ['2020-06-15', '2026-06-15T12:00:00.000Z', 6],
    ['1900-01-01', '2026-06-15T12:00:00.000Z', 126],
  ];

  it.each(cases)('born %s, on %s → %i', (birthDate, today, age) => {
    expect(ageOn(birthDate, at(today))).toBe(age);
    expect(isUnderAge(birthDate, at(today))).toBe(age < 18);
  });
});

describe('isExpired', () => {
  // [expiresOn, today, expired]: a document is valid through its expiry day (UTC)
  const cases: [string, string, boolean][] = [
    ['2026-06-15', '2026-06-15T00:00:00.000Z', false],
    ['2026-06-15', '2026-06-15T23:59:59.999Z', false],
    ['2026-06-15', '2026-06-16T00:00:00.000Z', true],
    ['2026-06-14', '2026-06-15T12:00:00.000Z', true],
    ['2026-06-16', '2026-06-15T12:00:00.000Z', false],
    ['2025-12-31', '2026-01-01T00:00:00.000Z', true],
    ['2026-01-01', '2025-12-31T23:59:59.999Z', false],
    ['2024-02-29', '2024-02-29T12:00:00.000Z', false],
    ['2024-02-29', '2024-03-01T00:00:00.000Z', true],
    ['2001-01-01', '2026-06-15T12:00:00.000Z', true],
    ['2099-12-31', '2026-06-15T12:00:00.000Z', false],
    // 23:00 in New York on the 15th is the 16th in UTC
    ['2026-06-15', '2026-06-15T23:00:00-05:00', true],
  ];

  it.each(cases)('expires %s, on %s → expired: %s', (expiresOn, today, expired) => {
    expect(isExpired(expiresOn, at(today))).toBe(expired);
  });
});

describe('SSN', () => {
  const valid: [string, string][] = [
    ['123-45-6789', 'dashed'],
    ['123456789', 'undashed'],
    ['001-01-0001', 'lowest non-zero parts'],
    ['665-12-3456', 'area just below 666'],
    ['667-12-3456', 'area just above 666'],
    ['899-99-9999', 'highest area below 900'],
    ['078-05-1120', 'leading zero area'],
    ['123-01-6789', 'group 01'],
    ['123-99-6789', 'group 99'],
    ['123-45-0001', 'serial 0001'],
    ['123-45-9999', 'serial 9999'],
    [' 123-45-6789 ', 'surrounding spaces are ignored'],
  ];

  const invalid: [string, string][] = [
    // Both dashes or none: a half-dashed number is a typo, not a shape.
    ['123-456789', 'only the first dash'],
    ['12345-6789', 'only the second dash'],
    ['000-12-3456', 'area 000'],
    ['000123456', 'area 000, undashed'],
    ['666-12-3456', 'area 666'],
    ['666123456', 'area 666, undashed'],
    ['900-12-3456', 'area 900'],
    ['950-12-3456', 'area 950'],
    ['999-99-9999', 'area 999'],
    ['912-70-1234', 'a valid ITIN is not an SSN'],
    ['123-00-6789', 'group 00'],
    ['123006789', 'group 00, undashed'],
    ['123-45-0000', 'serial 0000'],
    ['123450000', 'serial 0000, undashed'],
    ['', 'empty'],
    ['12345678', '8 digits'],
    ['1234567890', '10 digits'],
    ['123-45-678', '8 digits, dashed'],
    ['123-45-67890', '10 digits, dashed'],
    ['1234-5-6789', 'dash in the wrong place'],
    ['12-345-6789', 'dash in the wrong place'],
    ['123--45-6789', 'double dash'],
    ['123 45 6789', 'spaces as separators'],
    ['123.45.6789', 'dots as separators'],
    ['123/45/6789', 'slashes as separators'],
    ['12A-45-6789', 'a letter in the area'],
    ['123-4B-6789', 'a letter in the group'],
    ['123-45-678X', 'a letter in the serial'],
    ['abc-de-fghi', 'letters only'],
    ['+123456789', 'a sign'],
    ['１２３４５６７８９', 'full-width digits'],
    ['١٢٣٤٥٦٧٨٩', 'Arabic-Indic digits'],
    ['123-45-6789\n1', 'a second line'],
  ];

  it.each(valid)('%s is valid (%s)', (value) => {
    expect(isValidSsn(value)).toBe(true);
  });

  it.each(invalid)('%s is invalid (%s)', (value) => {
    expect(isValidSsn(value)).toBe(false);
  });

  it('every area from 900 to 999 is refused, every other non-zero area but 666 is accepted', () => {
    for (let area = 0; area <= 999; area++) {
      const number = `${String(area).padStart(3, '0')}-45-6789`;
      expect(isValidSsn(number), number).toBe(area !== 0 && area !== 666 && area < 900);
    }
  });
});

describe('ITIN', () => {
  // IRS: 9XX-GG-XXXX with GG in 50–65, 70–88, 90–92 or 94–99
  const ACCEPTED_GROUPS = (group: number) =>
    (group >= 50 && group <= 65) || (group >= 70 && group <= 88) || (group >= 90 && group <= 92) || (group >= 94 && group <= 99);

  const valid: [string, string][] = [
    ['900-50-1234', 'group 50, lowest'],
    ['912-65-1234', 'group 65'],
    ['912-70-1234', 'group 70'],
    ['912-88-1234', 'group 88'],
    ['912-90-1234', 'group 90'],
    ['912-92-1234', 'group 92'],
    ['912-94-1234', 'group 94'],
    ['999-99-9999', 'group 99, highest'],
    ['912701234', 'undashed'],
    [' 912-70-1234 ', 'surrounding spaces are ignored'],
  ];

  const invalid: [string, string][] = [
    ['912-49-1234', 'group 49'],
    ['912-66-1234', 'group 66'],
    ['912-69-1234', 'group 69'],
    ['912-89-1234', 'group 89'],
    ['912-93-1234', 'group 93'],
    ['912-00-1234', 'group 00'],
    ['912-10-1234', 'group 10'],
    ['812-70-1234', 'does not start with 9'],
    ['012-70-1234', 'does not start with 9'],
    ['123-45-6789', 'a valid SSN is not an ITIN'],
    ['', 'empty'],
    ['91270123', '8 digits'],
    ['9127012345', '10 digits'],
    ['912-70-123', '8 digits, dashed'],
    ['912 70 1234', 'spaces as separators'],
    ['9X2-70-1234', 'a letter'],
    ['912-7O-1234', 'the letter O for a zero'],
    ['９１２７０１２３４', 'full-width digits'],
  ];

  it.each(valid)('%s is valid (%s)', (value) => {
    expect(isValidItin(value)).toBe(true);
  });

  it.each(invalid)('%s is invalid (%s)', (value) => {
    expect(isValidItin(value)).toBe(false);
  });

  it('every group from 00 to 99 is accepted exactly when the IRS ranges include it', () => {
    for (let group = 0; group <= 99; group++) {
      const number = `912-${String(group).padStart(2, '0')}-1234`;
      expect(isValidItin(number), number).toBe(ACCEPTED_GROUPS(group));
    }
    for (const group of [66, 89, 93]) expect(ACCEPTED_GROUPS(group)).toBe(false);
  });

  it('only a leading 9 is accepted', () => {
    for (let first = 0; first <= 9; first++) {
      expect(isValidItin(`${first}12-70-1234`)).toBe(first === 9);
    }
  });
});
