/**
 * Distinctive values for the write-only fields, so a test can search any output (responses,
 * events, logs, raw table bytes) for them and be sure a hit is a leak, not a coincidence.
 */
export const PII = {
  birthDate: '1957-03-29',
  ipAddress: '203.0.113.77',
  residentialAddress: {
    line1: 'Piiline 742 Evergreen Terrace',
    line2: 'Piiunit 9',
    city: 'Piicity Springfield',
    state: 'Piistate',
    country: 'US',
    zipCode: '49007',
  },
  identifyingInformation: [{ type: 'ssn' as const, issuingCountry: 'US', number: '078-05-1120' }],
};

export const PII_VALUES = [
  PII.birthDate,
  PII.ipAddress,
  PII.residentialAddress.line1,
  PII.residentialAddress.line2,
  PII.residentialAddress.city,
  PII.residentialAddress.state,
  PII.identifyingInformation[0]!.number,
];

/** Every writable non-PII field of the seed page, with valid values. */
export const PROFILE = {
  firstName: 'Jane',
  middleName: 'Quinn',
  lastName: 'Smith',
  email: 'jane@example.com',
  phone: '+12125551234',
  nationality: 'US',
  externalId: 'usr_12345',
};

export function fullCustomer(overrides: Record<string, unknown> = {}) {
  return { ...PROFILE, ...PII, signedAgreement: true, metadata: { plan: 'gold' }, ...overrides };
}

/** Asserts a serialized value holds none of the PII values. */
export function expectNoPii(text: string): void {
  const leaked = PII_VALUES.filter((value) => text.includes(value));
  if (leaked.length > 0) throw new Error(`PII leaked: ${leaked.join(', ')}`);
}
