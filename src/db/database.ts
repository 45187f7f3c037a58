import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Config } from '../config.js';
import { type ClusterRole, startEmbeddedCluster } from './embedded.js';
import { migrate } from './migrate.js';
import type { Database } from './schema.js';
import { SERVER_POOL_OPTIONS, serverPool } from './server-pool.js';

export type Db = Kysely<Database>;

export interface DatabaseHandle {
  db: Db;
  pool: pg.Pool;
  /** True when the server runs its own PostgreSQL in the data directory. */
  embedded: boolean;
  close(): Promise<void>;
}

interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * Connects to DATABASE_URL, or starts the embedded PostgreSQL when it is unset, and applies
 * pending migrations. int8 and numeric stay strings (pg's default), so no amount ever passes
 * through a JavaScript number.
 */
export async function openDatabase(config: Config, log: Logger, role: ClusterRole): Promise<DatabaseHandle> {
  const cluster = config.databaseUrl ? undefined : await startEmbeddedCluster(config.dataDir, log, role);
  const connectionString = config.databaseUrl ?? cluster!.url;
  const pool = new pg.Pool({
    connectionString,
    max: config.dbPoolSize,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    application_name: 'oms-server',
    ...SERVER_POOL_OPTIONS,
  });
  // A connection dropped while idle (database restart) must not crash the process; the pool
  // replaces it on the next checkout.
  pool.on('error', (err) => log.error({ err }, 'idle database connection failed'));
  try {
    await migrate(pool);
  } catch (err) {
    await pool.end();
    await cluster?.stop();
    throw err;
  }
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: serverPool(pool) }) });
  return {
    db,
    pool,
    embedded: cluster !== undefined,
    async close() {
      await db.destroy();
      await cluster?.stop();
    },
  };
}
