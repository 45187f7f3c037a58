import { randomUUID } from 'node:crypto';
import { sql, type Transaction } from 'kysely';
import type { Db } from '../../db/database.js';
import type { Database, EndorsementRow } from '../../db/schema.js';
import { INITIAL_STATUS, type Transition } from '../../compliance/endorsement-machine.js';
import type { EndorsementState } from '../../compliance/evaluation.js';
import type { EndorsementName, EndorsementStatus } from '../../domain/endorsements.js';
import type { Scope } from '../../domain/scope.js';

/**
 * SQL for endorsement statuses, their history and evaluation jobs. Callers hold the
 * customer's row lock (customers.repo findCustomer forUpdate, or a fresh insert), which is
 * what serialises every change to one customer's endorsements.
 */

const NO_REQUIREMENTS = { complete: [], pending: [], missing: [], issues: [] };

export function toEndorsementState(row: EndorsementRow): EndorsementState {
  return {
    name: row.name as EndorsementName,
    status: row.status as EndorsementStatus,
    requirements: row.requirements,
    rejectionReasons: row.rejection_reasons,
  };
}

/** Creates endorsements the customer does not have yet, at the initial status, with their birth in the history. */
export async function insertEndorsements(
  trx: Transaction<Database>,
  scope: Scope,
  customerId: string,
  names: readonly EndorsementName[],
  at: Date,
): Promise<EndorsementRow[]> {
  if (names.length === 0) return [];
  const rows = await trx
    .insertInto('customer_endorsements')
    .values(
      names.map((name) => ({
        project_id: scope.projectId,
        mode: scope.mode,
        customer_id: customerId,
        name,
        status: INITIAL_STATUS,
        requirements: JSON.stringify(NO_REQUIREMENTS),
        rejection_reasons: '[]',
        created_at: at,
        updated_at: at,
      })),
    )
    .onConflict((oc) => oc.columns(['project_id', 'mode', 'customer_id', 'name']).doNothing())
    .returningAll()
    .execute();
  if (rows.length > 0) {
    await trx
      .insertInto('endorsement_history')
      .values(
        rows.map((row) => ({
          project_id: scope.projectId,
          mode: scope.mode,
          customer_id: customerId,
          name: row.name,
          seq: 1,
          from_status: null,
          to_status: row.status,
          cause: 'customer_update',
          at,
        })),
      )
      .execute();
  }
  return rows;
}

/** Writes endorsements' new statuses and requirements, in one statement. */
export async function updateEndorsements(trx: Transaction<Database>, scope: Scope, customerId: string, states: readonly EndorsementState[], at: Date): Promise<void> {
  if (states.length === 0) return;
  const rows = states.map(
    (state) => sql`(${state.name}, ${state.status}, ${JSON.stringify(state.requirements)}::jsonb, ${JSON.stringify(state.rejectionReasons)}::jsonb)`,
  );
  await sql`
    update customer_endorsements e
       set status = v.status, requirements = v.requirements, rejection_reasons = v.rejection_reasons, updated_at = ${at}::timestamptz
      from (values ${sql.join(rows)}) as v(name, status, requirements, rejection_reasons)
     where e.project_id = ${scope.projectId} and e.mode = ${scope.mode} and e.customer_id = ${customerId} and e.name = v.name`.execute(trx);
}

export interface HistoryMove {
  name: EndorsementName;
  transition: Transition;
}

/**
 * Appends moves to the endorsements' histories, in one statement: each move numbered right
 * after the endorsement's latest entry, in the order given (one endorsement may move twice).
 */
export async function appendHistory(trx: Transaction<Database>, scope: Scope, customerId: string, moves: readonly HistoryMove[], at: Date): Promise<void> {
  if (moves.length === 0) return;
  const rows = moves.map((move, i) => sql`(${i}::int, ${move.name}, ${move.transition.from}, ${move.transition.to}, ${move.transition.cause})`);
  await sql`
    insert into endorsement_history (project_id, mode, customer_id, name, seq, from_status, to_status, cause, at)
    select ${scope.projectId}, ${scope.mode}, ${customerId}, v.name,
           coalesce((select max(h.seq) from endorsement_history h
                      where h.project_id = ${scope.projectId} and h.mode = ${scope.mode} and h.customer_id = ${customerId} and h.name = v.name), 0)
             + row_number() over (partition by v.name order by v.ord),
           v.from_status, v.to_status, v.cause, ${at}::timestamptz
      from (values ${sql.join(rows)}) as v(ord, name, from_status, to_status, cause)`.execute(trx);
}

export async function listHistory(db: Db, scope: Scope, customerId: string) {
  return db
    .selectFrom('endorsement_history')
    .select(['name', 'seq', 'from_status', 'to_status', 'cause', 'at'])
    .where('project_id', '=', scope.projectId)
    .where('mode', '=', scope.mode)
    .where('customer_id', '=', customerId)
    .orderBy('name')
    .orderBy('seq')
    .execute();
}

/** Workers LISTEN here; PostgreSQL delivers the notification only if the enqueuing transaction commits. */
export const EVALUATION_CHANNEL = 'oms_evaluation_jobs';

/**
 * Asks for the customer's endorsements to be checked. A job already waiting is replaced by
 * this one (new job_id, due now, unclaimed): it carries the newer data.
 */
export async function enqueueEvaluation(trx: Transaction<Database>, scope: Scope, customerId: string, at: Date): Promise<void> {
  await trx
    .insertInto('evaluation_jobs')
    .values({
      project_id: scope.projectId,
      mode: scope.mode,
      customer_id: customerId,
      job_id: randomUUID(),
      run_after: at,
      claimed_by: null,
      claimed_until: null,
      created_at: at,
    })
    .onConflict((oc) =>
      oc.columns(['project_id', 'mode', 'customer_id']).doUpdateSet((eb) => ({
        job_id: eb.ref('excluded.job_id'),
        run_after: eb.ref('excluded.run_after'),
        claimed_by: null,
        claimed_until: null,
        attempts: 0,
      })),
    )
    .execute();
  await sql`select pg_notify(${EVALUATION_CHANNEL}, '')`.execute(trx);
}

export interface ClaimedJob {
  scope: Scope;
  customerId: string;
  jobId: string;
  attempts: number;
}

/**
 * Takes up to `limit` due jobs for `workerId` for `leaseSeconds`. SKIP LOCKED lets any number
 * of workers claim side by side; the lease lets another worker take over a job whose worker died.
 */
export async function claimEvaluationJobs(db: Db, workerId: string, limit: number, leaseSeconds: number): Promise<ClaimedJob[]> {
  const { rows } = await sql<{ project_id: string; mode: Scope['mode']; customer_id: string; job_id: string; attempts: number }>`
    update evaluation_jobs j
       set claimed_by = ${workerId}, claimed_until = now() + make_interval(secs => ${leaseSeconds}), attempts = j.attempts + 1
      from (select project_id, mode, customer_id
              from evaluation_jobs
             where run_after <= now() and (claimed_until is null or claimed_until < now())
             order by run_after
             limit ${limit}
             for update skip locked) due
     where j.project_id = due.project_id and j.mode = due.mode and j.customer_id = due.customer_id
    returning j.project_id, j.mode, j.customer_id, j.job_id, j.attempts`.execute(db);
  return rows.map((r) => ({ scope: { projectId: r.project_id, mode: r.mode }, customerId: r.customer_id, jobId: r.job_id, attempts: r.attempts }));
}

/** Removes the job if it is still this one; false when a newer write replaced it. */
export async function completeEvaluationJob(trx: Transaction<Database>, job: ClaimedJob): Promise<boolean> {
  const deleted = await trx
    .deleteFrom('evaluation_jobs')
    .where('project_id', '=', job.scope.projectId)
    .where('mode', '=', job.scope.mode)
    .where('customer_id', '=', job.customerId)
    .where('job_id', '=', job.jobId)
    .executeTakeFirst();
  return deleted.numDeletedRows === 1n;
}

/** Gives a failed job back, due again at `retryAt`, unless a newer write replaced it meanwhile. */
export async function releaseEvaluationJob(db: Db, job: ClaimedJob, retryAt: Date): Promise<void> {
  await db
    .updateTable('evaluation_jobs')
    .set({ claimed_by: null, claimed_until: null, run_after: retryAt })
    .where('project_id', '=', job.scope.projectId)
    .where('mode', '=', job.scope.mode)
    .where('customer_id', '=', job.customerId)
    .where('job_id', '=', job.jobId)
    .execute();
}
