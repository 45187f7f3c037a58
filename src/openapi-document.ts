import { randomBytes } from 'node:crypto';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { buildApp } from './app.js';
import { loadConfig } from './config.js';
import { createMasterKeyring } from './crypto/master-keys.js';
import type { Database } from './db/schema.js';

/**
 * The OpenAPI document as the routes define it, rendered without a database (building the app
 * opens no connection), for the committed copy in openapi/openapi.json and its drift test.
 */
export async function renderOpenApiDocument(): Promise<string> {
  const pool = new pg.Pool({ connectionString: 'postgres://unused@127.0.0.1:1/unused' });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  const config = loadConfig({ DATABASE_URL: 'postgres://unused@127.0.0.1:1/unused', OMS_MASTER_KEY: randomBytes(32).toString('base64') });
  const custody = { evmAddressOf: () => Promise.reject(new Error('the document renderer derives no address')) };
  const app = await buildApp({ config, db, keyring: createMasterKeyring([randomBytes(32)]), custody, fastify: { logger: false } });
  try {
    await app.ready();
    return `${JSON.stringify(app.swagger(), null, 2)}\n`;
  } finally {
    await app.close();
    await db.destroy();
  }
}
