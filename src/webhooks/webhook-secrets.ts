import type { MasterKeyring } from '../crypto/master-keys.js';
import type { Scope } from '../domain/scope.js';

/** Webhook signing secrets are sealed under the master key, bound to their endpoint (the AAD). */
export const webhookSecretAad = (scope: Scope, endpointId: string) => `webhook_secrets:${scope.projectId}:${scope.mode}:${endpointId}`;

export function sealWebhookSecret(keyring: MasterKeyring, scope: Scope, endpointId: string, secret: string) {
  const sealed = keyring.seal(Buffer.from(secret, 'utf8'), webhookSecretAad(scope, endpointId));
  return { sealed: sealed.sealed, masterKeyId: sealed.masterKeyId };
}

export function openWebhookSecret(keyring: MasterKeyring, scope: Scope, endpointId: string, stored: { sealed: Buffer; masterKeyId: string }): string {
  return keyring.open({ sealed: stored.sealed, masterKeyId: stored.masterKeyId }, webhookSecretAad(scope, endpointId)).toString('utf8');
}
