import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { migrate } from '../src/db/migrate.js';
import { adminQuery, withDatabase } from './support/global-setup.js';
import { ROOT } from './support/processes.js';

const MIGRATIONS = path.join(ROOT, 'src', 'db', 'migrations');

/** Brings a new database to `last` (inclusive) as `migrate` would have, recording each step. */
async function migrateUntil(pool: pg.Pool, last: string): Promise<void> {
  await pool.query('create table schema_migrations (version text primary key, checksum text not null, applied_at timestamptz not null default now())');
  for (const file of readdirSync(MIGRATIONS).filter((f) => f.endsWith('.sql')).sort()) {
    const version = file.replace(/\.sql$/, '');
    if (version > last) break;
    const text = readFileSync(path.join(MIGRATIONS, file), 'utf8');
    await pool.query(text);
    await pool.query('insert into schema_migrations (version, checksum) values ($1, $2)', [version, createHash('sha256').update(text).digest('hex')]);
  }
}

/** Runs `work` on a new, empty database (no migrations applied). */
async function withEmptyDatabase(work: (pool: pg.Pool) => Promise<void>): Promise<void> {
  const database = `oms_t_${inject('runId')}_mig_${randomBytes(3).toString('hex')}`;
  await adminQuery(inject('adminUrl'), `create database ${database}`);
  const pool = new pg.Pool({ connectionString: withDatabase(inject('adminUrl'), database), max: 1 });
  try {
    await work(pool);
  } finally {
    await pool.end();
  }
}

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
    await withEmptyDatabase(async (pool) => {
      await migrate(pool);
      await pool.query(`update schema_migrations set checksum = 'edited' where version = '0001_foundation'`);
      await expect(migrate(pool)).rejects.toThrow(/0001_foundation was changed/);
    });
  });

  it('upgrade a ledger written before 0009: the world keeps no cached balance, wallets name their accounts, the books still balance', async () => {
    await withEmptyDatabase(async (pool) => {
      await migrateUntil(pool, '0008_wallets');
      const p = 'prj_upgrade';
      await pool.query(
        `insert into customers (project_id, mode, id, data_key_sealed, master_key_id, created_at, updated_at) values ($1, 'sandbox', 'cst_1', '\\x00', 'k', now(), now())`,
        [p],
      );
      await pool.query(`insert into wallets values ($1, 'sandbox', 'wlt_1', 'cst_1', 'usdc', 'base', '0xabc', 'active', 'internal', now(), now())`, [p]);
      await pool.query(
        `insert into ledger_accounts values
           ($1, 'sandbox', 'acc_wallet', 'wallet', 'usdc', 'base', 'wlt_1', 6, false, 0, now()),
           ($1, 'sandbox', 'acc_world', 'external', 'usdc', 'base', null, 6, true, 0, now())`,
        [p],
      );
      await pool.query('begin');
      await pool.query(`insert into journal_entries values ($1, 'sandbox', 'e1', 'deposit', '0x01', now())`, [p]);
      await pool.query(
        `insert into ledger_postings values ($1, 'sandbox', 'e1', 0, 'acc_world', 'usdc', -7.25, now()), ($1, 'sandbox', 'e1', 1, 'acc_wallet', 'usdc', 7.25, now())`,
        [p],
      );
      await pool.query('commit');

      expect((await migrate(pool))[0]).toBe('0009_ledger_hot_paths');

      const accounts = await pool.query(`select id, balance::text from ledger_accounts where id like 'acc_%' order by id`);
      expect(accounts.rows).toEqual([
        { id: 'acc_wallet', balance: '7.25' },
        { id: 'acc_world', balance: null },
      ]);
      const wallet = await pool.query(`select ledger_account_id, external_account_id from wallets where id = 'wlt_1'`);
      expect(wallet.rows).toEqual([{ ledger_account_id: 'acc_wallet', external_account_id: 'acc_world' }]);
      // A movement after the upgrade goes through the new path and leaves the same totals.
      const posted = await pool.query(
        `select account_id, balance::text from ledger_post($1, 'sandbox', 'e2', 'deposit', null, now(), array['acc_wallet', 'acc_world'], array['usdc', 'usdc'], array[1, -1]::numeric[])`,
        [p],
      );
      expect(posted.rows).toEqual(expect.arrayContaining([{ account_id: 'acc_wallet', balance: '8.25' }]));
      const sums = await pool.query(`select account_id, sum(amount)::text as total from ledger_postings group by 1 order by 1`);
      expect(sums.rows).toEqual([
        { account_id: 'acc_wallet', total: '8.25' },
        { account_id: 'acc_world', total: '-8.25' },
      ]);
    });
  });

  it('upgrade wallets opened before 0013: each gets its own hold account and names its fee account; the unused shared holds go', async () => {
    await withEmptyDatabase(async (pool) => {
      await migrateUntil(pool, '0012_webhooks');
      const p = 'prj_upgrade';
      await pool.query(
        `insert into customers (project_id, mode, id, data_key_sealed, master_key_id, created_at, updated_at)
         values ($1, 'sandbox', 'cst_1', '\\x00', 'k', now(), now()), ($1, 'sandbox', 'cst_2', '\\x00', 'k', now(), now())`,
        [p],
      );
      await pool.query(
        `insert into ledger_accounts (project_id, mode, id, kind, asset, chain, wallet_id, scale, allow_negative, balance, created_at) values
           ($1, 'sandbox', 'acc_w1', 'wallet', 'usdc', 'base', 'wlt_1', 6, false, 0, now()),
           ($1, 'sandbox', 'acc_w2', 'wallet', 'usdc', 'base', 'wlt_2', 6, false, 0, now()),
           ($1, 'sandbox', 'acc_world', 'external', 'usdc', 'base', null, 6, true, null, now()),
           ($1, 'sandbox', 'acc_shared_hold', 'in_flight', 'usdc', 'base', null, 6, false, 0, now())`,
        [p],
      );
      for (const [wallet, customer, account] of [['wlt_1', 'cst_1', 'acc_w1'], ['wlt_2', 'cst_2', 'acc_w2']]) {
        await pool.query(
          `insert into wallets (project_id, mode, id, customer_id, asset, chain, address, status, type, ledger_account_id, external_account_id, created_at, updated_at)
           values ($1, 'sandbox', $2, $3, 'usdc', 'base', '0xabc', 'active', 'internal', $4, 'acc_world', now(), now())`,
          [p, wallet, customer, account],
        );
      }

      expect(await migrate(pool)).toContain('0013_quotes_transactions');

      expect((await pool.query(`select 1 from ledger_accounts where id = 'acc_shared_hold'`)).rowCount).toBe(0);
      const named = await pool.query(
        `select w.id, h.kind as hold_kind, h.wallet_id as hold_wallet, h.balance::text as held, f.kind as fees_kind, f.id as fees_id
           from wallets w
           join ledger_accounts h on (h.project_id, h.mode, h.id) = (w.project_id, w.mode, w.hold_account_id)
           join ledger_accounts f on (f.project_id, f.mode, f.id) = (w.project_id, w.mode, w.fees_account_id)
          order by w.id`,
      );
      expect(named.rows.map(({ fees_id: _, ...rest }) => rest)).toEqual([
        { id: 'wlt_1', hold_kind: 'in_flight', hold_wallet: 'wlt_1', held: '0', fees_kind: 'fees' },
        { id: 'wlt_2', hold_kind: 'in_flight', hold_wallet: 'wlt_2', held: '0', fees_kind: 'fees' },
      ]);
      // One fee account per asset and chain, shared by both wallets.
      expect(named.rows[0].fees_id).toBe(named.rows[1].fees_id);
      // A hold account belongs to a wallet; the database refuses one that does not.
      await expect(
        pool.query(`insert into ledger_accounts (project_id, mode, id, kind, asset, chain, wallet_id, scale, allow_negative, balance, created_at) values ($1, 'sandbox', 'acc_x', 'in_flight', 'usdc', 'ethereum', null, 6, false, 0, now())`, [p]),
      ).rejects.toThrow(/ledger_accounts_wallet_owned/);
    });
  });
});
