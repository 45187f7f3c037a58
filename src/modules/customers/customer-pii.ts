import { randomBytes } from 'node:crypto';
import { open, seal } from '../../crypto/aead.js';
import type { MasterKeyring, Sealed } from '../../crypto/master-keys.js';
import type { Scope } from '../../domain/scope.js';
import type { IdentifyingDocumentInput, ResidentialAddressInput } from './customers.schemas.js';

/** The write-only fields, kept together as one sealed document per customer. */
export interface CustomerPii {
  birthDate?: string;
  ipAddress?: string;
  residentialAddress?: ResidentialAddressInput;
  identifyingInformation?: IdentifyingDocumentInput[];
}

export const PII_FIELDS = ['birthDate', 'ipAddress', 'residentialAddress', 'identifyingInformation'] as const;

/** Binds a sealed value to its customer row: copied to another row, it fails to open. */
export const dataKeyAad = (scope: Scope, customerId: string) => `customers.data_key:${scope.projectId}:${scope.mode}:${customerId}`;
const piiAad = (scope: Scope, customerId: string) => `customers.pii:${scope.projectId}:${scope.mode}:${customerId}`;

/** Envelope encryption: a fresh data key per customer, sealed under the master key. */
export function newDataKey(keyring: MasterKeyring, scope: Scope, customerId: string): { dataKey: Buffer; sealed: Sealed } {
  const dataKey = randomBytes(32);
  return { dataKey, sealed: keyring.seal(dataKey, dataKeyAad(scope, customerId)) };
}

export function openDataKey(keyring: MasterKeyring, scope: Scope, customerId: string, sealed: Sealed): Buffer {
  return keyring.open(sealed, dataKeyAad(scope, customerId));
}

export function sealPii(dataKey: Buffer, scope: Scope, customerId: string, pii: CustomerPii): Buffer {
  return seal(dataKey, Buffer.from(JSON.stringify(pii)), piiAad(scope, customerId));
}

export function openPii(dataKey: Buffer, scope: Scope, customerId: string, sealed: Buffer | null): CustomerPii {
  if (sealed === null) return {};
  return JSON.parse(open(dataKey, sealed, piiAad(scope, customerId)).toString()) as CustomerPii;
}

/** The columns a customer's PII is stored in (customers.repo findSealedPii). */
export interface SealedPiiColumns {
  pii_sealed: Buffer | null;
  data_key_sealed: Buffer;
  master_key_id: string;
}

/** Opens a customer's stored PII, and the data key that re-seals it. */
export function openStoredPii(keyring: MasterKeyring, scope: Scope, customerId: string, stored: SealedPiiColumns): { pii: CustomerPii; dataKey: Buffer } {
  const dataKey = openDataKey(keyring, scope, customerId, { sealed: stored.data_key_sealed, masterKeyId: stored.master_key_id });
  return { pii: openPii(dataKey, scope, customerId, stored.pii_sealed), dataKey };
}
