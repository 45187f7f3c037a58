import { signatureHeader } from './signing.js';

export interface StoredEvent {
  id: string;
  type: string;
  /** The stored payload, {object, ...detail}, as JSON text. */
  data: string;
  createdAt: Date;
}

/** What a receiver gets (spec 6.2): the event as JSON, and the Standard Webhooks headers signing it. */
export function deliveryMessage(event: StoredEvent, secrets: readonly string[], now = new Date()): { body: string; headers: Record<string, string> } {
  const body = `{"id":${JSON.stringify(event.id)},"object":"event","type":${JSON.stringify(event.type)},"createdAt":${JSON.stringify(event.createdAt.toISOString())},"data":${event.data}}`;
  const timestamp = Math.floor(now.getTime() / 1000);
  return {
    body,
    headers: { 'webhook-id': event.id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signatureHeader(secrets, event.id, timestamp, body) },
  };
}
