import type { EndorsementStatus } from '../domain/endorsements.js';

/**
 * The endorsement state machine of spec 3.3, in one table. A status changes only through a
 * Transition, and a Transition can only be made here, from a trigger that is legal in the
 * current status: the rest of the code cannot express an illegal move.
 *
 * Every endorsement is born INACTIVE (recorded in its history, not an event); all later
 * statuses are reached through these edges, in sandbox as in live.
 */
const EDGES = {
  /** The data is complete (or was fixed): checks start. */
  dataComplete: { INACTIVE: 'PENDING', ISSUES: 'PENDING', REVOKED_ISSUES: 'PENDING' },
  /** A prerequisite endorsement is no longer on its way to ACTIVE. */
  prerequisiteLost: { PENDING: 'INACTIVE' },
  checksPassed: { PENDING: 'ACTIVE' },
  /** Checks, or an operator, found problems the customer can fix; on an ACTIVE one, a revocation. */
  issuesFound: { PENDING: 'ISSUES', ACTIVE: 'REVOKED_ISSUES' },
  /** An operator grants it, overriding open issues. */
  approved: { PENDING: 'ACTIVE', ISSUES: 'ACTIVE', REVOKED_ISSUES: 'ACTIVE' },
  rejected: { PENDING: 'REJECTED', ISSUES: 'REJECTED', REVOKED_ISSUES: 'REJECTED' },
  offboarded: {
    INACTIVE: 'OFFBOARDED',
    PENDING: 'OFFBOARDED',
    ISSUES: 'OFFBOARDED',
    ACTIVE: 'OFFBOARDED',
    REJECTED: 'OFFBOARDED',
    REVOKED_ISSUES: 'OFFBOARDED',
  },
} as const satisfies Record<string, Partial<Record<EndorsementStatus, EndorsementStatus>>>;

export type Trigger = keyof typeof EDGES;
export const TRIGGERS = Object.keys(EDGES) as Trigger[];

/** Who or what caused a change, as the history records it. */
export const TRANSITION_CAUSES = ['customer_update', 'check_result', 'operator', 'sandbox_control'] as const;
export type TransitionCause = (typeof TRANSITION_CAUSES)[number];

declare const madeByTheMachine: unique symbol;

export interface Transition {
  readonly from: EndorsementStatus;
  readonly to: EndorsementStatus;
  readonly trigger: Trigger;
  readonly cause: TransitionCause;
  readonly [madeByTheMachine]: true;
}

export const INITIAL_STATUS: EndorsementStatus = 'INACTIVE';

export function targetOf(from: EndorsementStatus, trigger: Trigger): EndorsementStatus | undefined {
  return (EDGES[trigger] as Partial<Record<EndorsementStatus, EndorsementStatus>>)[from];
}

/** The move `trigger` makes from `from`, or undefined when it is not legal there. */
export function transition(from: EndorsementStatus, trigger: Trigger, cause: TransitionCause): Transition | undefined {
  const to = targetOf(from, trigger);
  return to === undefined ? undefined : ({ from, to, trigger, cause } as Transition);
}

/** Statuses reachable from `from` in one legal move. */
export function legalTargets(from: EndorsementStatus): EndorsementStatus[] {
  return [...new Set(TRIGGERS.map((trigger) => targetOf(from, trigger)).filter((to) => to !== undefined))];
}

/** The move to `to` in one legal step, whichever trigger makes it (sandbox controls name a status, not a trigger). */
export function transitionTo(from: EndorsementStatus, to: EndorsementStatus, cause: TransitionCause): Transition | undefined {
  const trigger = TRIGGERS.find((t) => targetOf(from, t) === to);
  return trigger === undefined ? undefined : transition(from, trigger, cause);
}
