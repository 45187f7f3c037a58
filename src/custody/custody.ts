import { sql, type Transaction } from 'kysely';
import type { MasterKeyring } from '../crypto/master-keys.js';
import { loadOrCreateSealedSecret } from '../crypto/sealed-secrets.js';
import type { Db } from '../db/database.js';
import type { Database } from '../db/schema.js';
import type { Scope } from '../domain/scope.js';
import { evmKeyTree } from './hd-keys.js';

/** The BIP-32 master seed: generated on first use, kept sealed under the master key. */
const SEED_SECRET = 'custody.bip32_seed';
const SEED_BYTES = 64;

export interface Custody {
  /** The customer's EVM address, derived at a fresh index on first use, the same ever after. */
  evmAddressOf(trx: Transaction<Database>, scope: Scope, customerId: string): Promise<string>;
}

/**
 * Loads the seed (creating and committing it on the very first start) before any address is
 * derived: an address must never come from a seed whose creation could still roll back.
 */
export async function openCustody({ db, keyring }: { db: Db; keyring: MasterKeyring }): Promise<Custody> {
  const tree = evmKeyTree(await loadOrCreateSealedSecret(db, keyring, SEED_SECRET, SEED_BYTES));

  async function storedAddress(trx: Transaction<Database>, scope: Scope, customerId: string): Promise<string | undefined> {
    const row = await trx
      .selectFrom('customer_addresses')
      .select('address')
      .where('project_id', '=', scope.projectId)
      .where('mode', '=', scope.mode)
      .where('customer_id', '=', customerId)
      .executeTakeFirst();
    return row?.address;
  }

  return {
    async evmAddressOf(trx, scope, customerId) {
      const existing = await storedAddress(trx, scope, customerId);
      if (existing) return existing;
      // An index taken by a transaction that then rolls back is skipped, never reused.
      const { rows } = await sql<{ index: number }>`select nextval('custody_derivation_index')::int as index`.execute(trx);
      const index = rows[0]!.index;
      const address = tree.addressAt(index);
      const inserted = await trx
        .insertInto('customer_addresses')
        .values({ project_id: scope.projectId, mode: scope.mode, customer_id: customerId, derivation_index: index, address, created_at: new Date() })
        .onConflict((oc) => oc.columns(['project_id', 'mode', 'customer_id']).doNothing())
        .returning('address')
        .executeTakeFirst();
      // Otherwise another transaction gave the customer an address first: that one stands.
      return inserted?.address ?? (await storedAddress(trx, scope, customerId))!;
    },
  };
}
