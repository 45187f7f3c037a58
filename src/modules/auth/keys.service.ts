import { sql, type Transaction } from 'kysely';
import type { Db } from '../../db/database.js';
import type { Database } from '../../db/schema.js';
import type { MasterKeyring } from '../../crypto/master-keys.js';
import { newId } from '../../domain/ids.js';
import type { Mode } from '../../domain/scope.js';
import { hashApiSecret, loadPepper, newApiKey, newApiSecret } from './api-keys.js';
import * as repo from './keys.repo.js';

export interface ApiCredentials {
  projectId: string;
  apiKey: string;
  apiSecret: string;
}

export class UnknownProjectError extends Error {}

/** Operator actions on projects and API keys (the CLI and the first start use them). */
export function createKeysService(db: Db, keyring: MasterKeyring, keyEnvironment: string) {
  async function insertKey(trx: Transaction<Database>, pepper: Buffer, mode: Mode, projectId?: string): Promise<ApiCredentials> {
    let project = projectId;
    if (project === undefined) {
      project = newId('project');
      await repo.insertProject(trx, project, 'Default project');
    } else if (!(await repo.projectExists(trx, project))) {
      throw new UnknownProjectError(`no project ${project}`);
    }
    const apiKey = newApiKey(mode, keyEnvironment);
    const apiSecret = newApiSecret();
    await repo.insertApiKey(trx, { projectId: project, mode, id: apiKey, secretHash: hashApiSecret(pepper, apiSecret) });
    return { projectId: project, apiKey, apiSecret };
  }

  return {
    /** A key for the project, or for a new project when none is named. */
    async createKey(mode: Mode, projectId?: string): Promise<ApiCredentials> {
      const pepper = await loadPepper(db, keyring);
      return db.transaction().execute((trx) => insertKey(trx, pepper, mode, projectId));
    },

    revoke: (apiKey: string) => repo.revokeApiKey(db, apiKey),

    /** On the very first start: a project and one sandbox key, so the server is usable at once. */
    async createFirstKeyIfEmpty(): Promise<ApiCredentials | undefined> {
      const pepper = await loadPepper(db, keyring);
      return db.transaction().execute(async (trx) => {
        await sql`select pg_advisory_xact_lock(hashtext('oms:first-start'))`.execute(trx);
        if ((await repo.countProjects(trx)) > 0) return undefined;
        return insertKey(trx, pepper, 'sandbox');
      });
    },
  };
}
