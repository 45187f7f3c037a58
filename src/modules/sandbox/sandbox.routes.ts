import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Db } from '../../db/database.js';
import { DomainError } from '../../domain/errors.js';
import { scopeOf } from '../../http/authenticate.js';
import { runIdempotent } from '../../http/idempotency.js';
import { errorResponses, idempotencyHeaders } from '../../http/route-docs.js';
import type { EndorsementControls } from '../customers/endorsement-controls.js';
import { Customer } from '../customers/customers.schemas.js';
import { IdParam } from '../../http/schema-helpers.js';
import { Deposit, DepositBody } from '../wallets/wallets.schemas.js';
import type { WalletsService } from '../wallets/wallets.service.js';
import { ForceEndorsementBody, ForceEndorsementParams } from './sandbox.schemas.js';

const tags = ['Sandbox'];

/** Sandbox controls (spec 3.3). To a live key they do not exist: 404, like any unknown route. */
export function sandboxRoutes(db: Db, controls: EndorsementControls, wallets: WalletsService): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.addHook('onRequest', async (request) => {
      if (scopeOf(request).mode !== 'sandbox') throw new DomainError('not_found', `no route for ${request.method} ${request.url.split('?')[0]}`);
    });

    app.post(
      '/sandbox/customers/:customerId/endorsements/:name',
      {
        schema: {
          operationId: 'sandboxForceEndorsement',
          summary: 'Force an endorsement status (sandbox)',
          description:
            'Moves the endorsement to `status` by one legal transition of the state machine, with the same history and events as a real one; ' +
            '409 when no legal transition leads there. OFFBOARDED offboards the customer. Sandbox keys only.',
          tags,
          headers: idempotencyHeaders(true),
          params: ForceEndorsementParams,
          body: ForceEndorsementBody,
          response: { 200: Customer, ...errorResponses(400, 401, 404, 409, 413, 415, 422, 429) },
        },
      },
      (request, reply) =>
        runIdempotent(db, scopeOf(request), request, reply, { required: true, status: 200 }, (executor) =>
          controls.force(executor, scopeOf(request), request.params.customerId, request.params.name, request.body.status, request.body, 'sandbox_control'),
        ),
    );

    app.post(
      '/sandbox/wallets/:walletId/deposit',
      {
        schema: {
          operationId: 'sandboxDeposit',
          summary: 'Simulate an incoming on-chain deposit (sandbox)',
          description: 'Credits the wallet from the outside world in the ledger, with a synthetic transaction hash, and emits wallet.depositDetected. Sandbox keys only.',
          tags,
          headers: idempotencyHeaders(true),
          params: IdParam('walletId', 'wlt_01jd8x3mc6eskv4hzbmt9hdby7'),
          body: DepositBody,
          response: { 200: Deposit, ...errorResponses(400, 401, 404, 409, 413, 415, 422, 429) },
        },
      },
      (request, reply) =>
        runIdempotent(db, scopeOf(request), request, reply, { required: true, status: 200 }, (executor) =>
          wallets.sandboxDeposit(executor, scopeOf(request), request.params.walletId, request.body.amount),
        ),
    );
  };
}
