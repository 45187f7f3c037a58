import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ledger from '../src/ledger/ledger.js';
import { startTestApp, type TestApp } from './support/harness.js';
import { balanceOf, fundedWallet, quote, send, settled } from './support/money.js';

/**
 * The operator's side of transactions (issue 6, part 4), black box over /admin/v1: a
 * transaction with its ledger entries, and the manual fail of one stuck in processing, which
 * returns the held funds, emits the failed event once and is audited; a wallet with money
 * held for a send in flight does not close.
 */

const TOKEN = 'op-transactions-token-8c1f27d4';
const OPERATOR = 'carol@operations.example';
const OUTSIDE = '0x52908400098527886E0F7030069857D2E4169EE7';

let t: TestApp;
beforeAll(async () => {
  // Sends to outside addresses confirm after an hour: they stay processing for the test's length.
  t = await startTestApp({ OMS_ADMIN_TOKEN: TOKEN, OMS_SIMULATED_CHAIN_CONFIRMATION_MS: '3600000' });
});
afterAll(() => t.close());

const asOperator = { authorization: `Bearer ${TOKEN}`, 'x-operator': OPERATOR };
const view = (id: string, headers: Record<string, string> = asOperator) => t.anonymous.get(`/admin/v1/transactions/${id}`, { headers });
const fail = (id: string, reason: unknown = 'stuck at the chain for a day', headers: Record<string, string> = asOperator) =>
  t.anonymous.post(`/admin/v1/transactions/${id}/fail`, { reason }, { headers });

async function stuckSend(amount = '10') {
  const from = await fundedWallet(t.api, '100');
  const q = await quote(t.api, { customerId: from.customerId, walletId: from.walletId, to: { blockchainAddress: OUTSIDE }, sourceAmount: amount });
  const created = await send(t.api, q.id);
  expect(created.status, created.raw).toBe(201);
  await t.settlement.drain();
  return { ...from, transaction: created.body };
}

const eventsOf = async (transactionId: string) =>
  (await t.pool.query(`select type from events where data->'object'->>'id' = $1 order by created_at, id`, [transactionId])).rows.map((r) => r.type);

describe('GET /admin/v1/transactions/{id}', () => {
  it('shows a settled internal send with its hold and settlement entries, each balanced', async () => {
    const from = await fundedWallet(t.api, '50');
    const to = await fundedWallet(t.api, '0');
    const q = await quote(t.api, { customerId: from.customerId, walletId: from.walletId, to: { id: to.walletId }, sourceAmount: '20' });
    const done = await settled(t, t.api, (await send(t.api, q.id)).body.id);
    const res = await view(done.id);
    expect(res.status, res.raw).toBe(200);
    expect(res.body).toMatchObject({ object: 'operatorTransaction', projectId: t.api.credentials.projectId, mode: 'sandbox', transaction: { id: done.id, status: 'completed' } });
    expect(res.body.entries.map((e: { kind: string }) => e.kind)).toEqual(['transaction.hold', 'transaction.settle']);
    const [hold, settle] = res.body.entries;
    expect(hold.postings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ accountKind: 'wallet', walletId: from.walletId, amount: '-20.000000' }),
        expect.objectContaining({ accountKind: 'in_flight', walletId: from.walletId, amount: '20.000000' }),
      ]),
    );
    expect(settle.postings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ accountKind: 'in_flight', walletId: from.walletId, amount: '-20.000000' }),
        expect.objectContaining({ accountKind: 'fees', walletId: null, amount: '0.020000' }),
        expect.objectContaining({ accountKind: 'wallet', walletId: to.walletId, amount: '19.980000' }),
      ]),
    );
    for (const entry of res.body.entries) {
      const total = entry.postings.reduce((sum: bigint, p: { amount: string }) => sum + BigInt(p.amount.replace('.', '')), 0n);
      expect(total, entry.kind).toBe(0n);
    }
  });

  it('answers 404 for an unknown or malformed id and 401 without the admin token', async () => {
    expect((await view('txn_01jd8x3mc6eskv4hzbmt9hdby7')).status).toBe(404);
    expect((await view('not-an-id')).status).toBe(404);
    const { transaction } = await stuckSend('1');
    expect((await view(transaction.id, { authorization: 'Bearer wrong-token-000000', 'x-operator': OPERATOR })).status).toBe(401);
  });
});

describe('POST /admin/v1/transactions/{id}/fail', () => {
  it('fails a stuck send: the funds return, one failed event, an audit row, and the ledger balances', async () => {
    const { walletId, transaction } = await stuckSend('10');
    expect(await balanceOf(t.api, walletId)).toBe('90.000000');
    const res = await fail(transaction.id);
    expect(res.status, res.raw).toBe(200);
    expect(res.body).toMatchObject({ id: transaction.id, status: 'failed', subStatus: null, failure: { code: 'failed_by_operator' } });
    expect(res.body.completedAt).toBeUndefined();
    expect(await balanceOf(t.api, walletId)).toBe('100.000000');
    expect((await t.api.get(`/v0.9/transactions/${transaction.id}`)).body).toEqual(res.body);
    expect(await eventsOf(transaction.id)).toEqual(['transaction.cryptoToCrypto.processing', 'transaction.cryptoToCrypto.failed']);
    const audit = await t.pool.query(`select operator, action, reason, detail from operator_audit where detail->>'transactionId' = $1`, [transaction.id]);
    expect(audit.rows).toEqual([{ operator: OPERATOR, action: 'failTransaction', reason: 'stuck at the chain for a day', detail: { transactionId: transaction.id } }]);
    expect((await view(transaction.id)).body.entries.map((e: { kind: string }) => e.kind)).toEqual(['transaction.hold', 'transaction.refund']);
    expect(await ledger.reconcile(t.db)).toEqual({ balanceDifferences: [], unbalancedEntries: [] });
  });

  it('refuses with 409 a transaction that is no longer processing, and changes nothing', async () => {
    const { walletId, transaction } = await stuckSend('5');
    expect((await fail(transaction.id)).status).toBe(200);
    const again = await fail(transaction.id);
    expect([again.status, again.body.error.code]).toEqual([409, 'conflict']);
    expect(await balanceOf(t.api, walletId)).toBe('100.000000');
    expect(await eventsOf(transaction.id)).toHaveLength(2);
  });

  it('needs a reason and an operator name', async () => {
    const { transaction } = await stuckSend('2');
    expect((await fail(transaction.id, '')).status).toBe(400);
    expect((await fail(transaction.id, 'ok', { authorization: `Bearer ${TOKEN}` })).status).toBe(400);
    expect((await t.api.get(`/v0.9/transactions/${transaction.id}`)).body.status).toBe('processing');
  });
});

describe('closing a wallet with a send in flight', () => {
  it('is refused while money is held for a send in flight', async () => {
    const { walletId, transaction } = await stuckSend('100');
    expect(await balanceOf(t.api, walletId)).toBe('0.000000');
    const close = () => t.anonymous.post(`/admin/v1/wallets/${walletId}/close`, { reason: 'customer left' }, { headers: asOperator });
    const refused = await close();
    expect([refused.status, refused.body.error.code]).toEqual([409, 'conflict']);
    expect(refused.body.error.message).toMatch(/100\.000000 usdc .*held/);
    expect((await t.api.get(`/v0.9/wallets/${walletId}`)).body.status).toBe('active');
    expect((await fail(transaction.id)).status).toBe(200);
    // The refund put the money back: still not empty.
    expect((await close()).status).toBe(409);
  });
});
