import { describe, expect, it } from 'vitest';
import { acceptedDocuments, fieldRequirements, REQUIREMENT_TABLE, type FieldRequirements } from '../../src/compliance/requirements.js';
import type { ComplianceSubject, IdentityDocument } from '../../src/compliance/subject.js';
import { ENDORSEMENT_STATUSES, type EndorsementName, type EndorsementStatus } from '../../src/domain/endorsements.js';

/**
 * Spec 3.2, the data side: which customer fields (and which prerequisite endorsement) each
 * endorsement needs. Expected values are written out from the spec, not read from
 * REQUIREMENT_TABLE, so that a change to the table has to be a change to this file too.
 */

const BASIC_FIELDS = [
  'firstName',
  'lastName',
  'email',
  'birthDate',
  'residentialAddress',
  'ipAddress',
  'signedAgreement',
  'identifyingInformation',
] as const;
type BasicField = (typeof BASIC_FIELDS)[number];

const EXPECTED_FIELDS: Record<EndorsementName, readonly string[]> = {
  basic: BASIC_FIELDS,
  cryptoCustody: [...BASIC_FIELDS, 'nationality', 'phone'],
  usd: [...BASIC_FIELDS, 'nationality'],
};
const EXPECTED_PREREQUISITES: Record<EndorsementName, readonly EndorsementName[]> = {
  basic: [],
  cryptoCustody: ['basic'],
  usd: ['basic'],
};
const NAMES: EndorsementName[] = ['basic', 'cryptoCustody', 'usd'];

const ssn = (): IdentityDocument => ({ type: 'ssn', issuingCountry: 'US', number: '123-45-6789' });
const itin = (): IdentityDocument => ({ type: 'itin', issuingCountry: 'US', number: '912-70-1234' });
const passport = (): IdentityDocument => ({ type: 'passport', issuingCountry: 'GB', number: '123456789' });
const nationalId = (): IdentityDocument => ({ type: 'nationalId', issuingCountry: 'DE', number: 'T22000129' });
const driversLicense = (): IdentityDocument => ({ type: 'driversLicense', issuingCountry: 'US', number: 'D1234567' });
const DOCUMENTS = { ssn, itin, passport, nationalId, driversLicense } as const;
type DocumentType = keyof typeof DOCUMENTS;

/** A US resident with every field any endorsement asks for. */
function usSubject(overrides: Partial<ComplianceSubject> = {}): ComplianceSubject {
  return {
    firstName: 'Jane',
    middleName: null,
    lastName: 'Smith',
    email: 'jane@example.com',
    phone: '+12125551234',
    nationality: 'US',
    signedAgreement: true,
    birthDate: '1990-04-12',
    ipAddress: '203.0.113.7',
    residentialAddress: { country: 'US' },
    identifyingInformation: [ssn()],
    ...overrides,
  };
}

/** A UK resident, with a passport, with every field any endorsement asks for. */
function nonUsSubject(overrides: Partial<ComplianceSubject> = {}): ComplianceSubject {
  return usSubject({
    firstName: 'Amelia',
    lastName: 'Jones',
    email: 'amelia@example.co.uk',
    phone: '+442071234567',
    nationality: 'GB',
    ipAddress: '2001:db8::1',
    residentialAddress: { country: 'GB' },
    identifyingInformation: [passport()],
    ...overrides,
  });
}

/** The subject with one basic field taken away, the way an unset field looks. */
function withoutField(subject: ComplianceSubject, field: BasicField): ComplianceSubject {
  switch (field) {
    case 'signedAgreement':
      return { ...subject, signedAgreement: false };
    case 'firstName':
    case 'lastName':
    case 'email':
      return { ...subject, [field]: null };
    default:
      return { ...subject, [field]: undefined };
  }
}

const basicIs =
  (status: EndorsementStatus | undefined) =>
  (name: EndorsementName): EndorsementStatus | undefined =>
    name === 'basic' ? status : undefined;
const basicActive = basicIs('ACTIVE');

function sorted(result: FieldRequirements): FieldRequirements {
  return { complete: [...result.complete].sort(), pending: [...result.pending].sort(), missing: [...result.missing].sort() };
}

describe('the requirement table (spec 3.2)', () => {
  it.each(NAMES)('%s needs exactly the fields and prerequisites the spec lists', (name) => {
    expect([...REQUIREMENT_TABLE[name].fields].sort()).toEqual([...EXPECTED_FIELDS[name]].sort());
    expect([...REQUIREMENT_TABLE[name].needs].sort()).toEqual([...EXPECTED_PREREQUISITES[name]].sort());
  });

  it('basic has no prerequisite endorsement', () => {
    expect(REQUIREMENT_TABLE.basic.needs).toEqual([]);
  });
});

describe('complete subjects', () => {
  const subjects: [string, ComplianceSubject][] = [
    ['US resident with an ssn', usSubject()],
    ['US resident with an itin', usSubject({ identifyingInformation: [itin()] })],
    ['non-US resident with a passport', nonUsSubject()],
    ['non-US resident with a national id', nonUsSubject({ identifyingInformation: [nationalId()] })],
  ];

  describe.each(subjects)('%s', (_label, subject) => {
    it.each(NAMES)('%s: every field complete, nothing missing or pending (basic ACTIVE)', (name) => {
      const result = fieldRequirements(name, subject, basicActive);
      expect(sorted(result)).toEqual({
        complete: [...EXPECTED_FIELDS[name], ...EXPECTED_PREREQUISITES[name]].sort(),
        pending: [],
        missing: [],
      });
    });
  });
});

describe('each basic requirement missing alone', () => {
  const cases = NAMES.flatMap((name) =>
    BASIC_FIELDS.flatMap((field) => [
      { name, field, residence: 'US', subject: withoutField(usSubject(), field) },
      { name, field, residence: 'GB', subject: withoutField(nonUsSubject(), field) },
    ]),
  );

  it.each(cases)('$name, $residence resident without $field → exactly [$field] missing', ({ name, field, subject }) => {
    const result = fieldRequirements(name, subject, basicActive);
    expect(result.missing).toEqual([field]);
    expect(result.pending).toEqual([]);
    expect(result.complete).not.toContain(field);
  });

  it.each([
    ['undefined', undefined],
    ['an empty list', []],
  ] as const)('identifyingInformation given as %s is missing', (_label, identifyingInformation) => {
    expect(fieldRequirements('basic', usSubject({ identifyingInformation }), basicActive).missing).toEqual(['identifyingInformation']);
  });

  it('signedAgreement false → missing, true → complete', () => {
    expect(fieldRequirements('basic', usSubject({ signedAgreement: false }), basicActive).missing).toEqual(['signedAgreement']);
    expect(fieldRequirements('basic', usSubject({ signedAgreement: true }), basicActive).complete).toContain('signedAgreement');
  });

  it('a subject with nothing set misses every field', () => {
    const empty: ComplianceSubject = {
      firstName: null,
      middleName: null,
      lastName: null,
      email: null,
      phone: null,
      nationality: null,
      signedAgreement: false,
    };
    for (const name of NAMES) {
      const result = fieldRequirements(name, empty, basicIs(undefined));
      expect(result.complete).toEqual([]);
      expect([...result.missing].sort()).toEqual([...EXPECTED_FIELDS[name], ...EXPECTED_PREREQUISITES[name]].sort());
    }
  });
});

describe('fields beyond basic', () => {
  const cases: { name: EndorsementName; drop: Partial<ComplianceSubject>; missing: string[] }[] = [
    { name: 'basic', drop: { nationality: null, phone: null }, missing: [] },
    { name: 'cryptoCustody', drop: { nationality: null, phone: null }, missing: ['nationality', 'phone'] },
    { name: 'cryptoCustody', drop: { nationality: null }, missing: ['nationality'] },
    { name: 'cryptoCustody', drop: { phone: null }, missing: ['phone'] },
    { name: 'usd', drop: { nationality: null, phone: null }, missing: ['nationality'] },
    { name: 'usd', drop: { nationality: null }, missing: ['nationality'] },
    { name: 'usd', drop: { phone: null }, missing: [] },
  ];

  it.each(cases)('$name without $drop → missing $missing', ({ name, drop, missing }) => {
    for (const subject of [usSubject(drop), nonUsSubject(drop)]) {
      expect([...fieldRequirements(name, subject, basicActive).missing].sort()).toEqual(missing);
    }
  });

  it('middleName is never required', () => {
    for (const name of NAMES) {
      const result = fieldRequirements(name, usSubject({ middleName: null }), basicActive);
      expect(result.missing).toEqual([]);
      expect(result.complete).not.toContain('middleName');
    }
  });
});

describe('which document satisfies identifyingInformation', () => {
  // residence → document types that count; written out from spec 3.2 (and, for an unknown
  // residence, from the code's documented choice: any tax id or identity document).
  const ACCEPTED: [string | undefined, DocumentType[]][] = [
    ['US', ['ssn', 'itin']],
    ['GB', ['passport', 'nationalId']],
    ['DE', ['passport', 'nationalId']],
    ['MX', ['passport', 'nationalId']],
    [undefined, ['ssn', 'itin', 'passport', 'nationalId']],
  ];
  const cases = ACCEPTED.flatMap(([residence, accepted]) =>
    (Object.keys(DOCUMENTS) as DocumentType[]).map((type) => ({ residence: residence ?? 'unknown', country: residence, type, ok: accepted.includes(type) })),
  );

  it.each(cases)('residence $residence, only a $type → satisfied: $ok', ({ country, type, ok }) => {
    const subject = usSubject({
      residentialAddress: country === undefined ? undefined : { country },
      identifyingInformation: [DOCUMENTS[type]()],
    });
    const result = fieldRequirements('basic', subject, basicActive);
    expect(result.complete.includes('identifyingInformation')).toBe(ok);
    expect(result.missing.includes('identifyingInformation')).toBe(!ok);
  });

  it.each(ACCEPTED)('acceptedDocuments(%s) is exactly %j', (residence, accepted) => {
    expect([...acceptedDocuments(residence)].sort()).toEqual([...accepted].sort());
  });

  it('driversLicense never satisfies, whatever the residence', () => {
    for (const residence of ['US', 'GB', 'CA', undefined]) {
      expect(acceptedDocuments(residence)).not.toContain('driversLicense');
      const subject = usSubject({
        residentialAddress: residence === undefined ? undefined : { country: residence },
        identifyingInformation: [driversLicense()],
      });
      expect(fieldRequirements('basic', subject, basicActive).missing).toContain('identifyingInformation');
    }
  });

  it('US resident with only a passport (and a national id, and a driver licence) → missing', () => {
    const subject = usSubject({ identifyingInformation: [passport(), nationalId(), driversLicense()] });
    expect(fieldRequirements('basic', subject, basicActive).missing).toEqual(['identifyingInformation']);
  });

  it('non-US resident with only an ssn (and an itin) → missing', () => {
    const subject = nonUsSubject({ identifyingInformation: [ssn(), itin()] });
    expect(fieldRequirements('basic', subject, basicActive).missing).toEqual(['identifyingInformation']);
  });

  it('one accepted document among refused ones is enough', () => {
    expect(fieldRequirements('basic', usSubject({ identifyingInformation: [passport(), driversLicense(), itin()] }), basicActive).missing).toEqual([]);
    expect(fieldRequirements('basic', nonUsSubject({ identifyingInformation: [ssn(), driversLicense(), nationalId()] }), basicActive).missing).toEqual([]);
  });

  it('an expired document still counts as present: expiry is an issue (documentExpired), not a missing field', () => {
    const subject = nonUsSubject({ identifyingInformation: [{ ...passport(), expiresOn: '2001-01-01' }] });
    expect(fieldRequirements('basic', subject, basicActive).missing).toEqual([]);
  });

  it('without a residence, residentialAddress is missing but any accepted document satisfies identifyingInformation', () => {
    for (const make of [ssn, itin, passport, nationalId]) {
      const result = fieldRequirements('basic', usSubject({ residentialAddress: undefined, identifyingInformation: [make()] }), basicActive);
      expect(result.missing).toEqual(['residentialAddress']);
    }
  });
});

describe('the dependency on basic', () => {
  // basic's status → where 'basic' is listed in a dependent endorsement's requirements.
  const PLACE: Record<EndorsementStatus, keyof FieldRequirements> = {
    INACTIVE: 'missing',
    PENDING: 'pending',
    ISSUES: 'pending',
    ACTIVE: 'complete',
    REJECTED: 'missing',
    REVOKED_ISSUES: 'pending',
    OFFBOARDED: 'missing',
  };

  it('covers every status', () => {
    expect(Object.keys(PLACE).sort()).toEqual([...ENDORSEMENT_STATUSES].sort());
  });

  const cases = (['cryptoCustody', 'usd'] as const).flatMap((name) => [
    ...ENDORSEMENT_STATUSES.map((status) => ({ name, status: status as string, statusOf: basicIs(status), place: PLACE[status] })),
    { name, status: 'absent (never requested)', statusOf: basicIs(undefined), place: 'missing' as const },
  ]);

  it.each(cases)('$name with basic $status → basic in $place', ({ name, statusOf, place }) => {
    const result = fieldRequirements(name, usSubject(), statusOf);
    const lists = (['complete', 'pending', 'missing'] as const).filter((list) => result[list].includes('basic'));
    expect(lists).toEqual([place]);
    // the fields are unaffected by the prerequisite
    expect(result.complete).toEqual(expect.arrayContaining([...EXPECTED_FIELDS[name]]));
    expect(result.missing.filter((entry) => entry !== 'basic')).toEqual([]);
  });

  it('asks about basic, and only basic', () => {
    for (const name of ['cryptoCustody', 'usd'] as const) {
      const asked: EndorsementName[] = [];
      fieldRequirements(name, usSubject(), (other) => {
        asked.push(other);
        return 'ACTIVE';
      });
      expect(asked).toEqual(['basic']);
    }
  });

  it('basic itself has no prerequisite, whatever the other endorsements are doing', () => {
    const statuses: (EndorsementStatus | undefined)[] = [...ENDORSEMENT_STATUSES, undefined];
    for (const status of statuses) {
      const result = fieldRequirements('basic', usSubject(), () => status);
      expect(sorted(result)).toEqual({ complete: [...BASIC_FIELDS].sort(), pending: [], missing: [] });
      for (const list of Object.values(result)) {
        expect(list).not.toContain('basic');
        expect(list).not.toContain('cryptoCustody');
        expect(list).not.toContain('usd');
      }
    }
  });

  it('an incomplete subject lists the missing fields and the prerequisite side by side', () => {
    const result = fieldRequirements('usd', usSubject({ nationality: null, email: null }), basicIs('PENDING'));
    expect([...result.missing].sort()).toEqual(['email', 'nationality']);
    expect(result.pending).toEqual(['basic']);
  });
});
