import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Db } from '../../db/database.js';
import { scopeOf } from '../../http/authenticate.js';
import { runIdempotent } from '../../http/idempotency.js';
import { errorResponses, idempotencyHeaders } from '../../http/route-docs.js';
import { IdParam } from '../../http/schema-helpers.js';
import { CustomerTransactionListQuery, Transaction, TransactionCreate, TransactionGetQuery, TransactionList, TransactionListQuery } from './transactions.schemas.js';
import type { TransactionsService } from './transactions.service.js';

const tags = ['Transactions'];

export function transactionsRoutes(db: Db, transactions: TransactionsService): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/transactions',
      {
        schema: {
          operationId: 'createTransaction',
          summary: 'Accept a quote: the transfer starts, its amount held',
          description:
            'Refusals: 422 customer_inactive, endorsement_required (basic), quote_expired, quote_not_open, insufficient_funds — each leaves the quote open and nothing moved. ' +
            'The transaction starts processing and settles asynchronously; events transaction.cryptoToCrypto.processing, then completed or failed.',
          tags,
          headers: idempotencyHeaders(true),
          body: TransactionCreate,
          response: { 201: Transaction, ...errorResponses(400, 401, 404, 409, 413, 415, 422, 429) },
        },
      },
      (request, reply) =>
        runIdempotent(db, scopeOf(request), request, reply, { required: true, status: 201 }, (executor) => transactions.create(executor, scopeOf(request), request.body)),
    );

    app.get(
      '/transactions',
      {
        schema: {
          operationId: 'listTransactions',
          summary: 'List transactions',
          tags,
          querystring: TransactionListQuery,
          response: { 200: TransactionList, ...errorResponses(400, 401, 429) },
        },
      },
      (request) => transactions.list(db, scopeOf(request), request.query),
    );

    app.get(
      '/transactions/:transactionId',
      {
        schema: {
          operationId: 'getTransaction',
          summary: 'Retrieve a transaction',
          tags,
          params: IdParam('transactionId', 'txn_01jd8x3mc6eskv4hzbmt9hdby7'),
          querystring: TransactionGetQuery,
          response: { 200: Transaction, ...errorResponses(400, 401, 404, 429) },
        },
      },
      (request) => transactions.get(db, scopeOf(request), request.params.transactionId, request.query),
    );

    app.get(
      '/customers/:customerId/transactions',
      {
        schema: {
          operationId: 'listCustomerTransactions',
          summary: 'Transactions a customer sent or received',
          tags,
          params: IdParam('customerId', 'cst_01jd8x3mc6eskv4hzbmt9hdby7'),
          querystring: CustomerTransactionListQuery,
          response: { 200: TransactionList, ...errorResponses(400, 401, 404, 429) },
        },
      },
      (request) => transactions.listForCustomer(db, scopeOf(request), request.params.customerId, request.query),
    );
  };
}
