import Type, { type Static } from 'typebox';
import { EVENT_TYPES, type EventType } from '../../events/catalogue.js';
import { PageOf, PageQueryFields } from '../../http/pagination.js';
import { component, Timestamp } from '../../http/schema-helpers.js';

const Url = Type.String({ minLength: 1, maxLength: 2048, description: 'https; resolving to public addresses only', examples: ['https://example.com/oms/webhooks'] });
const Events = Type.Array(Type.Unsafe<EventType>({ type: 'string', enum: [...EVENT_TYPES] }), {
  uniqueItems: true,
  maxItems: EVENT_TYPES.length,
  description: 'Event types to deliver; empty (the default) means every event.',
});

export const WebhookCreate = Type.Object({ url: Url, events: Type.Optional(Events), enabled: Type.Optional(Type.Boolean()) }, { additionalProperties: false });
export const WebhookPatch = Type.Object(
  {
    url: Type.Optional(Url),
    events: Type.Optional(Events),
    enabled: Type.Optional(Type.Boolean({ description: 'true also re-activates an endpoint the server disabled.' })),
  },
  { additionalProperties: false },
);

const webhookFields = {
  id: Type.String({ examples: ['whk_01jd8x3mc6eskv4hzbmt9hdby7'] }),
  object: Type.Literal('webhook'),
  url: Type.String(),
  events: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  status: Type.Unsafe<'active' | 'disabled'>({
    type: 'string',
    enum: ['active', 'disabled'],
    description: 'disabled by the server after a 410 Gone or days of failed deliveries; PATCH enabled: true to resume.',
  }),
  complianceOnly: Type.Boolean({ description: 'Receives the compliance-only events, and only those; set by an operator.' }),
  createdAt: Timestamp,
  updatedAt: Timestamp,
};
const WebhookComponent = component('Webhook', Type.Object(webhookFields));
export const Webhook = WebhookComponent.ref;
export const WebhookCreated = Type.Object({
  ...webhookFields,
  secret: Type.Optional(
    Type.String({
      pattern: '^whsec_[0-9a-f]{64}$',
      description: 'Shown once, in the first answer; a replay of the create (same Idempotency-Key) answers without it.',
    }),
  ),
});

export const WebhookSecret = Type.Object({
  object: Type.Literal('webhookSecret'),
  webhookId: Type.String(),
  secret: Type.Optional(Type.String({ pattern: '^whsec_[0-9a-f]{64}$', description: 'Shown once; a replay of the rotation answers without it.' })),
  previousSecretExpiresAt: Type.Union([Timestamp, Type.Null()], { description: 'Until then deliveries carry a signature with the previous secret too.' }),
});

export const WebhookDeleted = Type.Object({ id: Type.String(), object: Type.Literal('webhook'), deleted: Type.Literal(true) });

export const WebhookDelivery = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    object: Type.Literal('webhookDelivery'),
    webhookId: Type.String(),
    eventId: Type.String(),
    eventType: Type.String(),
    status: Type.Unsafe<'pending' | 'delivered' | 'failed'>({ type: 'string', enum: ['pending', 'delivered', 'failed'] }),
    nextAttemptAt: Type.Union([Timestamp, Type.Null()]),
    deliveredAt: Type.Union([Timestamp, Type.Null()]),
    createdAt: Timestamp,
    attempts: Type.Array(
      Type.Object({
        attempt: Type.Integer({ minimum: 1 }),
        startedAt: Timestamp,
        statusCode: Type.Union([Type.Integer(), Type.Null()], { description: 'null when no answer came (timeout, refused connection).' }),
        error: Type.Union([Type.String(), Type.Null()]),
        latencyMs: Type.Integer({ minimum: 0 }),
      }),
    ),
  },
  { description: '[ours] One event sent to one endpoint, with every attempt.' },
);
export const WebhookDeliveryList = PageOf(WebhookDelivery);
export const DeliveryListQuery = Type.Object({ ...PageQueryFields }, { additionalProperties: false });

export const WebhookListQuery = Type.Object({ ...PageQueryFields }, { additionalProperties: false });
export const WebhookList = PageOf(Webhook);

export type WebhookCreateBody = Static<typeof WebhookCreate>;
export type WebhookPatchBody = Static<typeof WebhookPatch>;
export type WebhookView = Static<typeof Webhook>;
export type WebhookCreatedView = Static<typeof WebhookCreated>;
export type WebhookSecretView = Static<typeof WebhookSecret>;
export type WebhookListQueryParams = Static<typeof WebhookListQuery>;
export type WebhookDeliveryView = Static<typeof WebhookDelivery>;
export type DeliveryListQueryParams = Static<typeof DeliveryListQuery>;

export const webhookComponents = [WebhookComponent.schema];
