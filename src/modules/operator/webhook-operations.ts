import type { Db } from '../../db/database.js';
import { inTransaction } from '../../db/transactions.js';
import { notFound } from '../../domain/errors.js';
import type { Scope } from '../../domain/scope.js';
import type { WebhookView } from '../webhooks/webhooks.schemas.js';
import * as webhooks from '../webhooks/webhooks.repo.js';
import { toWebhookView } from '../webhooks/webhooks.service.js';
import { recordAudit } from './operator.repo.js';
import { scopeById } from './scope-by-id.js';

/**
 * The compliance channel (spec 6.1): only an operator makes an endpoint compliance-only, so that
 * it receives underReview (and nothing else). Its event filter is cleared, since it would only
 * ever name ordinary events. Audited.
 */
export interface WebhookOperations {
  setComplianceOnly(operator: string, webhookId: string, complianceOnly: boolean, reason: string): Promise<WebhookView>;
}

export function createWebhookOperations({ db }: { db: Db }): WebhookOperations {
  const scopeOf = (id: string): Promise<Scope> => scopeById('webhook', id, (id) => webhooks.findEndpointScope(db, id));

  return {
    async setComplianceOnly(operator, webhookId, complianceOnly, reason) {
      const scope = await scopeOf(webhookId);
      return inTransaction(db, async (trx) => {
        const current = await webhooks.findEndpoint(trx, scope, webhookId, { forUpdate: true });
        if (!current) throw notFound('webhook');
        if (current.compliance_only === complianceOnly) return toWebhookView(current);
        const at = new Date();
        const updated = await webhooks.updateEndpoint(trx, scope, webhookId, { compliance_only: complianceOnly, events: [] }, at);
        await recordAudit(trx, scope, { operator, action: 'setWebhookComplianceOnly', customerId: null, reason, detail: { webhookId, complianceOnly } }, at);
        return toWebhookView(updated);
      });
    },
  };
}
