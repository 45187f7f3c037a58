import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { DomainError } from '../../domain/errors.js';
import { errorResponses } from '../../http/route-docs.js';
import { Customer } from '../customers/customers.schemas.js';
import { Wallet } from '../wallets/wallets.schemas.js';
import { Webhook } from '../webhooks/webhooks.schemas.js';
import type { WebhookOperations } from './webhook-operations.js';
import {
  ComplianceRecord,
  CustomerIdParams,
  DecisionBody,
  DecisionParams,
  OffboardBody,
  OperatorHeaders,
  ReviewQueue,
  ReviewQueueQuery,
  ComplianceOnlyBody,
  WalletActionBody,
  WalletIdParams,
  WebhookIdParams,
  WalletPostings,
  WalletPostingsQuery,
  OperatorTransaction,
  TransactionFailBody,
  TransactionIdParams,
} from './operator.schemas.js';
import type { TransactionOperations } from './transaction-operations.js';
import { Transaction } from '../transactions/transactions.schemas.js';
import type { OperatorService } from './operator.service.js';
import { WALLET_ACTIONS, type WalletAction, type WalletOperations } from './wallet-operations.js';

const tags = ['Operator'];

const WALLET_ACTION_SUMMARIES: Record<WalletAction, string> = {
  suspend: 'Suspend an active wallet: deposits still land, no money leaves it (audited)',
  reactivate: 'Reactivate a suspended wallet (audited)',
  close: 'Close a wallet for good, only when its balance is zero: nothing moves in or out after (audited)',
};
const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * /admin/v1: the operator's endpoints, behind `Authorization: Bearer <OMS_ADMIN_TOKEN>`
 * (app.ts registers them only when that token is configured). API keys never open them.
 */
export function operatorRoutes(
  adminToken: string,
  operator: OperatorService,
  walletOperations: WalletOperations,
  webhookOperations: WebhookOperations,
  transactionOperations: TransactionOperations,
): FastifyPluginAsyncTypebox {
  const expected = digest(adminToken);
  const authorize = async (request: FastifyRequest) => {
    const token = /^bearer +(.+)$/i.exec(request.headers.authorization ?? '')?.[1];
    // Digests first, so the comparison takes the same time whatever the token's length.
    if (!token || !timingSafeEqual(digest(token), expected)) throw new DomainError('unauthorized', 'send the admin token as "Authorization: Bearer <OMS_ADMIN_TOKEN>"');
  };
  const operatorOf = (request: FastifyRequest) => (request.headers['x-operator'] as string).trim();

  return async (app) => {
    app.addHook('onRequest', authorize);

    app.get(
      '/review-queue',
      {
        schema: {
          operationId: 'operatorReviewQueue',
          summary: 'Endorsements awaiting a decision, longest waiting first',
          tags,
          headers: OperatorHeaders,
          querystring: ReviewQueueQuery,
          response: { 200: ReviewQueue, ...errorResponses(400, 401) },
        },
      },
      async (request) => ({ object: 'list' as const, data: await operator.queue(request.query.status ?? 'PENDING', request.query.limit, request.query.mode) }),
    );

    app.get(
      '/customers/:customerId/compliance',
      {
        schema: {
          operationId: 'operatorComplianceRecord',
          summary: "A customer's full compliance record, PII included (audited)",
          tags,
          headers: OperatorHeaders,
          params: CustomerIdParams,
          response: { 200: ComplianceRecord, ...errorResponses(400, 401, 404) },
        },
      },
      (request) => operator.record(operatorOf(request), request.params.customerId),
    );

    app.post(
      '/customers/:customerId/endorsements/:name/decisions',
      {
        schema: {
          operationId: 'operatorDecideEndorsement',
          summary: 'Approve, mark issues, revoke or reject an endorsement (audited)',
          tags,
          headers: OperatorHeaders,
          params: DecisionParams,
          body: DecisionBody,
          response: { 200: Customer, ...errorResponses(400, 401, 404, 409) },
        },
      },
      (request) => operator.decide(operatorOf(request), request.params.customerId, request.params.name, request.body),
    );

    app.post(
      '/customers/:customerId/offboard',
      {
        schema: {
          operationId: 'operatorOffboardCustomer',
          summary: 'Offboard a customer: every endorsement OFFBOARDED, the customer inactive (audited)',
          tags,
          headers: OperatorHeaders,
          params: CustomerIdParams,
          body: OffboardBody,
          response: { 200: Customer, ...errorResponses(400, 401, 404) },
        },
      },
      (request) => operator.offboard(operatorOf(request), request.params.customerId, request.body.reason),
    );

    for (const action of WALLET_ACTIONS) {
      app.post(
        `/wallets/:walletId/${action}`,
        {
          schema: {
            operationId: `operator${action[0]!.toUpperCase()}${action.slice(1)}Wallet`,
            summary: WALLET_ACTION_SUMMARIES[action],
            description: 'The ledger enforces the status under the account row lock: a movement lands before the change or is refused after it.',
            tags,
            headers: OperatorHeaders,
            params: WalletIdParams,
            body: WalletActionBody,
            response: { 200: Wallet, ...errorResponses(400, 401, 404, 409) },
          },
        },
        (request) => walletOperations.act(operatorOf(request), request.params.walletId, action, request.body.reason),
      );
    }

    app.post(
      '/webhooks/:webhookId/compliance-only',
      {
        schema: {
          operationId: 'operatorSetWebhookComplianceOnly',
          summary: 'Make an endpoint compliance-only, or ordinary again (audited)',
          description: 'A compliance-only endpoint receives underReview and nothing else; ordinary endpoints never receive it. Its event filter is cleared.',
          tags,
          headers: OperatorHeaders,
          params: WebhookIdParams,
          body: ComplianceOnlyBody,
          response: { 200: Webhook, ...errorResponses(400, 401, 404) },
        },
      },
      (request) => webhookOperations.setComplianceOnly(operatorOf(request), request.params.webhookId, request.body.complianceOnly, request.body.reason),
    );

    app.get(
      '/wallets/:walletId/postings',
      {
        schema: {
          operationId: 'operatorWalletPostings',
          summary: "A wallet's ledger postings, newest first, each with the entry's other legs",
          tags,
          headers: OperatorHeaders,
          params: WalletIdParams,
          querystring: WalletPostingsQuery,
          response: { 200: WalletPostings, ...errorResponses(400, 401, 404) },
        },
      },
      (request) => walletOperations.postings(request.params.walletId, request.query),
    );

    app.get(
      '/transactions/:transactionId',
      {
        schema: {
          operationId: 'operatorGetTransaction',
          summary: 'A transaction with its ledger entries (hold, settlement or refund)',
          tags,
          headers: OperatorHeaders,
          params: TransactionIdParams,
          response: { 200: OperatorTransaction, ...errorResponses(400, 401, 404) },
        },
      },
      (request) => transactionOperations.view(request.params.transactionId),
    );

    app.post(
      '/transactions/:transactionId/fail',
      {
        schema: {
          operationId: 'operatorFailTransaction',
          summary: 'Fail a transaction stuck in processing: the held funds return (audited)',
          description: 'failure.code failed_by_operator; emits transaction.{type}.failed. 409 unless processing.',
          tags,
          headers: OperatorHeaders,
          params: TransactionIdParams,
          body: TransactionFailBody,
          response: { 200: Transaction, ...errorResponses(400, 401, 404, 409) },
        },
      },
      (request) => transactionOperations.fail(operatorOf(request), request.params.transactionId, request.body.reason),
    );
  };
}
