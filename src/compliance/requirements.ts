import type { EndorsementName, EndorsementStatus } from '../domain/endorsements.js';
import type { ComplianceSubject } from './subject.js';

/**
 * What each endorsement needs (spec 3.2), as data: the engine below reads this table and has
 * no per-endorsement code path. A requirement is a customer field, or another endorsement
 * that must be ACTIVE first.
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
type RequirementField = (typeof BASIC_FIELDS)[number] | 'nationality' | 'phone';

interface EndorsementRequirements {
  fields: readonly RequirementField[];
  /** Endorsements that must be ACTIVE before this one can be granted. */
  needs: readonly EndorsementName[];
}

export const REQUIREMENT_TABLE: Readonly<Record<EndorsementName, EndorsementRequirements>> = {
  basic: { fields: BASIC_FIELDS, needs: [] },
  cryptoCustody: { fields: [...BASIC_FIELDS, 'nationality', 'phone'], needs: ['basic'] },
  usd: { fields: [...BASIC_FIELDS, 'nationality'], needs: ['basic'] },
};

/**
 * Which identity documents satisfy `identifyingInformation`: a tax id for a US resident, a
 * passport or national id otherwise. Before the country of residence is known, any of them.
 */
const US_RESIDENT_DOCUMENTS = ['ssn', 'itin'] as const;
const OTHER_RESIDENT_DOCUMENTS = ['passport', 'nationalId'] as const;

export function acceptedDocuments(residenceCountry: string | undefined): readonly string[] {
  if (residenceCountry === undefined) return [...US_RESIDENT_DOCUMENTS, ...OTHER_RESIDENT_DOCUMENTS];
  return residenceCountry === 'US' ? US_RESIDENT_DOCUMENTS : OTHER_RESIDENT_DOCUMENTS;
}

function isPresent(subject: ComplianceSubject, field: RequirementField): boolean {
  switch (field) {
    case 'signedAgreement':
      return subject.signedAgreement;
    case 'identifyingInformation': {
      const accepted = acceptedDocuments(subject.residentialAddress?.country);
      return (subject.identifyingInformation ?? []).some((doc) => accepted.includes(doc.type));
    }
    default:
      return subject[field] !== undefined && subject[field] !== null;
  }
}

/**
 * Where an endorsement's prerequisites stand: granted; on their way (being checked, or with
 * issues the customer can fix); or not (never requested, not started, refused for good).
 */
function prerequisiteState(status: EndorsementStatus | undefined): 'complete' | 'pending' | 'missing' {
  if (status === 'ACTIVE') return 'complete';
  if (status === 'PENDING' || status === 'ISSUES' || status === 'REVOKED_ISSUES') return 'pending';
  return 'missing';
}

export interface FieldRequirements {
  complete: string[];
  pending: string[];
  missing: string[];
}

/**
 * The data side of an endorsement's requirements: which fields and prerequisite endorsements
 * are there, on their way, or missing. Check results (pending checks, issues) are added by
 * the evaluation, which knows where the checks stand.
 */
export function fieldRequirements(
  name: EndorsementName,
  subject: ComplianceSubject,
  statusOf: (name: EndorsementName) => EndorsementStatus | undefined,
): FieldRequirements {
  const result: FieldRequirements = { complete: [], pending: [], missing: [] };
  const { fields, needs } = REQUIREMENT_TABLE[name];
  for (const field of fields) (isPresent(subject, field) ? result.complete : result.missing).push(field);
  for (const prerequisite of needs) result[prerequisiteState(statusOf(prerequisite))].push(prerequisite);
  return result;
}
