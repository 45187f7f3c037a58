import type { Db } from '../../db/database.js';
import { inTransaction } from '../../db/transactions.js';
import { DomainError, notFound, validationError } from '../../domain/errors.js';
import { assertId, isId, newId } from '../../domain/ids.js';
import type { Scope } from '../../domain/scope.js';
import { newEvent } from '../../events/outbox.js';
import { parsePageQuery, toPage, type Page } from '../../http/pagination.js';
import * as ledger from '../../ledger/ledger.js';
import * as customers from '../customers/customers.repo.js';
import { holdMovement } from './settlement-movements.js';
import * as repo from './transactions.repo.js';
import type { TransactionCreateBody, TransactionListQueryParams, TransactionView } from './transactions.schemas.js';
import { roleOf, toTransactionView } from './transactions.view.js';

/**
 * Transactions (spec 5.2). Creating one accepts its quote and holds the source amount in one
 * database transaction; the settlement worker delivers or returns it later.
 */
export interface TransactionsService {
  create(db: Db, scope: Scope, body: TransactionCreateBody): Promise<TransactionView>;
  get(db: Db, scope: Scope, id: string, perspective: { senderCustomerId?: string | undefined; recipientCustomerId?: string | undefined }): Promise<TransactionView>;
  list(db: Db, scope: Scope, query: TransactionListQueryParams): Promise<Page<TransactionView>>;
  listForCustomer(db: Db, scope: Scope, customerId: string, query: Omit<TransactionListQueryParams, 'customerId'>): Promise<Page<TransactionView>>;
}

/** What the client said about the request: kept with the transaction for review, never returned. */
function clientContext(body: TransactionCreateBody): Record<string, unknown> {
  const { partnerTransactionId, tags, deviceFingerprint, webSessionId, paymentMethodId } = body;
  return Object.fromEntries(Object.entries({ partnerTransactionId, tags, deviceFingerprint, webSessionId, paymentMethodId }).filter(([, value]) => value !== undefined));
}

export function createTransactionsService(): TransactionsService {
  async function page(db: Db, scope: Scope, customerId: string | undefined, query: Omit<TransactionListQueryParams, 'customerId'>) {
    const request = parsePageQuery(query, 'transaction');
    const rows = await repo.listTransactions(db, scope, { status: query.status, type: query.type, customerId }, request);
    return toPage(rows, request, (row) => toTransactionView(row, customerId === undefined ? null : roleOf(row, customerId)));
  }

  return {
    create: (db, scope, body) =>
      inTransaction(db, async (trx) => {
        assertId('quote', body.quoteId);
        const found = await repo.findAcceptance(trx, scope, body.quoteId);
        if (!found) throw notFound('quote');
        const { quote, source, customer } = found;
        if (body.sourceWalletAddress !== undefined && body.sourceWalletAddress.toLowerCase() !== source.address.toLowerCase()) {
          throw validationError('/sourceWalletAddress', 'is not the address of the quote’s source wallet');
        }
        if (customer.status !== 'active') throw new DomainError('customer_inactive', 'the customer is inactive and can send nothing');
        if (customer.basic !== 'ACTIVE') throw new DomainError('endorsement_required', 'the basic endorsement must be ACTIVE to send');
        if (quote.status === 'accepted') throw new DomainError('quote_not_open', 'the quote was already accepted');

        const at = new Date();
        const onChain = quote.destination_wallet_id === null;
        const row: repo.NewTransaction = {
          id: newId('transaction'),
          type: quote.type,
          status: 'processing',
          sub_status: onChain ? 'pendingSubmission' : 'pendingSettlement',
          quote_id: quote.id,
          sender_customer_id: quote.customer_id,
          recipient_customer_id: found.recipientCustomerId,
          metadata: body.metadata ?? {},
          client_context: clientContext(body),
          settle_after: at,
          created_at: at,
          updated_at: at,
        };
        const view = toTransactionView({ ...quote, ...row, tx_hash: null, submitted_at: null, failure_code: null, failure_message: null, completed_at: null });
        if (!(await repo.acceptQuote(trx, scope, row, newEvent(`transaction.${row.type}.processing`, view, at), at))) {
          // Read again: a concurrent acceptance that committed since the first read is visible now.
          const again = await repo.findAcceptance(trx, scope, quote.id);
          if (again?.quote.status === 'accepted') throw new DomainError('quote_not_open', 'the quote was already accepted');
          throw new DomainError('quote_expired', 'the quote has expired; ask for a new one');
        }
        // Last: the hold takes the source wallet's row lock, held until commit.
        await ledger.post(trx, scope, holdMovement(row.id, source, quote.source_amount_gross), at);
        return view;
      }),

    async get(db, scope, id, perspective) {
      assertId('transaction', id);
      const record = await repo.findTransaction(db, scope, id);
      if (!record) throw notFound('transaction');
      const { senderCustomerId, recipientCustomerId } = perspective;
      // Seen as a customer it does not concern, the transaction does not exist.
      if (senderCustomerId !== undefined && (!isId('customer', senderCustomerId) || record.sender_customer_id !== senderCustomerId)) throw notFound('transaction');
      if (recipientCustomerId !== undefined && (!isId('customer', recipientCustomerId) || record.recipient_customer_id !== recipientCustomerId)) throw notFound('transaction');
      if (senderCustomerId !== undefined && recipientCustomerId !== undefined) return toTransactionView(record, 'both');
      const viewer = senderCustomerId ?? recipientCustomerId;
      return toTransactionView(record, viewer === undefined ? null : roleOf(record, viewer));
    },

    async list(db, scope, query) {
      const { customerId, ...rest } = query;
      if (customerId !== undefined && !isId('customer', customerId)) throw validationError('/query/customerId', 'is not a customer id');
      return page(db, scope, customerId, rest);
    },

    async listForCustomer(db, scope, customerId, query) {
      assertId('customer', customerId);
      if (!(await customers.customerExists(db, scope, customerId))) throw notFound('customer');
      return page(db, scope, customerId, query);
    },
  };
}
