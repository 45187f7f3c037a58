import type { Mode } from '../domain/scope.js';
import { ENDORSEMENT_NAMES, type EndorsementName, type EndorsementStatus } from '../domain/endorsements.js';
import { CHECK_NAMES, MANUAL_REVIEW, type IssueCode } from './checks/issue-codes.js';
import { transition, transitionTo, type Transition, type TransitionCause, type Trigger } from './endorsement-machine.js';
import { fieldRequirements, REQUIREMENT_TABLE } from './requirements.js';
import type { ComplianceSubject } from './subject.js';
import type { VerificationResult } from './verification-provider.js';

/**
 * How endorsements move (spec 3.3), as pure functions over one customer's endorsements:
 * - afterCustomerWrite: a write changed the data; requirements are recomputed and, where the
 *   data is complete (or was fixed), checks are due.
 * - afterVerification: checks came back; the endorsements are decided, or left for review.
 * Endorsements are visited in catalogue order, so `basic` moves before those that need it.
 */

export interface Requirements {
  complete: string[];
  pending: string[];
  missing: string[];
  issues: string[];
}

export interface RejectionReason {
  developerReason: string;
  reason: string;
}

export interface EndorsementState {
  name: EndorsementName;
  status: EndorsementStatus;
  requirements: Requirements;
  rejectionReasons: RejectionReason[];
}

export interface EndorsementMove {
  name: EndorsementName;
  transition: Transition;
}

export interface EvaluationOutcome {
  /** Every endorsement, as it stands after the evaluation. */
  endorsements: EndorsementState[];
  /** The moves made, in order; each one is a history row and its events. */
  moves: EndorsementMove[];
  /** Whether checks must (re)run: a job to enqueue in live mode. */
  checksDue: boolean;
  /** A possible sanctions match went to review (the compliance-only `underReview` event). */
  underReview: boolean;
}

/** Statuses in which the outcome of checks matters. */
const UNDER_CHECK: readonly EndorsementStatus[] = ['PENDING', 'ISSUES', 'ACTIVE', 'REVOKED_ISSUES'];
const FINAL: readonly EndorsementStatus[] = ['REJECTED', 'OFFBOARDED'];

class Evaluation {
  private readonly states: Map<EndorsementName, EndorsementState>;
  readonly moves: EndorsementMove[] = [];
  checksDue = false;
  underReview = false;

  constructor(
    endorsements: readonly EndorsementState[],
    private readonly subject: ComplianceSubject,
    private readonly cause: TransitionCause,
  ) {
    this.states = new Map(endorsements.map((e) => [e.name, structuredClone(e)]));
  }

  /** Existing endorsements in catalogue order, skipping final ones. */
  *open(): Generator<EndorsementState> {
    for (const name of ENDORSEMENT_NAMES) {
      const state = this.states.get(name);
      if (state && !FINAL.includes(state.status)) yield state;
    }
  }

  find(name: EndorsementName): EndorsementState | undefined {
    return this.states.get(name);
  }

  triggerTo(state: EndorsementState, target: EndorsementStatus): Trigger | undefined {
    return transitionTo(state.status, target, this.cause)?.trigger;
  }

  fields(state: EndorsementState) {
    return fieldRequirements(state.name, this.subject, (name) => this.states.get(name)?.status);
  }

  /** Recomputes the field and prerequisite entries of the lists, keeping checks and issues as they are. */
  refresh(state: EndorsementState): void {
    const fields = this.fields(state);
    const checks = state.requirements.pending.filter((entry) => !(ENDORSEMENT_NAMES as readonly string[]).includes(entry));
    state.requirements = { ...fields, pending: [...fields.pending, ...checks], issues: state.requirements.issues };
  }

  move(state: EndorsementState, trigger: Trigger): void {
    const made = transition(state.status, trigger, this.cause);
    // Callers only pull triggers that are legal where they stand; a refusal here is a bug.
    if (!made) throw new Error(`illegal endorsement move: ${trigger} from ${state.status}`);
    state.status = made.to;
    this.moves.push({ name: state.name, transition: made });
  }

  outcome(): EvaluationOutcome {
    return { endorsements: [...this.states.values()], moves: this.moves, checksDue: this.checksDue, underReview: this.underReview };
  }
}

export interface CustomerWrite {
  /** A field a check reads changed (see checkInputs). */
  checkInputChanged: boolean;
  /** Endorsements the write named: each is re-evaluated (spec 2.3). */
  named: ReadonlySet<EndorsementName>;
  /** Sandbox: requirements do not gate (spec 3.3: "whatever data was sent"). */
  ignoreMissing: boolean;
  cause: TransitionCause;
}

/**
 * Fields the checks read: changing one re-evaluates endorsements already under check. Live
 * checks read the name, birth date, address, IP and documents (a superset of spec 2.3's
 * list: any part of the name is screened); the sandbox's stand-in for them reads lastName only.
 */
const CHECK_INPUTS: Record<Mode, readonly string[]> = {
  live: ['firstName', 'middleName', 'lastName', 'birthDate', 'residentialAddress', 'ipAddress', 'identifyingInformation'],
  sandbox: ['lastName'],
};

export function isCheckInput(mode: Mode, field: string): boolean {
  return CHECK_INPUTS[mode].includes(field);
}

export function afterCustomerWrite(
  endorsements: readonly EndorsementState[],
  subject: ComplianceSubject,
  write: CustomerWrite,
): EvaluationOutcome {
  const run = new Evaluation(endorsements, subject, write.cause);
  for (const state of run.open()) {
    const fields = run.fields(state);
    const complete = write.ignoreMissing || fields.missing.length === 0;
    const recheck = write.checkInputChanged || write.named.has(state.name);
    const checking = () => {
      run.checksDue = true;
      state.requirements = { ...fields, pending: [...fields.pending, ...CHECK_NAMES], issues: heldForReview(state) ? ['sanctionsMatch'] : [] };
    };
    switch (state.status) {
      case 'INACTIVE':
        if (complete) {
          run.move(state, 'dataComplete');
          checking();
        } else {
          state.requirements = { ...fields, issues: [] };
        }
        break;
      case 'ISSUES':
      case 'REVOKED_ISSUES':
        if (recheck && complete) {
          run.move(state, 'dataComplete');
          checking();
        } else {
          state.requirements = { ...fields, issues: state.requirements.issues };
        }
        break;
      case 'PENDING':
        if (!complete) {
          run.move(state, 'prerequisiteLost');
          state.requirements = { ...fields, issues: [] };
        } else if (recheck) {
          checking();
        }
        break;
      case 'ACTIVE':
        if (recheck) checking();
        break;
    }
  }
  return run.outcome();
}

export interface Verification {
  result: VerificationResult;
  /** `manual`: clean results wait for an operator instead of granting. */
  decision: 'auto' | 'manual';
  /** Sandbox: missing data and prerequisites do not hold a grant back. */
  ignoreMissing: boolean;
  cause: TransitionCause;
}

export function afterVerification(
  endorsements: readonly EndorsementState[],
  subject: ComplianceSubject,
  { result, decision, ignoreMissing, cause }: Verification,
): EvaluationOutcome {
  const run = new Evaluation(endorsements, subject, cause);
  // Only the provider's own finding is news for the compliance team; a held one was reported.
  run.underReview = result.sanctionsHit !== undefined;
  for (const state of run.open()) {
    const fields = run.fields(state);
    if (state.status !== 'PENDING' && state.status !== 'ACTIVE') {
      // Not decided by checks, but a prerequisite may have moved: keep the lists true.
      run.refresh(state);
      continue;
    }
    const hit = result.sanctionsHit !== undefined || heldForReview(state);
    const issues: IssueCode[] = hit ? [...result.issues, 'sanctionsMatch'] : [...result.issues];
    if (result.issues.length > 0 || (hit && state.status === 'ACTIVE')) {
      run.move(state, 'issuesFound');
      state.requirements = { ...fields, issues };
    } else if (hit) {
      state.requirements = { ...fields, pending: [...fields.pending, 'sanctionsScreening'], issues };
    } else if (state.status === 'ACTIVE') {
      state.requirements = { ...fields, issues: [] };
    } else if (fields.missing.length > 0 && !ignoreMissing) {
      // Data never goes missing (a PATCH cannot unset a field), so this is a prerequisite lost.
      run.move(state, 'prerequisiteLost');
      state.requirements = { ...fields, issues: [] };
    } else if ((fields.pending.length > 0 && !ignoreMissing) || decision === 'manual') {
      state.requirements = { ...fields, pending: decision === 'manual' ? [...fields.pending, MANUAL_REVIEW] : fields.pending, issues: [] };
    } else {
      run.move(state, 'checksPassed');
      state.requirements = { ...fields, issues: [] };
    }
  }
  return run.outcome();
}

/**
 * A possible sanctions match stays until an operator decides (approving clears it): a change
 * of name or data, and the clean screening that may follow, does not.
 */
function heldForReview(state: EndorsementState): boolean {
  return state.requirements.issues.includes('sanctionsMatch');
}

/** Applies another evaluation on top of an earlier one's result, keeping both sets of moves. */
export function chain(first: EvaluationOutcome, next: (endorsements: EndorsementState[]) => EvaluationOutcome): EvaluationOutcome {
  const second = next(first.endorsements);
  return {
    endorsements: second.endorsements,
    moves: [...first.moves, ...second.moves],
    checksDue: second.checksDue,
    underReview: first.underReview || second.underReview,
  };
}

export function isUnderCheck(status: EndorsementStatus): boolean {
  return UNDER_CHECK.includes(status);
}

export interface ForcedDetail {
  issues?: IssueCode[] | undefined;
  rejectionReasons?: RejectionReason[] | undefined;
}

/** What a forced status shows when the caller gives no detail. */
export const SAMPLE_ISSUES: IssueCode[] = ['identityMismatch'];
const SAMPLE_REJECTION: RejectionReason = {
  developerReason: 'Rejected by a sandbox control.',
  reason: 'We could not approve your application.',
};

/**
 * Moves one endorsement to `target` in one legal step, as an operator or a sandbox control
 * does; undefined when no legal step leads there. At its current status, only the detail
 * (issues, rejection reasons) is updated, with no move. Endorsements that need this one
 * follow: an ACTIVE one is revoked with the same issues when its prerequisite stops being
 * ACTIVE, a PENDING one falls back to INACTIVE when its prerequisite is no longer on its way
 * (see requirements.ts: INACTIVE, REJECTED or OFFBOARDED).
 */
export function forceStatus(
  endorsements: readonly EndorsementState[],
  subject: ComplianceSubject,
  name: EndorsementName,
  target: EndorsementStatus,
  detail: ForcedDetail,
  cause: TransitionCause,
): EvaluationOutcome | undefined {
  const run = new Evaluation(endorsements, subject, cause);
  const state = run.find(name);
  if (!state) return undefined;
  if (state.status !== target) {
    const trigger = run.triggerTo(state, target);
    if (!trigger) return undefined;
    run.move(state, trigger);
  }
  const fields = run.fields(state);
  state.rejectionReasons = target === 'REJECTED' ? (detail.rejectionReasons ?? (state.rejectionReasons.length > 0 ? state.rejectionReasons : [SAMPLE_REJECTION])) : [];
  switch (target) {
    case 'ISSUES':
    case 'REVOKED_ISSUES':
      state.requirements = { ...fields, issues: detail.issues ?? (state.requirements.issues.length > 0 ? state.requirements.issues : SAMPLE_ISSUES) };
      break;
    case 'PENDING':
      state.requirements = { ...fields, pending: [...fields.pending, MANUAL_REVIEW], issues: [] };
      break;
    default:
      state.requirements = { ...fields, issues: [] };
  }
  for (const dependent of run.open()) {
    if (dependent === state) continue;
    const needsIt = REQUIREMENT_TABLE[dependent.name].needs.includes(name);
    if (needsIt && dependent.status === 'ACTIVE' && state.status !== 'ACTIVE') {
      run.move(dependent, 'issuesFound');
      dependent.requirements = { ...run.fields(dependent), issues: state.requirements.issues.length > 0 ? state.requirements.issues : SAMPLE_ISSUES };
    } else if (needsIt && dependent.status === 'PENDING' && run.fields(dependent).missing.includes(name)) {
      run.move(dependent, 'prerequisiteLost');
      dependent.requirements = { ...run.fields(dependent), issues: [] };
    } else {
      run.refresh(dependent);
    }
  }
  return run.outcome();
}
