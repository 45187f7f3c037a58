import type { Db } from '../../db/database.js';
import { DomainError, notFound } from '../../domain/errors.js';
import type { Scope } from '../../domain/scope.js';
import { isoTimestamp } from '../../http/schema-helpers.js';
import * as ledger from '../../ledger/ledger.js';
import { endedView, finishAll } from '../transactions/settlement.js';
import * as transactions from '../transactions/transactions.repo.js';
import { toTransactionView } from '../transactions/transactions.view.js';
import type { TransactionView } from '../transactions/transactions.schemas.js';
import { recordAudit } from './operator.repo.js';
import type { OperatorTransactionView } from './operator.schemas.js';
import { scopeById } from './scope-by-id.js';

/** Failure code of a transaction an operator ended by hand. */
export const OPERATOR_FAILURE = { code: 'failed_by_operator', message: 'the transfer was stopped by an operator and the funds returned' } as const;

/**
 * The operator's view of a transaction (with its ledger entries) and the manual fail of one
 * stuck in processing: the held funds return to the source wallet, the transaction fails and
 * its event is emitted, in one database transaction under the transaction's row lock; audited.
 */
export interface TransactionOperations {
  view(transactionId: string): Promise<OperatorTransactionView>;
  fail(operator: string, transactionId: string, reason: string): Promise<TransactionView>;
}

export function createTransactionOperations({ db }: { db: Db }): TransactionOperations {
  const scopeOf = (id: string): Promise<Scope> => scopeById('transaction', id, (id) => transactions.findTransactionScope(db, id));

  return {
    async view(transactionId) {
      const scope = await scopeOf(transactionId);
      const [record, entries] = await Promise.all([transactions.findTransaction(db, scope, transactionId), ledger.entriesFor(db, scope, transactionId)]);
      if (!record) throw notFound('transaction');
      return {
        object: 'operatorTransaction',
        projectId: scope.projectId,
        mode: scope.mode,
        transaction: toTransactionView(record),
        entries: entries.map((e) => ({ entryId: e.id, kind: e.kind, createdAt: isoTimestamp(e.created_at), postings: e.postings })),
      };
    },

    async fail(operator, transactionId, reason) {
      const scope = await scopeOf(transactionId);
      return ledger.transaction(db, async (trx) => {
        const record = await transactions.lockProcessing(trx, scope, transactionId);
        if (!record) throw new DomainError('conflict', 'only a processing transaction can be failed');
        const at = new Date();
        const outcome = { status: 'failed', ...OPERATOR_FAILURE } as const;
        await finishAll(trx, [{ record, outcome }], at);
        await recordAudit(trx, scope, { operator, action: 'failTransaction', customerId: record.sender_customer_id, reason, detail: { transactionId } }, at);
        return endedView(record, outcome, at);
      });
    },
  };
}
