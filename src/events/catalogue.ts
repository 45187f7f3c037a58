/** Every event type the server emits (spec 6.3). */
export const EVENT_TYPES = [
  'customer.created',
  'customer.updated',
  'customer.endorsement.updated',
  'customer.endorsement.granted',
  'customer.endorsement.rejected',
  'customer.offboarded',
  'wallet.created',
  'wallet.depositDetected',
  'transaction.cryptoToCrypto.processing',
  'transaction.cryptoToCrypto.completed',
  'transaction.cryptoToCrypto.failed',
  'underReview',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

/** Types only compliance-only webhook endpoints receive (spec 6.1); the fan-out trigger of migration 0012 names them too. */
export const COMPLIANCE_ONLY_EVENT_TYPES: readonly EventType[] = ['underReview'];
