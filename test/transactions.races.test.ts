import { afterAll, beforeAll, expect, it } from 'vitest';
import { reconcile } from '../src/ledger/ledger.js';
import { createSettlementWorker, type SettlementWorker } from '../src/modules/transactions/settlement-worker.js';
import { createSimulatedChain } from '../src/settlement/simulated-chain.js';
import { startTestApp, type ApiResponse, type TestApp } from './support/harness.js';
import { balanceOf, fundedWallet, quote, send } from './support/money.js';

/**
 * Transactions under concurrency: many acceptances of one quote (with distinct keys, and with
 * one key), many sends from one wallet that can pay for only some of them, two settlement
 * workers racing over the same backlog, and an operator failing transfers while the workers
 * settle them. The database decides each race; these tests prove it decides it once.
 */

const TOKEN = 'op-races-token-8c1d4e7f2a9b3605';
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ OMS_SIMULATED_CHAIN_CONFIRMATION_MS: '5', OMS_SETTLEMENT_POLL_MS: '20', OMS_ADMIN_TOKEN: TOKEN });
});
afterAll(() => t?.close());

const EXTERNAL = '0x52908400098527886E0F7030069857D2E4169EE7';

function tally(responses: ApiResponse[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const res of responses) {
    const key = res.status === 201 ? '201' : `${res.status} ${res.body?.error?.code}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}

async function count(sql: string, params: unknown[]): Promise<number> {
  const { rows } = await t.pool.query(sql, params);
  return rows[0].n;
}

async function allFinal(timeoutMs = 20_000, drain: () => Promise<unknown> = () => t.settlement.drain()): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await drain();
    const n = await count(`select count(*)::int as n from transactions where status = 'processing'`, []);
    if (n === 0) return;
    if (Date.now() > deadline) throw new Error(`${n} transactions still processing`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Log lines at warn or above: a worker that hit a deadlock, a lost lease or an error says so there. */
function warnings(): string[] {
  return t
    .logs()
    .split('\n')
    .filter((line) => line.startsWith('{') && (JSON.parse(line) as { level: number }).level >= 40);
}

async function holdAccountsAllEmpty(): Promise<void> {
  const { rows } = await t.pool.query(`select wallet_id, balance::text as balance from ledger_accounts where kind = 'in_flight' and balance <> 0`);
  expect(rows).toEqual([]);
}

/** Another settlement worker on the app's database, as a second process would run one. */
function secondWorker(): SettlementWorker {
  return createSettlementWorker({
    db: t.db,
    listenTo: { connectionString: t.databaseUrl },
    adapter: createSimulatedChain({ confirmationMs: 0 }),
    log: t.app.log as any,
    pollMs: 20,
  });
}

it('100 concurrent acceptances of one quote: one 201, 99 quote_not_open, one row, one debit', async () => {
  const from = await fundedWallet(t.api, '100');
  const to = await fundedWallet(t.api, '0');
  const q = await quote(t.api, { customerId: from.customerId, walletId: from.walletId, to: { id: to.walletId }, sourceAmount: '7' });

  const responses = await Promise.all(Array.from({ length: 100 }, () => send(t.api, q.id)));
  expect(tally(responses)).toEqual({ '201': 1, '422 quote_not_open': 99 });
  const created = responses.find((r) => r.status === 201)!.body;

  expect(await count(`select count(*)::int as n from transactions where quote_id = $1`, [q.id])).toBe(1);
  expect(await count(`select count(*)::int as n from journal_entries where kind = 'transaction.hold' and reference = $1`, [created.id])).toBe(1);
  expect(await count(`select count(*)::int as n from events where type like 'transaction.%.processing' and data->'object'->>'quoteId' = $1`, [q.id])).toBe(1);
  expect(await balanceOf(t.api, from.walletId)).toBe('93.000000');

  await allFinal();
  expect(await balanceOf(t.api, from.walletId)).toBe('93.000000');
  expect(await balanceOf(t.api, to.walletId)).toBe(q.destination.amountNet);
  expect((await t.api.get(`/v0.9/quotes/${q.id}`)).body.status).toBe('accepted');
});

it('20 concurrent identical requests under one Idempotency-Key: one transaction; the rest replay it or are told the key is in use', async () => {
  const from = await fundedWallet(t.api, '10');
  const to = await fundedWallet(t.api, '0');
  const q = await quote(t.api, { customerId: from.customerId, walletId: from.walletId, to: { id: to.walletId }, sourceAmount: '3' });
  const responses = await Promise.all(Array.from({ length: 20 }, () => send(t.api, q.id, {}, 'one-key-for-all')));
  const ok = responses.filter((r) => r.status === 201);
  const busy = responses.filter((r) => r.status === 409);
  expect(ok.length + busy.length, JSON.stringify(tally(responses))).toBe(20);
  expect(ok.length).toBeGreaterThanOrEqual(1);
  for (const res of ok) expect(res.raw).toBe(ok[0]!.raw);
  expect(ok.filter((r) => r.headers['idempotent-replayed'] !== 'true')).toHaveLength(1);
  for (const res of busy) {
    expect(res.body.error.code).toBe('idempotency_key_in_use');
    expect(res.headers['retry-after']).toBeDefined();
  }
  expect(await count(`select count(*)::int as n from transactions where quote_id = $1`, [q.id])).toBe(1);
  expect(await count(`select count(*)::int as n from journal_entries where kind = 'transaction.hold' and reference = $1`, [ok[0]!.body.id])).toBe(1);
  expect(await balanceOf(t.api, from.walletId)).toBe('7.000000');
});

it('100 concurrent sends from a wallet that can pay for exactly 10: 10 × 201, 90 × insufficient_funds, balance 0 at the end', async () => {
  const from = await fundedWallet(t.api, '25');
  const to = await fundedWallet(t.api, '0');
  const quotes: any[] = [];
  for (let i = 0; i < 100; i++) quotes.push(await quote(t.api, { customerId: from.customerId, walletId: from.walletId, to: { id: to.walletId }, sourceAmount: '2.5' }));

  const responses = await Promise.all(quotes.map((q) => send(t.api, q.id)));
  expect(tally(responses)).toEqual({ '201': 10, '422 insufficient_funds': 90 });
  expect(responses.filter((r) => r.status >= 500)).toEqual([]);

  await allFinal();
  expect(await balanceOf(t.api, from.walletId)).toBe('0.000000');
  expect(await balanceOf(t.api, to.walletId)).toBe('24.975000');
  const accepted = responses.flatMap((r, i) => (r.status === 201 ? [quotes[i]!.id] : []));
  const refused = responses.flatMap((r, i) => (r.status === 201 ? [] : [quotes[i]!.id]));
  expect(await count(`select count(*)::int as n from transactions where quote_id = any($1)`, [quotes.map((q) => q.id)])).toBe(10);
  expect(await count(`select count(*)::int as n from quotes where id = any($1) and status = 'accepted'`, [accepted])).toBe(10);
  // The refused quotes were left open.
  expect(await count(`select count(*)::int as n from quotes where id = any($1) and status = 'open'`, [refused])).toBe(90);
  expect(await count(`select count(*)::int as n from events where type like 'transaction.%' and data->'object'->>'quoteId' = any($1)`, [refused])).toBe(0);
  expect(await reconcile(t.db)).toEqual({ balanceDifferences: [], unbalancedEntries: [] });
});

it('two settlement workers racing over a backlog of 200 internal and 50 external sends settle each exactly once', async () => {
  const second = secondWorker();
  const senders = await Promise.all(Array.from({ length: 10 }, () => fundedWallet(t.api, '1000')));
  const recipients = await Promise.all(Array.from({ length: 5 }, () => fundedWallet(t.api, '0')));

  type Plan = { sender: (typeof senders)[number]; to: { id: string } | { blockchainAddress: string }; amount: string; external: boolean };
  const plans: Plan[] = [];
  for (let i = 0; i < 200; i++) plans.push({ sender: senders[i % 10]!, to: { id: recipients[i % 5]!.walletId }, amount: `1.${String(i).padStart(3, '0')}`, external: false });
  for (let i = 0; i < 50; i++) plans.push({ sender: senders[i % 10]!, to: { blockchainAddress: EXTERNAL }, amount: i % 5 === 0 ? '13.13' : '2', external: true });

  // A backlog first: with the app's background loop stopped, nothing settles while the sends are made.
  await t.settlement.stop();
  const created: { id: string; plan: Plan; gross: string; net: string }[] = [];
  const handled = { second: 0, first: 0 };
  try {
    for (let i = 0; i < plans.length; i += 25) {
      const batch = plans.slice(i, i + 25);
      await Promise.all(
        batch.map(async (plan) => {
          const q = await quote(t.api, { customerId: plan.sender.customerId, walletId: plan.sender.walletId, to: plan.to, sourceAmount: plan.amount });
          const res = await send(t.api, q.id);
          expect(res.status, res.raw).toBe(201);
          created.push({ id: res.body.id, plan, gross: q.source.amountGross, net: q.destination.amountNet });
        }),
      );
    }
    expect(await count(`select count(*)::int as n from transactions where status = 'processing'`, [])).toBe(250);

    // Then both workers drain the same backlog, concurrently and repeatedly, until all is final.
    await allFinal(30_000, async () => {
      const [a, b] = await Promise.all([second.drain(), t.settlement.drain()]);
      handled.second += a;
      handled.first += b;
    });
  } finally {
    t.settlement.start();
    await second.stop();
  }
  // Both took part (each drain claims with SKIP LOCKED, so they share the backlog rather than queue on it).
  expect(handled.second, JSON.stringify(handled)).toBeGreaterThan(0);
  expect(handled.first, JSON.stringify(handled)).toBeGreaterThan(0);

  const ids = created.map((c) => c.id);
  const { rows } = await t.pool.query(
    `select x.id, x.status,
       (select count(*)::int from journal_entries e where e.reference = x.id and e.kind in ('transaction.settle', 'transaction.refund')) as final_entries,
       (select count(*)::int from journal_entries e where e.reference = x.id and e.kind = 'transaction.hold') as holds,
       (select count(*)::int from events v where v.data->'object'->>'id' = x.id and v.type in ('transaction.cryptoToCrypto.completed', 'transaction.cryptoToCrypto.failed')) as final_events,
       (select count(*)::int from events v where v.data->'object'->>'id' = x.id and v.type = 'transaction.cryptoToCrypto.processing') as processing_events
       from transactions x where x.id = any($1)`,
    [ids],
  );
  expect(rows).toHaveLength(250);
  const wrong = rows.filter((r) => r.final_entries !== 1 || r.holds !== 1 || r.final_events !== 1 || r.processing_events !== 1);
  expect(wrong).toEqual([]);

  const byId = new Map(created.map((c) => [c.id, c]));
  for (const row of rows) {
    const plan = byId.get(row.id)!.plan;
    expect(row.status, row.id).toBe(plan.amount === '13.13' ? 'failed' : 'completed');
  }
  expect(rows.filter((r) => r.status === 'failed')).toHaveLength(10);

  // Every unit accounted for: each sender paid the gross of its completed sends, each recipient got the net of its own.
  const units = (amount: string) => BigInt(amount.replace('.', ''));
  const spent = new Map<string, bigint>();
  const received = new Map<string, bigint>();
  for (const c of created) {
    if (c.plan.amount === '13.13') continue;
    spent.set(c.plan.sender.walletId, (spent.get(c.plan.sender.walletId) ?? 0n) + units(c.gross));
    if ('id' in c.plan.to) received.set(c.plan.to.id, (received.get(c.plan.to.id) ?? 0n) + units(c.net));
  }
  const asAmount = (u: bigint) => `${u / 1_000_000n}.${String(u % 1_000_000n).padStart(6, '0')}`;
  for (const sender of senders) expect(await balanceOf(t.api, sender.walletId)).toBe(asAmount(1_000_000_000n - (spent.get(sender.walletId) ?? 0n)));
  for (const recipient of recipients) expect(await balanceOf(t.api, recipient.walletId)).toBe(asAmount(received.get(recipient.walletId) ?? 0n));

  expect(await reconcile(t.db)).toEqual({ balanceDifferences: [], unbalancedEntries: [] });
  await holdAccountsAllEmpty();
  expect(warnings()).toEqual([]);
});

it('an operator failing transfers while two workers settle them: each ends exactly once, as the winner of the race says', async () => {
  const second = secondWorker();
  const senders = await Promise.all(Array.from({ length: 4 }, () => fundedWallet(t.api, '500')));
  const recipient = await fundedWallet(t.api, '0');
  await t.settlement.stop();
  const created: { id: string; sender: string; gross: string; net: string; internal: boolean }[] = [];
  try {
    for (let i = 0; i < 80; i += 20) {
      await Promise.all(
        Array.from({ length: 20 }, async (_, j) => {
          const n = i + j;
          const sender = senders[n % 4]!;
          const internal = n % 4 !== 3;
          const q = await quote(t.api, { customerId: sender.customerId, walletId: sender.walletId, to: internal ? { id: recipient.walletId } : { blockchainAddress: EXTERNAL }, sourceAmount: `2.${String(n).padStart(2, '0')}` });
          const res = await send(t.api, q.id);
          expect(res.status, res.raw).toBe(201);
          created.push({ id: res.body.id, sender: sender.walletId, gross: q.source.amountGross, net: q.destination.amountNet, internal });
        }),
      );
    }
    // The operator fails every one of them (in a shuffled order, five at a time, so the pool is
    // shared rather than taken) while both workers drain.
    const asOperator = { authorization: `Bearer ${TOKEN}`, 'x-operator': 'dave@operations.example' };
    const order = created.map((_, i) => i).sort(() => Math.random() - 0.5);
    const verdicts: ApiResponse[] = new Array(created.length);
    let draining = true;
    let started!: () => void;
    const head = new Promise<void>((resolve) => (started = resolve));
    const workers = (async () => {
      // The operator goes first, so that the two sides meet in the middle of the backlog.
      await head;
      while (draining) await Promise.all([second.drain(), t.settlement.drain()]);
    })();
    let answered = 0;
    await Promise.all(
      Array.from({ length: 5 }, async () => {
        for (let i = order.pop(); i !== undefined; i = order.pop()) {
          verdicts[i] = await t.anonymous.post(`/admin/v1/transactions/${created[i]!.id}/fail`, { reason: 'race' }, { headers: asOperator });
          if (++answered === 20) started();
        }
      }),
    );
    started();
    draining = false;
    await workers;
    await allFinal(20_000, () => Promise.all([second.drain(), t.settlement.drain()]));

    expect(verdicts.filter((v) => v.status !== 200 && v.status !== 409).map((v) => v.raw)).toEqual([]);
    for (const v of verdicts.filter((x) => x.status === 409)) expect(v.body.error.code).toBe('conflict');
    const failedByOperator = new Set(verdicts.flatMap((v, i) => (v.status === 200 ? [created[i]!.id] : [])));
    expect(failedByOperator.size).toBeGreaterThanOrEqual(20);
    expect(failedByOperator.size).toBeLessThan(80);

    const { rows } = await t.pool.query(
      `select x.id, x.status, x.failure_code,
         (select count(*)::int from journal_entries e where e.reference = x.id and e.kind = 'transaction.settle') as settles,
         (select count(*)::int from journal_entries e where e.reference = x.id and e.kind = 'transaction.refund') as refunds,
         (select count(*)::int from events v where v.data->'object'->>'id' = x.id and v.type <> 'transaction.cryptoToCrypto.processing') as final_events
         from transactions x where x.id = any($1)`,
      [created.map((c) => c.id)],
    );
    expect(rows).toHaveLength(80);
    for (const row of rows) {
      const expected = failedByOperator.has(row.id)
        ? { status: 'failed', failure_code: 'failed_by_operator', settles: 0, refunds: 1, final_events: 1 }
        : { status: 'completed', failure_code: null, settles: 1, refunds: 0, final_events: 1 };
      expect(row, row.id).toMatchObject(expected);
    }

    const units = (amount: string) => BigInt(amount.replace('.', ''));
    const asAmount = (u: bigint) => `${u / 1_000_000n}.${String(u % 1_000_000n).padStart(6, '0')}`;
    const completed = created.filter((c) => !failedByOperator.has(c.id));
    for (const sender of senders) {
      const spent = completed.filter((c) => c.sender === sender.walletId).reduce((sum, c) => sum + units(c.gross), 0n);
      expect(await balanceOf(t.api, sender.walletId)).toBe(asAmount(500_000_000n - spent));
    }
    expect(await balanceOf(t.api, recipient.walletId)).toBe(asAmount(completed.filter((c) => c.internal).reduce((sum, c) => sum + units(c.net), 0n)));
    expect(await reconcile(t.db)).toEqual({ balanceDifferences: [], unbalancedEntries: [] });
    await holdAccountsAllEmpty();
    expect(warnings()).toEqual([]);
  } finally {
    t.settlement.start();
    await second.stop();
  }
});
