import type { Transaction } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { Scope } from '../../domain/scope.js';
import { newEvent, recordEvents } from '../../events/outbox.js';
import * as ledger from '../../ledger/ledger.js';
import { completionMovement, refundMovement } from './settlement-movements.js';
import * as repo from './transactions.repo.js';
import { toTransactionView } from './transactions.view.js';

export type Outcome = repo.Outcome;

export interface Ending {
  record: repo.SettlementRecord;
  outcome: Outcome;
}

/**
 * Ends processing transactions, in the caller's transaction and under their row locks: the
 * ledger entries (held funds delivered, or returned), the final statuses, and the events that
 * report them; per scope, one statement each, however many transactions end together.
 */
export async function finishAll(trx: Transaction<Database>, endings: readonly Ending[], at: Date): Promise<void> {
  const byScope = new Map<string, { scope: Scope; endings: Ending[] }>();
  for (const ending of endings) {
    const key = `${ending.record.project_id}/${ending.record.mode}`;
    const group = byScope.get(key) ?? { scope: { projectId: ending.record.project_id, mode: ending.record.mode }, endings: [] };
    group.endings.push(ending);
    byScope.set(key, group);
  }
  for (const { scope, endings: group } of byScope.values()) {
    await ledger.postAll(trx, scope, group.map(({ record, outcome }) => (outcome.status === 'completed' ? completionMovement(record) : refundMovement(record))), at);
    await repo.finalizeAll(trx, scope, group.map(({ record, outcome }) => ({ id: record.id, outcome })), at);
    await recordEvents(trx, scope, group.map(({ record, outcome }) => newEvent(`transaction.${record.type}.${outcome.status}`, endedView(record, outcome, at), at)));
  }
}

/** The transaction as the API shows it once `finishAll` has ended it with `outcome` at `at`. */
export function endedView(record: repo.SettlementRecord, outcome: Outcome, at: Date) {
  return toTransactionView({
    ...record,
    status: outcome.status,
    sub_status: null,
    completed_at: outcome.status === 'completed' ? at : null,
    failure_code: outcome.status === 'failed' ? outcome.code : null,
    failure_message: outcome.status === 'failed' ? outcome.message : null,
    updated_at: at,
  });
}
