import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { migrate } from '../src/db/migrate.js';
import { adminQuery, withDatabase } from './support/global-setup.js';

describe('migrations', () => {
  it('apply exactly once when several processes start together', async () => {
    const database = `oms_t_${inject('runId')}_mig_${randomBytes(3).toString('hex')}`;
    await adminQuery(inject('adminUrl'), `create database ${database}`);
    const pools = Array.from({ length: 4 }, () => new pg.Pool({ connectionString: withDatabase(inject('adminUrl'), database), max: 1 }));
    try {
      const applied = await Promise.all(pools.map((pool) => migrate(pool)));
      // One starter applied everything; the others found nothing left to do.
      expect(applied.filter((versions) => versions.length > 0)).toHaveLength(1);
      const rows = await pools[0]!.query('select version from schema_migrations');
      expect(rows.rows.map((r) => r.version)).toEqual(applied.find((v) => v.length > 0));
      expect(await migrate(pools[0]!)).toEqual([]);
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
    }
  });

  it('refuse to start when an applied migration was edited', async () => {
    const database = `oms_t_${inject('runId')}_mig_${randomBytes(3).toString('hex')}`;
    await adminQuery(inject('adminUrl'), `create database ${database}`);
    const pool = new pg.Pool({ connectionString: withDatabase(inject('adminUrl'), database), max: 1 });
    try {
      await migrate(pool);
      await pool.query(`update schema_migrations set checksum = 'edited' where version = '0001_foundation'`);
      await expect(migrate(pool)).rejects.toThrow(/0001_foundation was changed/);
    } finally {
      await pool.end();
    }
  });
});
