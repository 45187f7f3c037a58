import { createHmac, randomBytes } from 'node:crypto';

/**
 * Standard Webhooks signatures (spec 6.2): `whsec_` + 64 hex characters, whose signing key is
 * the base64 decoding of the part after the prefix, exactly as the `standardwebhooks`
 * package reads it, so receivers verify with it unchanged.
 */
const PREFIX = 'whsec_';

export function newWebhookSecret(): string {
  return `${PREFIX}${randomBytes(32).toString('hex')}`;
}

function signingKey(secret: string): Buffer {
  if (!secret.startsWith(PREFIX)) throw new Error('a webhook secret starts with whsec_');
  return Buffer.from(secret.slice(PREFIX.length), 'base64');
}

/** `v1,<sig>` per secret, space-separated: during a rotation both the new and the old secret sign. */
export function signatureHeader(secrets: readonly string[], id: string, timestampSeconds: number, body: string): string {
  return secrets.map((secret) => `v1,${createHmac('sha256', signingKey(secret)).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`).join(' ');
}
