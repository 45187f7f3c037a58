import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scope } from '../src/domain/scope.js';
import { formatAmount, parsePositiveAmount } from '../src/ledger/decimal-amount.js';
import * as ledger from '../src/ledger/ledger.js';
import { startTestApp, type TestApp } from './support/harness.js';
import { ROOT } from './support/processes.js';

/**
 * The ledger (issue 4, part 1) on real PostgreSQL: the invariants hold because the database
 * enforces them, so they are tested through the code and around it, with SQL sent directly.
 */

let t: TestApp;
let scope: Scope;
let n = 0;

beforeAll(async () => {
  t = await startTestApp();
  scope = { projectId: t.api.credentials.projectId, mode: 'sandbox' };
});
afterAll(() => t.close());

const wallet = (asset = 'usdc', scale = 6): Promise<ledger.AccountRef> =>
  ledger.transaction(t.db, (trx) => ledger.ensureAccount(trx, scope, { kind: 'wallet', asset, chain: 'polygon', walletId: `wlt_test_${n++}`, scale }));

const external = (asset = 'usdc', scale = 6): Promise<ledger.AccountRef> =>
  ledger.transaction(t.db, (trx) => ledger.ensureAccount(trx, scope, { kind: 'external', asset, chain: 'polygon', walletId: null, scale }));

const move = (from: ledger.AccountRef, to: ledger.AccountRef, amount: string) =>
  ledger.transaction(t.db, (trx) => ledger.post(trx, scope, ledger.transfer('test', from, to, amount)));
const balanceOf = async (account: ledger.AccountRef) => (await ledger.findAccount(t.db, scope, account.id))!.balance!;

/** One raw connection, to send SQL the way a person at psql would. */
async function raw<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: t.databaseUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

describe('decimal amounts', () => {
  it.each([
    ['10', 2, '10'],
    ['10.5', 2, '10.5'],
    ['0.000001', 6, '0.000001'],
  ])('accepts %s at scale %i', (value, scale, expected) => expect(parsePositiveAmount(value, scale)).toBe(expected));

  it.each([
    ['-1', 2],
    ['0', 2],
    ['0.00', 2],
    ['1.234', 2],
    ['1e3', 2],
    ['01', 2],
    ['.5', 2],
    ['1.', 2],
    [' 1', 2],
    ['NaN', 2],
  ])('refuses %s at scale %i', (value, scale) => expect(() => parsePositiveAmount(value, scale)).toThrow());

  it.each([
    ['10.5', 2, '10.50'],
    ['10', 6, '10.000000'],
    ['-3.100', 2, '-3.10'],
    ['0', 2, '0.00'],
    ['-0', 2, '0.00'],
    ['12345678901234567890.123456', 6, '12345678901234567890.123456'],
  ])('formats %s at scale %i as %s, without rounding', (value, scale, expected) => expect(formatAmount(value, scale)).toBe(expected));

  it('refuses to format a value with more decimals than the scale instead of rounding it', () => {
    expect(() => formatAmount('1.005', 2)).toThrow();
  });

  it.each(['ledger', 'pricing', 'settlement', 'modules/quotes', 'modules/transactions', 'modules/wallets'])('never parses an amount as a float in src/%s', (where) => {
    const dir = path.join(ROOT, 'src', where);
    for (const file of readdirSync(dir)) {
      const text = readFileSync(path.join(dir, file), 'utf8');
      expect(text, file).not.toMatch(/parseFloat\(|Number\(|parseInt\(|Math\.round\(|toFixed\(/);
    }
  });
});

describe('the database refuses, even to SQL sent by hand', () => {
  it('an entry whose postings do not sum to zero', async () => {
    const [a, world] = [await wallet(), await external()];
    await expect(
      raw(async (c) => {
        await c.query('begin');
        await c.query(`insert into journal_entries values ($1, 'sandbox', 'e-unbalanced', 'test', null, now())`, [scope.projectId]);
        await c.query(`insert into ledger_postings values ($1, 'sandbox', 'e-unbalanced', 0, $2, 'usdc', 5, now())`, [scope.projectId, a.id]);
        await c.query(`insert into ledger_postings values ($1, 'sandbox', 'e-unbalanced', 1, $2, 'usdc', -4, now())`, [scope.projectId, world.id]);
        await c.query('commit');
      }),
    ).rejects.toThrow(/does not balance/);
    expect(await balanceOf(a)).toBe('0');
  });

  it('an entry written over two statements, even one that would balance at commit', async () => {
    const [a, world] = [await wallet(), await external()];
    await expect(
      raw(async (c) => {
        await c.query('begin');
        await c.query(`insert into journal_entries values ($1, 'sandbox', 'e-split', 'test', null, now())`, [scope.projectId]);
        await c.query(`insert into ledger_postings values ($1, 'sandbox', 'e-split', 0, $2, 'usdc', 5, now())`, [scope.projectId, a.id]);
        await c.query(`insert into ledger_postings values ($1, 'sandbox', 'e-split', 1, $2, 'usdc', -5, now())`, [scope.projectId, world.id]);
        await c.query('commit');
      }),
    ).rejects.toThrow(/does not balance/);
    expect(await balanceOf(a)).toBe('0');
  });

  it('an entry with a single posting', async () => {
    const world = await external();
    await expect(
      raw(async (c) => {
        await c.query('begin');
        await c.query(`insert into journal_entries values ($1, 'sandbox', 'e-single', 'test', null, now())`, [scope.projectId]);
        await c.query(`insert into ledger_postings values ($1, 'sandbox', 'e-single', 0, $2, 'usdc', 5, now())`, [scope.projectId, world.id]);
        await c.query('commit');
      }),
    ).rejects.toThrow(/does not balance/);
  });

  it('an UPDATE, a DELETE or a TRUNCATE of postings or entries', async () => {
    const [a, world] = [await wallet(), await external()];
    await move(world, a, '3');
    for (const statement of [
      'update ledger_postings set amount = amount * 2',
      'delete from ledger_postings',
      'truncate ledger_postings',
      "update journal_entries set kind = 'other'",
      'delete from journal_entries',
    ]) {
      await expect(raw((c) => c.query(statement)), statement).rejects.toThrow(/immutable|cannot truncate|foreign key/);
    }
    expect(await balanceOf(a)).toBe('3');
    expect(await ledger.reconcile(t.db)).toEqual({ balanceDifferences: [], unbalancedEntries: [] });
  });

  it('a wallet balance below zero', async () => {
    const [a, b] = [await wallet(), await wallet()];
    await expect(
      raw(async (c) => {
        await c.query('begin');
        await c.query(`insert into journal_entries values ($1, 'sandbox', 'e-overdraft', 'test', null, now())`, [scope.projectId]);
        await c.query(`insert into ledger_postings values ($1, 'sandbox', 'e-overdraft', 0, $2, 'usdc', -1, now())`, [scope.projectId, a.id]);
        await c.query(`insert into ledger_postings values ($1, 'sandbox', 'e-overdraft', 1, $2, 'usdc', 1, now())`, [scope.projectId, b.id]);
        await c.query('commit');
      }),
    ).rejects.toThrow(/ledger_accounts_not_negative/);
  });

  it('a balance set by hand, which would no longer be the sum of its postings', async () => {
    const [a, world] = [await wallet(), await external()];
    await expect(raw((c) => c.query('update ledger_accounts set balance = 1000000 where id = $1', [a.id]))).rejects.toThrow(/only through postings/);
    await expect(raw((c) => c.query('update ledger_accounts set balance = 0 where id = $1', [world.id]))).rejects.toThrow(/only through postings/);
  });

  it('a cached balance on an account of the outside world, or none on a wallet', async () => {
    await expect(
      raw((c) => c.query(`insert into ledger_accounts values ($1, 'sandbox', 'acct-world', 'external', 'usdc', 'celo', null, 6, true, 0, now())`, [scope.projectId])),
    ).rejects.toThrow(/ledger_accounts_balance_cached_unless_world/);
    await expect(
      raw((c) => c.query(`insert into ledger_accounts values ($1, 'sandbox', 'acct-wallet', 'wallet', 'usdc', 'celo', 'wlt_x', 6, false, null, now())`, [scope.projectId])),
    ).rejects.toThrow(/ledger_accounts_balance_cached_unless_world/);
  });

  it('a posting in another asset than its account, or with more decimals than the asset has', async () => {
    const [a, world] = [await wallet('usdc', 2), await external('usdc', 2)];
    await expect(move(world, a, '1.001')).rejects.toThrow(/more than 2 decimals/);
    await expect(
      raw(async (c) => {
        await c.query('begin');
        await c.query(`insert into journal_entries values ($1, 'sandbox', 'e-asset', 'test', null, now())`, [scope.projectId]);
        await c.query(`insert into ledger_postings values ($1, 'sandbox', 'e-asset', 0, $2, 'usdt', 1, now())`, [scope.projectId, a.id]);
        await c.query('commit');
      }),
    ).rejects.toThrow(/foreign key/);
  });
});

describe('movements', () => {
  it('does not make deposits into different wallets wait on each other at the world account', async () => {
    const [a, b, world] = [await wallet(), await wallet(), await external()];
    await raw(async (holder) => {
      await holder.query('begin');
      await holder.query(`insert into journal_entries values ($1, 'sandbox', 'e-open', 'test', null, now())`, [scope.projectId]);
      await holder.query(`insert into ledger_postings values ($1, 'sandbox', 'e-open', 0, $2, 'usdc', -1, now()), ($1, 'sandbox', 'e-open', 1, $3, 'usdc', 1, now())`, [
        scope.projectId,
        world.id,
        a.id,
      ]);
      // The first deposit is still open; a second one, from the same world account, must not queue behind it.
      await raw(async (other) => {
        await other.query(`set lock_timeout = '1s'`);
        await other.query('begin');
        await other.query(`insert into journal_entries values ($1, 'sandbox', 'e-second', 'test', null, now())`, [scope.projectId]);
        await other.query(`insert into ledger_postings values ($1, 'sandbox', 'e-second', 0, $2, 'usdc', -2, now()), ($1, 'sandbox', 'e-second', 1, $3, 'usdc', 2, now())`, [
          scope.projectId,
          world.id,
          b.id,
        ]);
        await other.query('commit');
      });
      await holder.query('commit');
    });
    expect([await balanceOf(a), await balanceOf(b)]).toEqual(['1', '2']);
    expect((await ledger.findAccount(t.db, scope, world.id))!.balance).toBeNull();
  });

  it('refuses an overdraft with insufficient_funds and leaves nothing behind', async () => {
    const [a, b, world] = [await wallet(), await wallet(), await external()];
    await move(world, a, '5');
    await expect(move(a, b, '5.000001')).rejects.toMatchObject({ code: 'insufficient_funds' });
    expect([await balanceOf(a), await balanceOf(b)]).toEqual(['5', '0']);
  });

  it('lets exactly 10 of 100 concurrent 1.00 withdrawals from 10.00 through, ending at 0.00', async () => {
    const [a, b, world] = [await wallet('usdc', 2), await wallet('usdc', 2), await external('usdc', 2)];
    await move(world, a, '10.00');
    const results = await Promise.allSettled(Array.from({ length: 100 }, () => move(a, b, '1.00')));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'insufficient_funds' });
    expect(formatAmount(await balanceOf(a), 2)).toBe('0.00');
    expect(formatAmount(await balanceOf(b), 2)).toBe('10.00');
  });

  it('runs 1,000 opposite movements between two wallets without a failure and reconciles clean', async () => {
    const [a, b, world] = [await wallet(), await wallet(), await external()];
    await move(world, a, '1000');
    await move(world, b, '1000');
    const results = await Promise.allSettled(Array.from({ length: 1_000 }, (_, i) => (i % 2 === 0 ? move(a, b, '0.5') : move(b, a, '0.25'))));
    expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason)).toEqual([]);
    expect([await balanceOf(a), await balanceOf(b)].map((v) => formatAmount(v, 6))).toEqual(['875.000000', '1125.000000']);
    expect(await ledger.reconcile(t.db)).toEqual({ balanceDifferences: [], unbalancedEntries: [] });
  }, 60_000);
});

describe('several movements posted at once (postAll, as settlement does)', () => {
  const entriesOf = async (reference: string) =>
    (await t.pool.query(`select e.kind, count(p.*)::int as legs from journal_entries e join ledger_postings p on (p.project_id, p.mode, p.entry_id) = (e.project_id, e.mode, e.id) where e.reference = $1 group by e.id, e.kind order by e.kind`, [reference])).rows;

  it('writes one entry per movement, each with its own legs, and moves every balance', async () => {
    const [a, b, c, world] = [await wallet(), await wallet(), await wallet(), await external()];
    await move(world, a, '10');
    const reference = `batch-${n++}`;
    await ledger.transaction(t.db, (trx) =>
      ledger.postAll(trx, scope, [
        { kind: 'first', reference, legs: [{ account: a, amount: '-4' }, { account: b, amount: '3' }, { account: c, amount: '1' }] },
        { kind: 'second', reference, legs: [{ account: a, amount: '-2.5' }, { account: world, amount: '2.5' }] },
      ]),
    );
    expect([await balanceOf(a), await balanceOf(b), await balanceOf(c)]).toEqual(['3.5', '3', '1']);
    expect(await entriesOf(reference)).toEqual([
      { kind: 'first', legs: 3 },
      { kind: 'second', legs: 2 },
    ]);
    expect(await ledger.reconcile(t.db)).toEqual({ balanceDifferences: [], unbalancedEntries: [] });
  });

  it('refuses the whole batch when one movement would overdraw, or one entry does not balance, even if the batch as a whole sums to zero', async () => {
    const [a, b, world] = [await wallet(), await wallet(), await external()];
    await move(world, a, '5');
    const reference = `batch-${n++}`;
    await expect(
      ledger.transaction(t.db, (trx) =>
        ledger.postAll(trx, scope, [
          { kind: 'fine', reference, legs: [{ account: a, amount: '-1' }, { account: b, amount: '1' }] },
          { kind: 'overdraws', reference, legs: [{ account: b, amount: '-2' }, { account: a, amount: '2' }] },
        ]),
      ),
    ).rejects.toMatchObject({ code: 'insufficient_funds' });
    await expect(
      ledger.transaction(t.db, (trx) =>
        ledger.postAll(trx, scope, [
          { kind: 'short', reference, legs: [{ account: a, amount: '-1' }, { account: b, amount: '0.5' }] },
          { kind: 'long', reference, legs: [{ account: world, amount: '-0.5' }, { account: b, amount: '1' }] },
        ]),
      ),
    ).rejects.toThrow(/does not balance/);
    expect([await balanceOf(a), await balanceOf(b)]).toEqual(['5', '0']);
    expect(await entriesOf(reference)).toEqual([]);
  });
});

describe('ledger properties (fast-check, against an in-memory model)', () => {
  /** Amounts as integer hundredths in the model: BigInt, never a float. */
  const amount = fc.bigInt({ min: 1n, max: 50_000n });
  const text = (hundredths: bigint) => `${hundredths / 100n}.${(hundredths % 100n).toString().padStart(2, '0')}`;
  const command = fc.oneof(
    fc.record({ op: fc.constant('deposit' as const), to: fc.nat(3), hundredths: amount }),
    fc.record({ op: fc.constant('move' as const), from: fc.nat(3), to: fc.nat(3), hundredths: amount }),
    fc.record({ op: fc.constant('withdraw' as const), from: fc.nat(3), hundredths: amount }),
  );

  it('keeps every entry balanced, every balance equal to its postings and no wallet negative', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(command, { minLength: 1, maxLength: 25 }), async (commands) => {
        const wallets = [await wallet('usdc', 2), await wallet('usdc', 2), await wallet('usdc', 2), await wallet('usdc', 2)];
        const world = await external('usdc', 2);
        const model = [0n, 0n, 0n, 0n];
        for (const c of commands) {
          const from = c.op === 'deposit' ? undefined : c.from;
          const to = c.op === 'withdraw' ? undefined : c.to;
          if (from !== undefined && from === to) continue;
          const covered = from === undefined || model[from]! >= c.hundredths;
          const attempt = move(from === undefined ? world : wallets[from]!, to === undefined ? world : wallets[to]!, text(c.hundredths));
          if (covered) {
            await attempt;
            if (from !== undefined) model[from]! -= c.hundredths;
            if (to !== undefined) model[to]! += c.hundredths;
          } else {
            await expect(attempt).rejects.toMatchObject({ code: 'insufficient_funds' });
          }
          const balances = await Promise.all(wallets.map(async (id) => formatAmount(await balanceOf(id), 2)));
          expect(balances).toEqual(model.map(text));
        }
        const { rows } = await sql<{ total: string }>`
          select coalesce(sum(amount), 0)::text as total from ledger_postings where project_id = ${scope.projectId} and asset = 'usdc'`.execute(t.db);
        expect(formatAmount(rows[0]!.total, 2)).toBe('0.00');
        expect(await ledger.reconcile(t.db)).toEqual({ balanceDifferences: [], unbalancedEntries: [] });
      }),
      { numRuns: 25 },
    );
  }, 120_000);
});
