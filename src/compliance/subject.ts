/**
 * Everything compliance looks at about one customer: the public profile plus the decrypted
 * PII. It exists only in memory, for the length of one evaluation, and is never stored,
 * logged or put into an event.
 */
export interface ComplianceSubject {
  birthDate?: string | undefined;
  ipAddress?: string | undefined;
  residentialAddress?: { country: string } | undefined;
  identifyingInformation?: readonly IdentityDocument[] | undefined;
  firstName: string | null;
  middleName: string | null;
  lastName: string | null;
  email: string | null;
  phone: string | null;
  nationality: string | null;
  signedAgreement: boolean;
}

/** The full name as screening sees it. */
export function fullName(subject: Pick<ComplianceSubject, 'firstName' | 'middleName' | 'lastName'>): string {
  return [subject.firstName, subject.middleName, subject.lastName].filter((part) => part).join(' ');
}

export interface IdentityDocument {
  type: 'ssn' | 'itin' | 'driversLicense' | 'passport' | 'nationalId';
  issuingCountry: string;
  number: string;
  expiresOn?: string | undefined;
}
