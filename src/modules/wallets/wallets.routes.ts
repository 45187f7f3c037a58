import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Db } from '../../db/database.js';
import { scopeOf } from '../../http/authenticate.js';
import { runIdempotent } from '../../http/idempotency.js';
import { errorResponses, idempotencyHeaders } from '../../http/route-docs.js';
import { IdParam } from '../../http/schema-helpers.js';
import { BalanceQuery, CustomerBalance, Wallet, WalletBalance, WalletCreate, WalletList, WalletListQuery } from './wallets.schemas.js';
import type { WalletsService } from './wallets.service.js';

const CustomerIdParams = IdParam('customerId', 'cst_01jd8x3mc6eskv4hzbmt9hdby7');
const WalletIdParams = IdParam('walletId', 'wlt_01jd8x3mc6eskv4hzbmt9hdby7');
const tags = ['Wallets'];

export function walletsRoutes(db: Db, wallets: WalletsService): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/customers/:customerId/wallets',
      {
        schema: {
          operationId: 'createWallet',
          summary: 'Open a custodial wallet',
          description: 'Needs cryptoCustody ACTIVE (422 endorsement_required) and an active customer (422 customer_inactive); one wallet per asset and chain (409).',
          tags,
          headers: idempotencyHeaders(true),
          params: CustomerIdParams,
          body: WalletCreate,
          response: { 201: Wallet, ...errorResponses(400, 401, 404, 409, 413, 415, 422, 429) },
        },
      },
      (request, reply) =>
        runIdempotent(db, scopeOf(request), request, reply, { required: true, status: 201 }, (executor) =>
          wallets.create(executor, scopeOf(request), request.params.customerId, request.body),
        ),
    );

    app.get(
      '/customers/:customerId/wallets',
      {
        schema: {
          operationId: 'listCustomerWallets',
          summary: "List a customer's wallets",
          tags,
          params: CustomerIdParams,
          querystring: WalletListQuery,
          response: { 200: WalletList, ...errorResponses(400, 401, 404, 429) },
        },
      },
      (request) => wallets.listForCustomer(db, scopeOf(request), request.params.customerId, request.query),
    );

    app.get(
      '/customers/:customerId/balance',
      {
        schema: {
          operationId: 'getCustomerBalance',
          summary: "A customer's balances, with their estimated value",
          tags,
          params: CustomerIdParams,
          querystring: BalanceQuery,
          response: { 200: CustomerBalance, ...errorResponses(400, 401, 404, 429) },
        },
      },
      (request) => wallets.customerBalance(db, scopeOf(request), request.params.customerId),
    );

    app.get(
      '/wallets/:walletId',
      {
        schema: { operationId: 'getWallet', summary: 'Retrieve a wallet', tags, params: WalletIdParams, response: { 200: Wallet, ...errorResponses(401, 404, 429) } },
      },
      (request) => wallets.get(db, scopeOf(request), request.params.walletId),
    );

    app.get(
      '/wallets/:walletId/balance',
      {
        schema: {
          operationId: 'getWalletBalance',
          summary: "A wallet's balance, from the ledger",
          tags,
          params: WalletIdParams,
          querystring: BalanceQuery,
          response: { 200: WalletBalance, ...errorResponses(400, 401, 404, 429) },
        },
      },
      (request) => wallets.balance(db, scopeOf(request), request.params.walletId),
    );
  };
}
