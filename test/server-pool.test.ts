import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/schema.js';
import { SERVER_POOL_OPTIONS, serverPool, THEN_COMMIT, WITH_NEXT } from '../src/db/server-pool.js';
import { startTestApp, type TestApp } from './support/harness.js';

let t: TestApp;
let pool: pg.Pool;
let db: Kysely<Database>;
/** Writes to the database socket since the last reset: each is one round trip's request. */
let writes = 0;

beforeAll(async () => {
  t = await startTestApp();
  await t.pool.query('create table pipelined (id int primary key, note text not null)');
  pool = new pg.Pool({ connectionString: t.databaseUrl, max: 1, ...SERVER_POOL_OPTIONS });
  pool.on('connect', (client) => {
    const stream = client.connection.stream as unknown as { _write: Function; _writev: Function };
    const write = stream._write.bind(stream);
    const writev = stream._writev.bind(stream);
    stream._write = (...args: unknown[]) => ((writes += 1), write(...args));
    stream._writev = (...args: unknown[]) => ((writes += 1), writev(...args));
  });
  db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: serverPool(pool) }) });
  // Connected and the statements below prepared on it, so writes count round trips only.
  await db.transaction().execute(async (trx) => {
    await sql`select count(*) from pipelined`.execute(trx);
    await sql`insert into pipelined values (0, 'warm-up') on conflict do nothing${THEN_COMMIT}`.execute(trx);
  });
  await db.transaction().execute((trx) => sql`insert into pipelined values (0, 'warm-up') on conflict do nothing${WITH_NEXT}`.execute(trx));
});
afterAll(async () => {
  await db.destroy();
  await t.close();
});

const rows = async (id: number) => (await t.pool.query('select note from pipelined where id = $1', [id])).rows;

describe('the server pool (pipelined transaction boundaries)', () => {
  it('sends BEGIN with the first statement and COMMIT with the statement marked THEN_COMMIT: two statements, two round trips', async () => {
    writes = 0;
    await db.transaction().execute(async (trx) => {
      await sql`select count(*) from pipelined`.execute(trx);
      await sql`insert into pipelined values (1, 'one') on conflict do nothing${THEN_COMMIT}`.execute(trx);
    });
    expect(writes).toBe(2);
    expect(await rows(1)).toEqual([{ note: 'one' }]);
  });

  it('runs the statements in one transaction, committed by the COMMIT that went with the last one', async () => {
    writes = 0;
    await db.transaction().execute(async (trx) => {
      await sql`insert into pipelined values (2, 'two')`.execute(trx);
      expect(await rows(2)).toEqual([]);
      await sql`insert into pipelined values (3, 'three')${THEN_COMMIT}`.execute(trx);
    });
    expect(writes).toBe(2);
    expect([...(await rows(2)), ...(await rows(3))]).toEqual([{ note: 'two' }, { note: 'three' }]);
  });

  it('keeps a plain transaction to one round trip per statement plus its COMMIT', async () => {
    writes = 0;
    await db.transaction().execute(async (trx) => {
      await sql`select count(*) from pipelined`.execute(trx);
      await sql`select count(*) from pipelined`.execute(trx);
    });
    expect(writes).toBe(3);
  });

  it('sends nothing for a transaction that runs no statement', async () => {
    writes = 0;
    await expect(db.transaction().execute(async () => 'nothing')).resolves.toBe('nothing');
    expect(writes).toBe(0);
  });

  it('rolls everything back when the marked statement fails: the COMMIT behind it finds the transaction aborted', async () => {
    const failing = db.transaction().execute(async (trx) => {
      await sql`insert into pipelined values (4, 'four')`.execute(trx);
      await sql`insert into pipelined values (1, 'duplicate')${THEN_COMMIT}`.execute(trx);
    });
    await expect(failing).rejects.toMatchObject({ code: '23505' });
    expect(await rows(4)).toEqual([]);
    // The connection is clean for the next transaction.
    await db.transaction().execute((trx) => sql`insert into pipelined values (5, 'five')${THEN_COMMIT}`.execute(trx));
    expect(await rows(5)).toEqual([{ note: 'five' }]);
  });

  it('rolls back when the first statement, sent with BEGIN, fails', async () => {
    await expect(
      db.transaction().execute(async (trx) => {
        await sql`insert into pipelined values (1, 'duplicate')`.execute(trx);
      }),
    ).rejects.toMatchObject({ code: '23505' });
    await db.transaction().execute((trx) => sql`insert into pipelined values (6, 'six')`.execute(trx));
    expect(await rows(6)).toEqual([{ note: 'six' }]);
  });

  it('refuses a statement after the marked one, and says so when asked to roll back what has committed', async () => {
    const after = db.transaction().execute(async (trx) => {
      await sql`insert into pipelined values (7, 'seven')${THEN_COMMIT}`.execute(trx);
      await sql`select 1`.execute(trx);
    });
    await expect(after).rejects.toThrow(/cannot be rolled back/);
    expect(await rows(7)).toEqual([{ note: 'seven' }]);
  });

  it('holds a WITH_NEXT statement back and sends it with the next one: BEGIN, it and a read in one round trip', async () => {
    writes = 0;
    const counted = await db.transaction().execute(async (trx) => {
      const held = await sql`insert into pipelined values (10, 'ten') on conflict do nothing${WITH_NEXT}`.execute(trx);
      expect(held.rows).toEqual([]);
      expect(writes).toBe(0);
      return (await sql<{ n: number }>`select count(*)::int as n from pipelined where id = 10`.execute(trx)).rows[0]!.n;
    });
    expect(counted).toBe(1);
    expect(writes).toBe(2);
    expect(await rows(10)).toEqual([{ note: 'ten' }]);
  });

  it('sends a WITH_NEXT statement with the COMMIT when nothing follows it', async () => {
    writes = 0;
    await db.transaction().execute((trx) => sql`insert into pipelined values (11, 'eleven') on conflict do nothing${WITH_NEXT}`.execute(trx));
    expect(writes).toBe(1);
    expect(await rows(11)).toEqual([{ note: 'eleven' }]);
  });

  it('reports a failed WITH_NEXT statement as the next statement\'s error, and runs nothing after it', async () => {
    const failing = db.transaction().execute(async (trx) => {
      await sql`insert into pipelined values (1, 'duplicate')${WITH_NEXT}`.execute(trx);
      await sql`insert into pipelined values (12, 'twelve')`.execute(trx);
    });
    await expect(failing).rejects.toMatchObject({ code: '23505', constraint: 'pipelined_pkey' });
    expect(await rows(12)).toEqual([]);
    const atCommit = db.transaction().execute((trx) => sql`insert into pipelined values (1, 'duplicate')${WITH_NEXT}`.execute(trx));
    await expect(atCommit).rejects.toMatchObject({ code: '23505', constraint: 'pipelined_pkey' });
  });

  it('sends nothing for a transaction rolled back before anything but held statements', async () => {
    writes = 0;
    const abandoned = db.transaction().execute(async (trx) => {
      await sql`insert into pipelined values (13, 'thirteen')${WITH_NEXT}`.execute(trx);
      throw new Error('changed my mind');
    });
    await expect(abandoned).rejects.toThrow('changed my mind');
    expect(writes).toBe(0);
    expect(await rows(13)).toEqual([]);
  });

  it('refuses marked statements outside a transaction, where nothing would send or end them', async () => {
    await expect(sql`select 1${WITH_NEXT}`.execute(db)).rejects.toThrow(/statements of a transaction/);
    await expect(sql`select 1${THEN_COMMIT}`.execute(db)).rejects.toThrow(/statements of a transaction/);
  });
});
