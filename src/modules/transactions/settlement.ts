import type { Transaction } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { Mode, Scope } from '../../domain/scope.js';
import { newEvent, recordEvents } from '../../events/outbox.js';
import * as ledger from '../../ledger/ledger.js';
import { accountsPosted, completionMovement, refundMovement } from './settlement-movements.js';
import * as repo from './transactions.repo.js';
import { toTransactionView } from './transactions.view.js';

export type Outcome = repo.Outcome;

export interface Ending {
  record: repo.SettlementRecord;
  outcome: Outcome;
}

/**
 * Ends processing transactions, in the caller's transaction and under their row locks: the
 * final statuses, the events that report them, and the ledger entries (held funds delivered,
 * or returned); per scope, one statement each, however many transactions end together.
 * The accounts are locked last, in id order, so a wallet's own holds queue behind a batch for
 * as short a time as possible.
 */
export async function finishAll(trx: Transaction<Database>, endings: readonly Ending[], at: Date): Promise<void> {
  const byScope = new Map<string, { scope: Scope; endings: Ending[]; movements: ledger.Movement[] }>();
  const locked: { projectId: string; mode: Mode; id: string }[] = [];
  for (const ending of endings) {
    const { record, outcome } = ending;
    const key = `${record.project_id}/${record.mode}`;
    const group = byScope.get(key) ?? { scope: { projectId: record.project_id, mode: record.mode }, endings: [], movements: [] };
    const movement = outcome.status === 'completed' ? completionMovement(record) : refundMovement(record);
    group.endings.push(ending);
    group.movements.push(movement);
    byScope.set(key, group);
    for (const id of accountsPosted(record, movement)) locked.push({ projectId: record.project_id, mode: record.mode, id });
  }
  for (const { scope, endings: group } of byScope.values()) {
    await repo.finalizeAll(trx, scope, group.map(({ record, outcome }) => ({ id: record.id, outcome })), at);
    await recordEvents(trx, scope, group.map(({ record, outcome }) => newEvent(`transaction.${record.type}.${outcome.status}`, endedView(record, outcome, at), at)));
  }
  await repo.lockAccounts(trx, locked);
  for (const { scope, movements } of byScope.values()) await ledger.postAll(trx, scope, movements, at);
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
