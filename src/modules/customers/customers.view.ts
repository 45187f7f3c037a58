import type { EndorsementRow } from '../../db/schema.js';
import { ENDORSEMENT_NAMES, type EndorsementName, type EndorsementStatus } from '../../domain/endorsements.js';
import { isoTimestamp } from '../../http/schema-helpers.js';
import type { CustomerView, CustomerWalletView } from './customers.schemas.js';
import type { PublicCustomerRow } from './customers.repo.js';

/**
 * The customer as the API shows it. Reads never select the sealed PII or its data key, and
 * fields are picked one by one, so neither can reach a response, an event or an idempotency
 * record.
 */
export function toCustomerView(row: PublicCustomerRow, endorsements: readonly EndorsementRow[], wallets: readonly CustomerWalletView[]): CustomerView {
  return {
    id: row.id,
    object: 'customer',
    type: row.type,
    firstName: row.first_name,
    middleName: row.middle_name,
    lastName: row.last_name,
    email: row.email,
    phone: row.phone,
    nationality: row.nationality,
    externalId: row.external_id,
    status: row.status,
    signedAgreement: row.signed_agreement,
    signedAgreementAt: row.signed_agreement_at ? isoTimestamp(row.signed_agreement_at) : null,
    wallets: [...wallets],
    endorsements: [...endorsements]
      .sort((a, b) => ENDORSEMENT_NAMES.indexOf(a.name as EndorsementName) - ENDORSEMENT_NAMES.indexOf(b.name as EndorsementName))
      .map((e) => ({
        name: e.name as EndorsementName,
        status: e.status as EndorsementStatus,
        requirements: e.requirements,
        rejectionReasons: e.rejection_reasons,
        updatedAt: isoTimestamp(e.updated_at),
      })),
    metadata: row.metadata,
    createdAt: isoTimestamp(row.created_at),
    updatedAt: isoTimestamp(row.updated_at),
  };
}
