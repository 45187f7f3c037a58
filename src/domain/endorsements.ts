/** Endorsement names (spec 3.1) and which one a request brings along with it. */
export const ENDORSEMENT_NAMES = ['basic', 'cryptoCustody', 'usd'] as const;
export type EndorsementName = (typeof ENDORSEMENT_NAMES)[number];

export const ENDORSEMENT_STATUSES = ['INACTIVE', 'PENDING', 'ISSUES', 'ACTIVE', 'REJECTED', 'REVOKED_ISSUES', 'OFFBOARDED'] as const;
export type EndorsementStatus = (typeof ENDORSEMENT_STATUSES)[number];

/** Requested when a customer is created without naming any (spec 2.2). */
export const DEFAULT_ENDORSEMENTS: readonly EndorsementName[] = ['cryptoCustody', 'usd'];

/** Requesting the key also requests the values (spec 2.2: usd brings basic). */
const BRINGS: Partial<Record<EndorsementName, EndorsementName[]>> = { usd: ['basic'] };

/** The requested names plus what they bring, in catalogue order. */
export function expandEndorsements(requested: readonly EndorsementName[]): EndorsementName[] {
  const wanted = new Set(requested.flatMap((name) => [name, ...(BRINGS[name] ?? [])]));
  return ENDORSEMENT_NAMES.filter((name) => wanted.has(name));
}
