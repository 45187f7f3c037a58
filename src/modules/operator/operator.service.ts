import { REQUIREMENT_TABLE } from '../../compliance/requirements.js';
import type { IssueCode } from '../../compliance/checks/issue-codes.js';
import type { RejectionReason } from '../../compliance/evaluation.js';
import type { MasterKeyring } from '../../crypto/master-keys.js';
import type { AssetCatalogue } from '../../domain/assets.js';
import type { Db } from '../../db/database.js';
import type { Mode } from '../../db/schema.js';
import { inTransaction } from '../../db/transactions.js';
import type { EndorsementName, EndorsementStatus } from '../../domain/endorsements.js';
import { DomainError, notFound, validationError } from '../../domain/errors.js';
import { assertId } from '../../domain/ids.js';
import type { Scope } from '../../domain/scope.js';
import { isoTimestamp } from '../../http/schema-helpers.js';
import { openStoredPii, type CustomerPii } from '../customers/customer-pii.js';
import * as customers from '../customers/customers.repo.js';
import type { CustomerView } from '../customers/customers.schemas.js';
import { toCustomerView } from '../customers/customers.view.js';
import { toCustomerWallets } from '../wallets/wallets.view.js';
import type { EndorsementControls } from '../customers/endorsement-controls.js';
import { listHistory } from '../customers/endorsements.repo.js';
import { findCustomerScope, listAudit, recordAudit, reviewQueue } from './operator.repo.js';

/**
 * The compliance operator's work (spec 3.4), shared by /admin/v1 and `oms review`. Every
 * decision is one legal move made through EndorsementControls, audited in the same
 * transaction; reading a compliance record is audited too (that it happened, not what it showed).
 */

export const OPERATOR_ACTIONS = ['approve', 'markIssues', 'revoke', 'reject'] as const;
export type OperatorAction = (typeof OPERATOR_ACTIONS)[number];

const ACTION_TARGETS: Record<OperatorAction, EndorsementStatus> = {
  approve: 'ACTIVE',
  markIssues: 'ISSUES',
  revoke: 'REVOKED_ISSUES',
  reject: 'REJECTED',
};

export interface Decision {
  action: OperatorAction;
  /** The operator's own why, for the audit log. */
  reason: string;
  issues?: IssueCode[] | undefined;
  rejectionReasons?: RejectionReason[] | undefined;
}

export interface QueueItem {
  projectId: string;
  mode: Mode;
  customerId: string;
  endorsement: EndorsementName;
  status: EndorsementStatus;
  requirements: { complete: string[]; pending: string[]; missing: string[]; issues: string[] };
  since: string;
}

export interface ComplianceRecord {
  projectId: string;
  mode: Mode;
  customer: CustomerView;
  pii: CustomerPii;
  history: { endorsement: string; seq: number; from: string | null; to: string; cause: string; at: string }[];
  audit: { operator: string; action: string; endorsement: string | null; reason: string | null; detail: Record<string, unknown>; at: string }[];
}

export interface OperatorService {
  queue(status: EndorsementStatus, limit: number, mode?: Mode): Promise<QueueItem[]>;
  record(operator: string, customerId: string): Promise<ComplianceRecord>;
  decide(operator: string, customerId: string, name: EndorsementName, decision: Decision): Promise<CustomerView>;
  offboard(operator: string, customerId: string, reason: string): Promise<CustomerView>;
}

export function createOperatorService({
  db,
  keyring,
  assets,
  controls,
}: {
  db: Db;
  keyring: MasterKeyring;
  assets: AssetCatalogue;
  controls: EndorsementControls;
}): OperatorService {
  async function scopeOf(customerId: string): Promise<Scope> {
    assertId('customer', customerId);
    const scope = await findCustomerScope(db, customerId);
    if (!scope) throw notFound('customer');
    return scope;
  }

  return {
    async queue(status, limit, mode) {
      const rows = await reviewQueue(db, status, limit, mode);
      return rows.map((row) => ({
        projectId: row.project_id,
        mode: row.mode,
        customerId: row.customer_id,
        endorsement: row.name as EndorsementName,
        status: row.status as EndorsementStatus,
        requirements: row.requirements,
        since: isoTimestamp(row.updated_at),
      }));
    },

    async record(operator, customerId) {
      const scope = await scopeOf(customerId);
      const found = await customers.findCustomer(db, scope, customerId);
      if (!found) throw notFound('customer');
      const { pii } = openStoredPii(keyring, scope, customerId, await customers.findSealedPii(db, scope, customerId));
      // Audited before it is shown: a read that cannot be recorded is not served.
      await recordAudit(db, scope, { operator, action: 'readComplianceRecord', customerId, detail: { fields: Object.keys(pii).sort() } }, new Date());
      const [history, audit] = await Promise.all([listHistory(db, scope, customerId), listAudit(db, scope, customerId)]);
      return {
        projectId: scope.projectId,
        mode: scope.mode,
        customer: toCustomerView(found.row, found.endorsements, toCustomerWallets(found.wallets, assets)),
        pii,
        history: history.map((h) => ({ endorsement: h.name, seq: h.seq, from: h.from_status, to: h.to_status, cause: h.cause, at: isoTimestamp(h.at) })),
        audit: audit.map((a) => ({ ...a, at: isoTimestamp(a.at) })),
      };
    },

    async decide(operator, customerId, name, decision) {
      const scope = await scopeOf(customerId);
      if (decision.action === 'reject' && !decision.rejectionReasons?.length) {
        throw validationError('/rejectionReasons', 'required for reject: at least one {developerReason, reason}');
      }
      if ((decision.action === 'markIssues' || decision.action === 'revoke') && !decision.issues?.length) {
        throw validationError('/issues', `required for ${decision.action}: the issue codes found`);
      }
      return inTransaction(db, async (trx) => {
        const found = await customers.findCustomer(trx, scope, customerId, { forUpdate: true });
        if (!found) throw notFound('customer');
        if (decision.action === 'approve') {
          const unmet = REQUIREMENT_TABLE[name].needs.filter((needed) => found.endorsements.find((e) => e.name === needed)?.status !== 'ACTIVE');
          if (unmet.length > 0) throw new DomainError('conflict', `${name} needs ${unmet.join(', ')} ACTIVE first`);
        }
        const target = ACTION_TARGETS[decision.action];
        const customer = await controls.force(trx, scope, customerId, name, target, decision, 'operator');
        await recordAudit(
          trx,
          scope,
          {
            operator,
            action: decision.action,
            customerId,
            endorsement: name,
            reason: decision.reason,
            detail: {
              from: found.endorsements.find((e) => e.name === name)?.status ?? null,
              to: target,
              ...(decision.issues ? { issues: decision.issues } : {}),
              ...(decision.rejectionReasons ? { rejectionReasons: decision.rejectionReasons } : {}),
            },
          },
          new Date(),
        );
        return customer;
      });
    },

    async offboard(operator, customerId, reason) {
      const scope = await scopeOf(customerId);
      return inTransaction(db, async (trx) => {
        const customer = await controls.offboard(trx, scope, customerId, 'operator');
        await recordAudit(trx, scope, { operator, action: 'offboard', customerId, reason }, new Date());
        return customer;
      });
    },
  };
}
