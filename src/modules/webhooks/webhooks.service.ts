import type { MasterKeyring } from '../../crypto/master-keys.js';
import type { Db } from '../../db/database.js';
import { inTransaction } from '../../db/transactions.js';
import { notFound, validationError } from '../../domain/errors.js';
import { assertId, isUuid, newId } from '../../domain/ids.js';
import type { Scope } from '../../domain/scope.js';
import { COMPLIANCE_ONLY_EVENT_TYPES, type EventType } from '../../events/catalogue.js';
import { parsePageQuery, toPage, type Page } from '../../http/pagination.js';
import { isoTimestamp } from '../../http/schema-helpers.js';
import { checkWebhookUrl, resolveTarget, UrlRefused, type GuardOptions, type Resolver } from '../../net/ssrf-guard.js';
import { newWebhookSecret } from '../../webhooks/signing.js';
import { sealWebhookSecret } from '../../webhooks/webhook-secrets.js';
import type {
  DeliveryListQueryParams,
  WebhookDeliveryView,
  WebhookCreateBody,
  WebhookCreatedView,
  WebhookListQueryParams,
  WebhookPatchBody,
  WebhookSecretView,
  WebhookView,
} from './webhooks.schemas.js';
import * as log from './deliveries-log.repo.js';
import * as repo from './webhooks.repo.js';

/** After a rotation, the previous secret keeps signing this long (issue 5: 24 h). */
const PREVIOUS_SECRET_VALIDITY_MS = 24 * 3_600_000;

/** A URL that passed the guard, host resolution included; only checkUrl makes one. */
export type CheckedUrl = string & { readonly checked: unique symbol };

type WithCheckedUrl<T extends { url?: string }> = Omit<T, 'url'> & (undefined extends T['url'] ? { url?: CheckedUrl } : { url: CheckedUrl });

export interface WebhooksService {
  /** Resolves the host: call it before the write's transaction opens, never inside. */
  checkUrl(raw: string): Promise<CheckedUrl>;
  create(db: Db, scope: Scope, body: WithCheckedUrl<WebhookCreateBody>): Promise<WebhookCreatedView>;
  get(db: Db, scope: Scope, id: string): Promise<WebhookView>;
  list(db: Db, scope: Scope, query: WebhookListQueryParams): Promise<Page<WebhookView>>;
  update(db: Db, scope: Scope, id: string, patch: WithCheckedUrl<WebhookPatchBody>): Promise<WebhookView>;
  remove(db: Db, scope: Scope, id: string): Promise<{ id: string; object: 'webhook'; deleted: true }>;
  rotateSecret(db: Db, scope: Scope, id: string): Promise<WebhookSecretView>;
  deliveries(db: Db, scope: Scope, id: string, query: DeliveryListQueryParams): Promise<Page<WebhookDeliveryView>>;
  retryDelivery(db: Db, scope: Scope, id: string, deliveryId: string): Promise<WebhookDeliveryView>;
}

function toDeliveryView(row: log.DeliveryLogRow): WebhookDeliveryView {
  return {
    id: row.id,
    object: 'webhookDelivery',
    webhookId: row.endpoint_id,
    eventId: row.event_id,
    eventType: row.event_type,
    status: row.status,
    nextAttemptAt: row.next_attempt_at ? isoTimestamp(row.next_attempt_at) : null,
    deliveredAt: row.delivered_at ? isoTimestamp(row.delivered_at) : null,
    createdAt: isoTimestamp(row.created_at),
    // Inside JSON, timestamps arrive as text without the API's millisecond form.
    attempts: row.attempts.map((a) => ({ ...a, startedAt: isoTimestamp(new Date(a.startedAt)) })),
  };
}

export function toWebhookView(row: repo.EndpointRow): WebhookView {
  return {
    id: row.id,
    object: 'webhook',
    url: row.url,
    events: row.events,
    enabled: row.enabled,
    status: row.status,
    complianceOnly: row.compliance_only,
    createdAt: isoTimestamp(row.created_at),
    updatedAt: isoTimestamp(row.updated_at),
  };
}

/**
 * Webhook endpoints (spec 6.1). A URL is checked, and its host resolved, before anything is
 * written (no network call inside a transaction); delivery checks it again (src/webhooks).
 */
export function createWebhooksService({ keyring, resolver, guard }: { keyring: MasterKeyring; resolver: Resolver; guard: GuardOptions }): WebhooksService {

  function checkedEvents(events: readonly EventType[] | undefined, pointer: string): string[] {
    const compliance = (events ?? []).filter((type) => COMPLIANCE_ONLY_EVENT_TYPES.includes(type));
    if (compliance.length > 0) throw validationError(pointer, `${compliance.join(', ')} reaches compliance-only endpoints alone, which an operator sets up`);
    return [...(events ?? [])];
  }

  async function endpointOrThrow(db: Db, scope: Scope, id: string, options: { forUpdate?: boolean } = {}) {
    assertId('webhook', id);
    const found = await repo.findEndpoint(db, scope, id, options);
    if (!found) throw notFound('webhook');
    return found;
  }

  return {
    async checkUrl(raw) {
      try {
        const url = checkWebhookUrl(raw, guard);
        await resolveTarget(url, resolver, guard);
        return url.href as CheckedUrl;
      } catch (err) {
        if (err instanceof UrlRefused) throw validationError('/url', `is refused: ${err.reason}`);
        throw err;
      }
    },

    async create(db, scope, body) {
      const url = body.url;
      const events = checkedEvents(body.events, '/events');
      const id = newId('webhook');
      const secret = newWebhookSecret();
      const at = new Date();
      const row = await inTransaction(db, (trx) =>
        repo.insertEndpoint(trx, scope, { id, url, events, enabled: body.enabled ?? true, secret: sealWebhookSecret(keyring, scope, id, secret), at }),
      );
      return { ...toWebhookView(row), secret };
    },

    async get(db, scope, id) {
      return toWebhookView(await endpointOrThrow(db, scope, id));
    },

    async list(db, scope, query) {
      const page = parsePageQuery(query, 'webhook');
      return toPage(await repo.listEndpoints(db, scope, page), page, toWebhookView);
    },

    async update(db, scope, id, patch) {
      const url = patch.url;
      const events = patch.events === undefined ? undefined : checkedEvents(patch.events, '/events');
      return inTransaction(db, async (trx) => {
        const current = await endpointOrThrow(trx, scope, id, { forUpdate: true });
        const changes = {
          ...(url === undefined ? {} : { url }),
          ...(events === undefined ? {} : { events }),
          ...(patch.enabled === undefined ? {} : { enabled: patch.enabled }),
          // Enabling resumes an endpoint the server disabled: its owner says it is fixed.
          ...(patch.enabled === true && current.status === 'disabled' ? { status: 'active' as const, disabled_reason: null, failing_since: null } : {}),
        };
        if (Object.keys(changes).length === 0) return toWebhookView(current);
        return toWebhookView(await repo.updateEndpoint(trx, scope, id, changes, new Date()));
      });
    },

    async remove(db, scope, id) {
      assertId('webhook', id);
      if (!(await repo.deleteEndpoint(db, scope, id))) throw notFound('webhook');
      return { id, object: 'webhook', deleted: true };
    },

    rotateSecret: (db, scope, id) =>
      inTransaction(db, async (trx) => {
        await endpointOrThrow(trx, scope, id, { forUpdate: true });
        const secret = newWebhookSecret();
        const at = new Date();
        const previousValidUntil = new Date(at.getTime() + PREVIOUS_SECRET_VALIDITY_MS);
        await repo.rotateSecret(trx, scope, id, sealWebhookSecret(keyring, scope, id, secret), at, previousValidUntil);
        return { object: 'webhookSecret', webhookId: id, secret, previousSecretExpiresAt: isoTimestamp(previousValidUntil) };
      }),

    async deliveries(db, scope, id, query) {
      await endpointOrThrow(db, scope, id);
      const page = parsePageQuery(query, 'uuid');
      return toPage(await log.listDeliveries(db, scope, id, page), page, toDeliveryView);
    },

    async retryDelivery(db, scope, id, deliveryId) {
      await endpointOrThrow(db, scope, id);
      if (!isUuid(deliveryId) || !(await log.retryNow(db, scope, id, deliveryId))) throw notFound('delivery');
      return toDeliveryView((await log.findDelivery(db, scope, id, deliveryId))!);
    },
  };
}
