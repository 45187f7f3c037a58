import Type, { type Static } from 'typebox';
import { EVENT_TYPES, type EventType } from '../../events/catalogue.js';
import { PageOf, PageQueryFields } from '../../http/pagination.js';
import { Timestamp } from '../../http/schema-helpers.js';

/** An event as a webhook delivers it (spec 6.2), and as GET /v0.9/events lists it. */
export const Event = Type.Object(
  {
    id: Type.String({ examples: ['evt_01jd8x3mc6eskv4hzbmt9hdby7'] }),
    object: Type.Literal('event'),
    type: Type.String(),
    createdAt: Timestamp,
    data: Type.Record(Type.String(), Type.Unknown(), { description: '{object: the resource as the API returns it, and what happened to it when the type alone does not say}' }),
  },
  { description: '[ours] The project’s events, as recorded with their changes.' },
);
export const EventList = PageOf(Event);

export const EventListQuery = Type.Object(
  { ...PageQueryFields, type: Type.Optional(Type.Unsafe<EventType>({ type: 'string', enum: [...EVENT_TYPES] })) },
  { additionalProperties: false },
);

export const ResendResult = Type.Object({
  object: Type.Literal('eventResend'),
  eventId: Type.String(),
  deliveries: Type.Integer({ minimum: 0, description: 'Deliveries now due, one per matching endpoint.' }),
});

export type EventView = Static<typeof Event>;
export type EventListQueryParams = Static<typeof EventListQuery>;
export type ResendResultView = Static<typeof ResendResult>;
