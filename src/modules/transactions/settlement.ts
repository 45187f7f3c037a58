import type { Transaction } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { Scope } from '../../domain/scope.js';
import { newEvent, recordEvents, type OutboxEvent } from '../../events/outbox.js';
import * as ledger from '../../ledger/ledger.js';
import { completionMovement, refundMovement } from './settlement-movements.js';
import * as repo from './transactions.repo.js';
import { toTransactionView } from './transactions.view.js';

export type Outcome = { status: 'completed' } | { status: 'failed'; code: string; message: string };

/**
 * Ends a processing transaction, in the caller's transaction and under its row lock: the
 * ledger entry (the held funds delivered, or returned), the final status, and the event
 * that reports it. Returns the event, which the caller writes (a batch writes all of its
 * events in one statement).
 */
export async function finish(trx: Transaction<Database>, record: repo.SettlementRecord, outcome: Outcome, at: Date): Promise<OutboxEvent> {
  const scope: Scope = { projectId: record.project_id, mode: record.mode };
  await ledger.post(trx, scope, outcome.status === 'completed' ? completionMovement(record) : refundMovement(record), at);
  const final: repo.Outcome = outcome.status === 'completed' ? { status: 'completed', at } : { ...outcome, at };
  await repo.finalize(trx, scope, record.id, final);
  const view = toTransactionView({
    ...record,
    status: outcome.status,
    sub_status: null,
    completed_at: outcome.status === 'completed' ? at : null,
    failure_code: outcome.status === 'failed' ? outcome.code : null,
    failure_message: outcome.status === 'failed' ? outcome.message : null,
    updated_at: at,
  });
  return newEvent(`transaction.${record.type}.${outcome.status}`, view, at);
}

/** Writes events of possibly several scopes, one statement per scope. */
export async function recordEventsOf(trx: Transaction<Database>, events: readonly { scope: Scope; event: OutboxEvent }[]): Promise<void> {
  const byScope = new Map<string, { scope: Scope; events: OutboxEvent[] }>();
  for (const { scope, event } of events) {
    const key = `${scope.projectId}/${scope.mode}`;
    const group = byScope.get(key) ?? { scope, events: [] };
    group.events.push(event);
    byScope.set(key, group);
  }
  for (const group of byScope.values()) await recordEvents(trx, group.scope, group.events);
}
