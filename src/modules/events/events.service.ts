import type { Db } from '../../db/database.js';
import { notFound } from '../../domain/errors.js';
import { assertId } from '../../domain/ids.js';
import type { Scope } from '../../domain/scope.js';
import { parsePageQuery, toPage, type Page } from '../../http/pagination.js';
import { isoTimestamp } from '../../http/schema-helpers.js';
import type { EventListQueryParams, EventView, ResendResultView } from './events.schemas.js';
import * as repo from './events.repo.js';

/** The project's event log and resending an event (issue 5's developer tools). */
export interface EventsService {
  list(db: Db, scope: Scope, query: EventListQueryParams): Promise<Page<EventView>>;
  get(db: Db, scope: Scope, id: string): Promise<EventView>;
  resend(db: Db, scope: Scope, id: string): Promise<ResendResultView>;
}

const toEventView = (row: repo.EventRow): EventView => ({ id: row.id, object: 'event', type: row.type, createdAt: isoTimestamp(row.created_at), data: row.data });

export function createEventsService(): EventsService {
  async function eventOrThrow(db: Db, scope: Scope, id: string): Promise<repo.EventRow> {
    assertId('event', id);
    const found = await repo.findEvent(db, scope, id);
    if (!found) throw notFound('event');
    return found;
  }

  return {
    async list(db, scope, query) {
      const page = parsePageQuery(query, 'event');
      return toPage(await repo.listEvents(db, scope, page, query.type), page, toEventView);
    },

    async get(db, scope, id) {
      return toEventView(await eventOrThrow(db, scope, id));
    },

    async resend(db, scope, id) {
      const event = await eventOrThrow(db, scope, id);
      const deliveries = await repo.resend(db, scope, event);
      return { object: 'eventResend', eventId: event.id, deliveries };
    },
  };
}
