import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { packageRoot } from '../package-root.js';

const MIGRATIONS_DIR = path.join(packageRoot, 'src', 'db', 'migrations');
// Any constant works; it only has to be the same in every process that migrates.
const MIGRATION_LOCK = 4_263_811_042;

interface Migration {
  version: string;
  sql: string;
  checksum: string;
}

/**
 * Applies the forward-only SQL migrations that have not run yet, each in its own
 * transaction, under a session advisory lock so that processes starting together apply each
 * migration exactly once. A migration that was applied and then edited stops the start.
 */
export async function migrate(pool: pg.Pool): Promise<string[]> {
  const migrations = await readMigrations();
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query(`create table if not exists schema_migrations (
      version text primary key, checksum text not null, applied_at timestamptz not null default now())`);
    const applied = new Map(
      (await client.query<{ version: string; checksum: string }>('select version, checksum from schema_migrations')).rows.map(
        (r) => [r.version, r.checksum],
      ),
    );
    const ran: string[] = [];
    for (const m of migrations) {
      const checksum = applied.get(m.version);
      if (checksum !== undefined) {
        if (checksum !== m.checksum) throw new Error(`migration ${m.version} was changed after it was applied`);
        continue;
      }
      await client.query('begin');
      try {
        await client.query(m.sql);
        await client.query('insert into schema_migrations (version, checksum) values ($1, $2)', [m.version, m.checksum]);
        await client.query('commit');
      } catch (err) {
        await client.query('rollback');
        throw new Error(`migration ${m.version} failed: ${(err as Error).message}`);
      }
      ran.push(m.version);
    }
    return ran;
  } finally {
    await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    client.release();
  }
}

async function readMigrations(): Promise<Migration[]> {
  const files = (await fs.readdir(MIGRATIONS_DIR)).filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (file) => {
      const sql = await fs.readFile(path.join(MIGRATIONS_DIR, file), 'utf8');
      return { version: file.replace(/\.sql$/, ''), sql, checksum: createHash('sha256').update(sql).digest('hex') };
    }),
  );
}
