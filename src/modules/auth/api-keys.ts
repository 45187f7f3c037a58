import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../../db/database.js';
import type { MasterKeyring } from '../../crypto/master-keys.js';
import { loadOrCreateSealedSecret } from '../../crypto/sealed-secrets.js';
import type { Mode } from '../../domain/scope.js';

/**
 * API key formats (spec 1.2): the key names its mode, and its deployment when that is not
 * production: sk_live_…, sk_sdbx_…, sk_dev_sdbx_…. The secret is opaque and only its HMAC
 * under the server pepper is stored.
 */
export function newApiKey(mode: Mode, environment: string): string {
  const env = environment === '' ? '' : `${environment}_`;
  return `sk_${env}${mode === 'live' ? 'live' : 'sdbx'}_${randomBytes(20).toString('hex')}`;
}

export function newApiSecret(): string {
  return randomBytes(32).toString('base64url');
}

export function hashApiSecret(pepper: Buffer, secret: string): Buffer {
  return createHmac('sha256', pepper).update(secret).digest();
}

export function secretMatches(pepper: Buffer, secret: string, storedHash: Buffer): boolean {
  const candidate = hashApiSecret(pepper, secret);
  return candidate.length === storedHash.length && timingSafeEqual(candidate, storedHash);
}

/** The pepper lives in the database sealed under the master key: a database dump alone cannot test guesses. */
export function loadPepper(db: Db, keyring: MasterKeyring): Promise<Buffer> {
  return loadOrCreateSealedSecret(db, keyring, 'api_secret_pepper');
}
