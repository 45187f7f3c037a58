import type { ComplianceSubject } from './subject.js';
import { afterVerification, chain, forceStatus, SAMPLE_ISSUES, type EndorsementState, type EvaluationOutcome } from './evaluation.js';

/**
 * The sandbox's stand-in for checks (spec 3.3): everything is granted at once, unless the
 * customer's lastName asks for another outcome. The moves are the same legal ones live
 * mode makes, so integrators see the sequences of statuses and events they will see in live.
 */
const FORCED_BY_LAST_NAME = {
  issues: 'issues',
  rejected: 'reject',
  pending: 'pending',
  revoked: 'revoke',
} as const;

type SandboxOutcome = 'approve' | (typeof FORCED_BY_LAST_NAME)[keyof typeof FORCED_BY_LAST_NAME];

export function sandboxOutcome(lastName: string | null): SandboxOutcome {
  const key = (lastName ?? '').trim().toLowerCase();
  return key in FORCED_BY_LAST_NAME ? FORCED_BY_LAST_NAME[key as keyof typeof FORCED_BY_LAST_NAME] : 'approve';
}

/** Decides endorsements whose checks are due, as the sandbox's lastName rules say. */
export function decideInSandbox(endorsements: readonly EndorsementState[], subject: ComplianceSubject): EvaluationOutcome {
  const outcome = sandboxOutcome(subject.lastName);
  const approve = (states: readonly EndorsementState[]) =>
    afterVerification(states, subject, { result: { issues: [] }, decision: 'auto', ignoreMissing: true, cause: 'check_result' });
  switch (outcome) {
    case 'approve':
      return approve(endorsements);
    case 'issues':
      return afterVerification(endorsements, subject, { result: { issues: SAMPLE_ISSUES }, decision: 'auto', ignoreMissing: true, cause: 'sandbox_control' });
    case 'pending':
      return afterVerification(endorsements, subject, { result: { issues: [] }, decision: 'manual', ignoreMissing: true, cause: 'sandbox_control' });
    case 'revoke':
      return chain(approve(endorsements), (states) =>
        afterVerification(states, subject, { result: { issues: SAMPLE_ISSUES }, decision: 'auto', ignoreMissing: true, cause: 'sandbox_control' }),
      );
    case 'reject':
      return endorsements
        .filter((e) => e.status === 'PENDING')
        .reduce<EvaluationOutcome>(
          (done, e) => chain(done, (states) => forceStatus(states, subject, e.name, 'REJECTED', {}, 'sandbox_control')!),
          { endorsements: [...endorsements], moves: [], checksDue: false, underReview: false },
        );
  }
}
