import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Db } from '../../db/database.js';
import { scopeOf } from '../../http/authenticate.js';
import { runIdempotent } from '../../http/idempotency.js';
import { errorResponses, idempotencyHeaders } from '../../http/route-docs.js';
import { IdParam } from '../../http/schema-helpers.js';
import { Quote, QuoteCreate } from './quotes.schemas.js';
import type { QuotesService } from './quotes.service.js';

const tags = ['Quotes'];

export function quotesRoutes(db: Db, quotes: QuotesService): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/quotes',
      {
        schema: {
          operationId: 'createQuote',
          summary: 'Price a transfer from a customer’s wallet',
          description:
            'Exactly one of source.amount and destination.amount; the other is computed (fees on the source side, conversion truncated to the destination’s decimals). ' +
            'The quote stays open for OMS_QUOTE_TTL_SECONDS (60 by default), then reads as expired.',
          tags,
          headers: idempotencyHeaders(true),
          body: QuoteCreate,
          response: { 201: Quote, ...errorResponses(400, 401, 404, 409, 413, 415, 422, 429) },
        },
      },
      (request, reply) =>
        runIdempotent(db, scopeOf(request), request, reply, { required: true, status: 201 }, (executor) => quotes.create(executor, scopeOf(request), request.body)),
    );

    app.get(
      '/quotes/:quoteId',
      {
        schema: {
          operationId: 'getQuote',
          summary: 'Retrieve a quote',
          tags,
          params: IdParam('quoteId', 'qt_01jd8x3mc6eskv4hzbmt9hdby7'),
          response: { 200: Quote, ...errorResponses(401, 404, 429) },
        },
      },
      (request) => quotes.get(db, scopeOf(request), request.params.quoteId),
    );
  };
}
