/** The issue codes of spec 3.2, as they appear in an endorsement's `requirements.issues`. */
export const ISSUE_CODES = ['underAge', 'blockedJurisdiction', 'sanctionsMatch', 'invalidTaxId', 'documentExpired', 'identityMismatch'] as const;
export type IssueCode = (typeof ISSUE_CODES)[number];

/** The checks of spec 3.2, listed in `requirements.pending` while they run. */
export const CHECK_NAMES = ['identityVerification', 'sanctionsScreening', 'jurisdictionCheck'] as const;

/** Listed in `requirements.pending` while an endorsement waits for an operator's decision. */
export const MANUAL_REVIEW = 'manualReview';
