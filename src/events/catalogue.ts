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
  'underReview',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];
