import { isoTimestamp } from '../../http/schema-helpers.js';
import { pricedParts } from '../quotes/quotes.view.js';
import type { TransactionRecord } from './transactions.repo.js';
import type { TransactionRole, TransactionView } from './transactions.schemas.js';

/** The customer whose perspective a read takes, and how they relate to the transaction (spec 5.2). */
export function roleOf(record: Pick<TransactionRecord, 'sender_customer_id' | 'recipient_customer_id'>, customerId: string): TransactionRole | null {
  const sent = record.sender_customer_id === customerId;
  const received = record.recipient_customer_id === customerId;
  return sent && received ? 'both' : sent ? 'sender' : received ? 'recipient' : null;
}

/** Sender and recipient see the same object; only `role` says whose eyes it is seen through. */
export function toTransactionView(record: TransactionRecord, role: TransactionRole | null = null): TransactionView {
  const priced = pricedParts(record);
  return {
    id: record.id,
    object: 'transaction',
    type: record.type,
    status: record.status,
    subStatus: record.sub_status,
    quoteId: record.quote_id,
    senderCustomerId: record.sender_customer_id,
    recipientCustomerId: record.recipient_customer_id,
    role,
    source: priced.source,
    destination: { ...priced.destination, txHash: record.tx_hash },
    rates: priced.rates,
    fixedAmountSide: priced.fixedAmountSide,
    ...(record.failure_code !== null ? { failure: { code: record.failure_code, message: record.failure_message ?? '' } } : {}),
    sponsorGasCost: priced.sponsorGasCost,
    metadata: record.metadata,
    ...(record.completed_at !== null ? { completedAt: isoTimestamp(record.completed_at) } : {}),
    createdAt: isoTimestamp(record.created_at),
    updatedAt: isoTimestamp(record.updated_at),
  };
}
