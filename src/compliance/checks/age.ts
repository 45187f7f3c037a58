/** Whole years between a YYYY-MM-DD birth date and `today` (UTC calendar dates). */
export function ageOn(birthDate: string, today: Date): number {
  const [year, month, day] = birthDate.split('-').map((part) => Number.parseInt(part, 10)) as [number, number, number];
  const hadBirthday = today.getUTCMonth() + 1 > month || (today.getUTCMonth() + 1 === month && today.getUTCDate() >= day);
  return today.getUTCFullYear() - year - (hadBirthday ? 0 : 1);
}

export const ADULT_AGE = 18;

export function isUnderAge(birthDate: string, today: Date): boolean {
  return ageOn(birthDate, today) < ADULT_AGE;
}

/** A document whose YYYY-MM-DD expiry is before `today` (it is valid through its expiry day). */
export function isExpired(expiresOn: string, today: Date): boolean {
  return expiresOn < today.toISOString().slice(0, 10);
}
