import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { Db } from '../../db/database.js';
import { scopeOf } from '../../http/authenticate.js';
import { runIdempotent } from '../../http/idempotency.js';
import { errorResponses, idempotencyHeaders } from '../../http/route-docs.js';
import { IdParam } from '../../http/schema-helpers.js';
import {
  DeliveryListQuery,
  Webhook,
  WebhookCreate,
  WebhookCreated,
  WebhookDeleted,
  WebhookDelivery,
  WebhookDeliveryList,
  WebhookList,
  WebhookListQuery,
  WebhookPatch,
  WebhookSecret,
} from './webhooks.schemas.js';
import type { WebhookCreatedView, WebhookSecretView } from './webhooks.schemas.js';
import type { WebhooksService } from './webhooks.service.js';

const WebhookIdParams = IdParam('webhookId', 'whk_01jd8x3mc6eskv4hzbmt9hdby7');
const DeliveryParams = Type.Object({
  webhookId: Type.String({ examples: ['whk_01jd8x3mc6eskv4hzbmt9hdby7'] }),
  deliveryId: Type.String({ examples: ['0b7c8a52-4f7e-4d1e-9a39-2d1c1a3f9e10'] }),
});
const tags = ['Webhooks'];

export function webhooksRoutes(db: Db, webhooks: WebhooksService): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/webhooks',
      {
        schema: {
          operationId: 'createWebhook',
          summary: 'Register a webhook endpoint',
          description:
            'The URL must be https and resolve to public addresses only (checked again at every delivery). The signing secret is in this answer only: ' +
            'a replay of the request (same Idempotency-Key) answers the same endpoint without it.',
          tags,
          headers: idempotencyHeaders(true),
          body: WebhookCreate,
          response: { 201: WebhookCreated, ...errorResponses(400, 401, 409, 413, 415, 422, 429) },
        },
      },
      async (request, reply) => {
        const url = await webhooks.checkUrl(request.body.url);
        return runIdempotent<WebhookCreatedView>(
          db,
          scopeOf(request),
          request,
          reply,
          { required: true, status: 201, forReplay: ({ secret: _shownOnce, ...endpoint }) => endpoint },
          (executor) => webhooks.create(executor, scopeOf(request), { ...request.body, url }),
        );
      },
    );

    app.get(
      '/webhooks',
      {
        schema: {
          operationId: 'listWebhooks',
          summary: 'List webhook endpoints',
          tags,
          querystring: WebhookListQuery,
          response: { 200: WebhookList, ...errorResponses(400, 401, 429) },
        },
      },
      (request) => webhooks.list(db, scopeOf(request), request.query),
    );

    app.get(
      '/webhooks/:webhookId',
      { schema: { operationId: 'getWebhook', summary: 'Retrieve a webhook endpoint', tags, params: WebhookIdParams, response: { 200: Webhook, ...errorResponses(401, 404, 429) } } },
      (request) => webhooks.get(db, scopeOf(request), request.params.webhookId),
    );

    app.patch(
      '/webhooks/:webhookId',
      {
        schema: {
          operationId: 'updateWebhook',
          summary: 'Update a webhook endpoint',
          description: 'A new URL is checked like a new endpoint. `enabled: true` also resumes an endpoint the server disabled.',
          tags,
          headers: idempotencyHeaders(false),
          params: WebhookIdParams,
          body: WebhookPatch,
          response: { 200: Webhook, ...errorResponses(400, 401, 404, 409, 413, 415, 422, 429) },
        },
      },
      async (request, reply) => {
        const { url: raw, ...rest } = request.body;
        const url = raw === undefined ? undefined : await webhooks.checkUrl(raw);
        return runIdempotent(db, scopeOf(request), request, reply, { required: false, status: 200 }, (executor) =>
          webhooks.update(executor, scopeOf(request), request.params.webhookId, { ...rest, ...(url === undefined ? {} : { url }) }),
        );
      },
    );

    app.delete(
      '/webhooks/:webhookId',
      {
        schema: {
          operationId: 'deleteWebhook',
          summary: 'Delete a webhook endpoint',
          description: 'Its pending deliveries are dropped with it.',
          tags,
          params: WebhookIdParams,
          response: { 200: WebhookDeleted, ...errorResponses(401, 404, 429) },
        },
      },
      (request) => webhooks.remove(db, scopeOf(request), request.params.webhookId),
    );

    app.post(
      '/webhooks/:webhookId/rotate-secret',
      {
        schema: {
          operationId: 'rotateWebhookSecret',
          summary: 'Rotate the signing secret',
          description:
            '[ours] The new secret is in this answer only. For 24 hours deliveries carry two signatures (Standard Webhooks multi-signature), ' +
            'with the new secret and the previous one, so receivers can switch without a missed delivery.',
          tags,
          headers: idempotencyHeaders(true),
          params: WebhookIdParams,
          response: { 200: WebhookSecret, ...errorResponses(400, 401, 404, 409, 422, 429) },
        },
      },
      (request, reply) =>
        runIdempotent<WebhookSecretView>(
          db,
          scopeOf(request),
          request,
          reply,
          { required: true, status: 200, forReplay: ({ secret: _shownOnce, ...rest }) => rest },
          (executor) => webhooks.rotateSecret(executor, scopeOf(request), request.params.webhookId),
        ),
    );

    app.get(
      '/webhooks/:webhookId/deliveries',
      {
        schema: {
          operationId: 'listWebhookDeliveries',
          summary: "[ours] An endpoint's deliveries, newest first, each with its attempts",
          description: 'Status codes, errors and latency of every attempt, and when the next one is due.',
          tags,
          params: WebhookIdParams,
          querystring: DeliveryListQuery,
          response: { 200: WebhookDeliveryList, ...errorResponses(400, 401, 404, 429) },
        },
      },
      (request) => webhooks.deliveries(db, scopeOf(request), request.params.webhookId, request.query),
    );

    app.post(
      '/webhooks/:webhookId/deliveries/:deliveryId/retry',
      {
        schema: {
          operationId: 'retryWebhookDelivery',
          summary: '[ours] Send a delivery again now',
          description: 'Due at once on a fresh retry schedule, whatever its status; the receiver sees the same webhook-id.',
          tags,
          headers: idempotencyHeaders(true),
          params: DeliveryParams,
          response: { 200: WebhookDelivery, ...errorResponses(400, 401, 404, 409, 422, 429) },
        },
      },
      (request, reply) =>
        runIdempotent(db, scopeOf(request), request, reply, { required: true, status: 200 }, (executor) =>
          webhooks.retryDelivery(executor, scopeOf(request), request.params.webhookId, request.params.deliveryId),
        ),
    );
  };
}
