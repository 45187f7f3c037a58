import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Db } from '../../db/database.js';
import { scopeOf } from '../../http/authenticate.js';
import { runIdempotent } from '../../http/idempotency.js';
import { errorResponses, idempotencyHeaders } from '../../http/route-docs.js';
import { IdParam } from '../../http/schema-helpers.js';
import { Event, EventList, EventListQuery, ResendResult } from './events.schemas.js';
import type { EventsService } from './events.service.js';

const EventIdParams = IdParam('eventId', 'evt_01jd8x3mc6eskv4hzbmt9hdby7');
const tags = ['Events'];

export function eventsRoutes(db: Db, events: EventsService): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/events',
      {
        schema: {
          operationId: 'listEvents',
          summary: "[ours] The project's events, newest first",
          description: 'Everything webhooks deliver, filterable by type and time (createdAfter, createdBefore). Compliance-only events are not listed.',
          tags,
          querystring: EventListQuery,
          response: { 200: EventList, ...errorResponses(400, 401, 429) },
        },
      },
      (request) => events.list(db, scopeOf(request), request.query),
    );

    app.get(
      '/events/:eventId',
      { schema: { operationId: 'getEvent', summary: '[ours] Retrieve an event', tags, params: EventIdParams, response: { 200: Event, ...errorResponses(401, 404, 429) } } },
      (request) => events.get(db, scopeOf(request), request.params.eventId),
    );

    app.post(
      '/events/:eventId/resend',
      {
        schema: {
          operationId: 'resendEvent',
          summary: '[ours] Deliver an event again to every endpoint that matches it now',
          description: 'Same webhook-id as before, so receivers that deduplicate see it once.',
          tags,
          headers: idempotencyHeaders(true),
          params: EventIdParams,
          response: { 200: ResendResult, ...errorResponses(400, 401, 404, 409, 422, 429) },
        },
      },
      (request, reply) =>
        runIdempotent(db, scopeOf(request), request, reply, { required: true, status: 200 }, (executor) => events.resend(executor, scopeOf(request), request.params.eventId)),
    );
  };
}
