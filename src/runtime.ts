import type { Logger } from 'pino';
import type { Config } from './config.js';
import { loadMasterKeyring, type MasterKeyring } from './crypto/master-keys.js';
import { openDatabase, type DatabaseHandle } from './db/database.js';
import type { ClusterRole } from './db/embedded.js';
import { ensureSigningKey } from './modules/auth/signing-keys.js';

export interface Runtime {
  keyring: MasterKeyring;
  database: DatabaseHandle;
}

/**
 * What the server and the CLI both need before doing anything: the master keys, a migrated
 * database (embedded or DATABASE_URL) and a token-signing key.
 */
export async function openRuntime(config: Config, log: Logger, role: ClusterRole): Promise<Runtime> {
  const keyring = await loadMasterKeyring(config, (msg) => log.warn(msg));
  const database = await openDatabase(config, log, role);
  try {
    await ensureSigningKey(database.db, keyring);
  } catch (err) {
    await database.close();
    throw err;
  }
  return { keyring, database };
}
