import type { Db } from '../../db/database.js';
import type { Mode } from '../../domain/scope.js';

/** SQL for projects and API keys, the control-plane tables behind authentication. */

export async function insertProject(db: Db, id: string, name: string): Promise<void> {
  await db.insertInto('projects').values({ id, name }).execute();
}

export async function projectExists(db: Db, id: string): Promise<boolean> {
  return (await db.selectFrom('projects').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
}

export async function countProjects(db: Db): Promise<number> {
  const row = await db.selectFrom('projects').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  return Number.parseInt(row.n, 10);
}

export async function insertApiKey(db: Db, key: { projectId: string; mode: Mode; id: string; secretHash: Buffer }): Promise<void> {
  await db
    .insertInto('api_keys')
    .values({ project_id: key.projectId, mode: key.mode, id: key.id, secret_hash: key.secretHash })
    .execute();
}

export interface ApiKeyRecord {
  projectId: string;
  mode: Mode;
  secretHash: Buffer;
  revoked: boolean;
}

/** The one query that reads a secret hash: token issuance. */
export async function findApiKeyWithSecret(db: Db, apiKey: string): Promise<ApiKeyRecord | undefined> {
  const row = await db
    .selectFrom('api_keys')
    .select(['project_id', 'mode', 'secret_hash', 'revoked_at'])
    .where('id', '=', apiKey)
    .executeTakeFirst();
  return row && { projectId: row.project_id, mode: row.mode, secretHash: row.secret_hash, revoked: row.revoked_at !== null };
}

export async function isApiKeyActive(db: Db, apiKey: string): Promise<boolean> {
  const row = await db.selectFrom('api_keys').select('revoked_at').where('id', '=', apiKey).executeTakeFirst();
  return row !== undefined && row.revoked_at === null;
}

/** Returns false when there was no such key or it was already revoked. */
export async function revokeApiKey(db: Db, apiKey: string): Promise<boolean> {
  const result = await db
    .updateTable('api_keys')
    .set({ revoked_at: new Date() })
    .where('id', '=', apiKey)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}
