import { randomBytes } from 'node:crypto';
import type { Db } from '../db/database.js';
import type { MasterKeyring } from './master-keys.js';

export const sealedSecretAad = (name: string) => `sealed_secrets:${name}`;

/**
 * A server secret kept in the database sealed under the master key, created on first use.
 * Processes racing to create it agree on whichever row was inserted first.
 */
export async function loadOrCreateSealedSecret(db: Db, keyring: MasterKeyring, name: string, bytes = 32): Promise<Buffer> {
  const fresh = keyring.seal(randomBytes(bytes), sealedSecretAad(name));
  await db
    .insertInto('sealed_secrets')
    .values({ name, sealed: fresh.sealed, master_key_id: fresh.masterKeyId })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const row = await db.selectFrom('sealed_secrets').select(['sealed', 'master_key_id']).where('name', '=', name).executeTakeFirstOrThrow();
  return keyring.open({ sealed: row.sealed, masterKeyId: row.master_key_id }, sealedSecretAad(name));
}
