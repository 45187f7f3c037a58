import type { Transaction } from 'kysely';
import { afterCustomerWrite, chain, isCheckInput, isUnderCheck, type EndorsementState, type EvaluationOutcome } from '../../compliance/evaluation.js';
import { decideInSandbox } from '../../compliance/sandbox-outcomes.js';
import type { SanctionsHit } from '../../compliance/sanctions/matcher.js';
import type { ComplianceSubject } from '../../compliance/subject.js';
import type { Database, EndorsementRow } from '../../db/schema.js';
import type { EndorsementName, EndorsementStatus } from '../../domain/endorsements.js';
import type { Mode, Scope } from '../../domain/scope.js';
import { newEvent, recordEvents, type OutboxEvent } from '../../events/outbox.js';
import { PII_FIELDS, type CustomerPii } from './customer-pii.js';
import type { CustomerPatchBody, CustomerWalletView } from './customers.schemas.js';
import { bumpCustomerVersion, type PublicCustomerRow } from './customers.repo.js';
import { toCustomerView } from './customers.view.js';
import { appendHistory, enqueueEvaluation, toEndorsementState, updateEndorsements } from './endorsements.repo.js';

/**
 * Where the customers module meets the compliance engine: what a write means for the
 * endorsements, and how an evaluation's outcome is stored (rows, history, events, job) in the
 * caller's transaction, under the customer's row lock.
 */

export function toSubject(row: PublicCustomerRow, pii: CustomerPii): ComplianceSubject {
  return {
    ...pii,
    firstName: row.first_name,
    middleName: row.middle_name,
    lastName: row.last_name,
    email: row.email,
    phone: row.phone,
    nationality: row.nationality,
    signedAgreement: row.signed_agreement,
  };
}

/**
 * Whether a PATCH could move an endorsement, judged before any PII is opened: it names
 * endorsements, sends PII, changes a field checks read while checks matter, or supplies a
 * field an endorsement still misses. Anything else is a profile edit, written without the lock.
 */
export function patchMayMoveEndorsements(mode: Mode, patch: CustomerPatchBody, endorsements: readonly EndorsementRow[]): boolean {
  if ((patch.endorsements?.length ?? 0) > 0) return true;
  const sent = Object.keys(patch).filter((field) => patch[field as keyof CustomerPatchBody] !== undefined);
  if (sent.some((field) => (PII_FIELDS as readonly string[]).includes(field))) return true;
  const checksMatter = endorsements.some((e) => isUnderCheck(e.status as EndorsementStatus));
  if (checksMatter && sent.some((field) => isCheckInput(mode, field))) return true;
  return endorsements.some((e) => e.requirements.missing.some((field) => sent.includes(field)));
}

export interface WriteEffect {
  checkInputChanged: boolean;
  named: ReadonlySet<EndorsementName>;
}

/**
 * Live: requirements are recomputed and checks queued for the worker. Sandbox: checks are
 * decided at once, so the write's response already shows the outcome (spec 3.3).
 */
export function evaluateWrite(scope: Scope, rows: readonly EndorsementRow[], subject: ComplianceSubject, effect: WriteEffect): EvaluationOutcome {
  const states = rows.map(toEndorsementState);
  const sandbox = scope.mode === 'sandbox';
  const written = afterCustomerWrite(states, subject, { ...effect, ignoreMissing: sandbox, cause: 'customer_update' });
  return sandbox && written.checksDue ? chain(written, (next) => decideInSandbox(next, subject)) : written;
}

function sameState(row: EndorsementRow, state: EndorsementState): boolean {
  const lists = ['complete', 'pending', 'missing', 'issues'] as const;
  return (
    row.status === state.status &&
    lists.every((list) => JSON.stringify(row.requirements[list]) === JSON.stringify(state.requirements[list])) &&
    JSON.stringify(row.rejection_reasons) === JSON.stringify(state.rejectionReasons)
  );
}

/** The endorsement rows as they will read once the outcome is stored. */
export function applyOutcome(rows: readonly EndorsementRow[], outcome: EvaluationOutcome, at: Date): EndorsementRow[] {
  const states = new Map(outcome.endorsements.map((state) => [state.name, state]));
  return rows.map((row) => {
    const state = states.get(row.name as EndorsementName);
    if (!state || sameState(row, state)) return row;
    return { ...row, status: state.status, requirements: state.requirements, rejection_reasons: state.rejectionReasons, updated_at: at };
  });
}

/**
 * Stores an outcome: changed endorsements, one history row per move, its events
 * (`customer.endorsement.updated`, plus `granted` or `rejected`), the compliance-only
 * `underReview`, and a job when live checks are due. Returns the rows as stored.
 */
export async function saveOutcome(
  trx: Transaction<Database>,
  scope: Scope,
  customer: PublicCustomerRow,
  wallets: readonly CustomerWalletView[],
  before: readonly EndorsementRow[],
  outcome: EvaluationOutcome,
  at: Date,
  options: { review?: SanctionsHit | undefined; alsoRecord?: OutboxEvent[] } = {},
): Promise<EndorsementRow[]> {
  const after = applyOutcome(before, outcome, at);
  const changed = after.filter((row, i) => row !== before[i]);
  if (changed.length > 0) {
    await updateEndorsements(trx, scope, customer.id, changed.map(toEndorsementState), at);
    await bumpCustomerVersion(trx, scope, customer.id);
  }
  await appendHistory(trx, scope, customer.id, outcome.moves, at);

  const view = toCustomerView(customer, after, wallets);
  const events: OutboxEvent[] = [...(options.alsoRecord ?? [])];
  for (const { name, transition } of outcome.moves) {
    const detail = { endorsement: { name, status: transition.to, previousStatus: transition.from } };
    events.push(newEvent('customer.endorsement.updated', view, at, detail));
    if (transition.to === 'ACTIVE') events.push(newEvent('customer.endorsement.granted', view, at, detail));
    if (transition.to === 'REJECTED') events.push(newEvent('customer.endorsement.rejected', view, at, detail));
  }
  if (outcome.underReview) {
    const names = outcome.endorsements.filter((e) => e.requirements.issues.includes('sanctionsMatch')).map((e) => e.name);
    const watchlistEntryId = options.review?.entryId ?? null;
    events.push(newEvent('underReview', view, at, { review: { reason: 'sanctionsMatch', endorsements: names, watchlistEntryId } }));
  }
  await recordEvents(trx, scope, events);
  if (outcome.checksDue && scope.mode === 'live') await enqueueEvaluation(trx, scope, customer.id, at);
  return after;
}
