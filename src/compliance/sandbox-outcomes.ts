import { ENDORSEMENT_NAMES } from '../domain/endorsements.js';
import type { ComplianceSubject } from './subject.js';
import { afterVerification, chain, forceStatus, SAMPLE_ISSUES, type EndorsementState, type EvaluationOutcome } from './evaluation.js';

/**
 * The sandbox's stand-in for checks (spec 3.3): everything is granted at once, unless the
 * customer's lastName asks for another outcome. The moves are the same legal ones live
 * mode makes, so integrators see the sequences of statuses and events they will see in live.
 */
type SandboxOutcome = 'approve' | 'issues' | 'reject' | 'pending' | 'revoke';

// A Map, not an object literal: a lastName like "__proto__" or "constructor" must not find anything.
const FORCED_BY_LAST_NAME = new Map<string, SandboxOutcome>([
  ['issues', 'issues'],
  ['rejected', 'reject'],
  ['pending', 'pending'],
  ['revoked', 'revoke'],
]);

function sandboxOutcome(lastName: string | null): SandboxOutcome {
  return FORCED_BY_LAST_NAME.get((lastName ?? '').trim().toLowerCase()) ?? 'approve';
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
      // Those that need another are rejected first, so none is left waiting on a rejected one.
      return [...ENDORSEMENT_NAMES]
        .reverse()
        .filter((name) => endorsements.some((e) => e.name === name && e.status === 'PENDING'))
        .reduce<EvaluationOutcome>(
          (done, name) => chain(done, (states) => forceStatus(states, subject, name, 'REJECTED', {}, 'sandbox_control')!),
          { endorsements: [...endorsements], moves: [], checksDue: false, underReview: false },
        );
  }
}
