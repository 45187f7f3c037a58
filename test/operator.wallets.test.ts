import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ledger from '../src/ledger/ledger.js';
import { startTestApp, type ApiResponse, type TestApp } from './support/harness.js';

/**
 * The operator's hold on wallets (issue 4, part 5), black box over /admin/v1 and the public
 * API, with SQL to read what was left behind: a suspended wallet takes deposits but lets no
 * money out, a closed one takes nothing and closes only when empty; every action is audited;
 * the postings view shows each entry with its other legs.
 */

const TOKEN = 'op-wallet-token-4d1e8a2c7b9f3e60';
const OPERATOR = 'bob@operations.example';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ OMS_ADMIN_TOKEN: TOKEN });
});
afterAll(() => t.close());

const asOperator = { authorization: `Bearer ${TOKEN}`, 'x-operator': OPERATOR };
const act = (walletId: string, action: string, reason: unknown = 'fraud review 42', headers: Record<string, string> = asOperator) =>
  t.anonymous.post(`/admin/v1/wallets/${walletId}/${action}`, { reason }, { headers });
const postings = (walletId: string, query = '') => t.anonymous.get(`/admin/v1/wallets/${walletId}/postings${query}`, { headers: asOperator });
const deposit = (walletId: string, amount: string) => t.api.post(`/v0.9/sandbox/wallets/${walletId}/deposit`, { amount });

async function openWallet(asset = 'usdc', chain = 'polygon') {
  const customer = await t.api.post('/v0.9/customers', { firstName: 'Wallet', lastName: 'Holder' });
  expect(customer.status).toBe(201);
  const wallet = await t.api.post(`/v0.9/customers/${customer.body.id}/wallets`, { asset, chain });
  expect(wallet.status, wallet.raw).toBe(201);
  return wallet.body as { id: string; customerId: string; status: string; updatedAt: string };
}

/** Money out of the wallet, as a send (issue 6) will post it: wallet -> outside world. */
async function withdraw(walletId: string, amount: string) {
  const scope = { projectId: t.api.credentials.projectId, mode: 'sandbox' as const };
  const { rows } = await t.pool.query(`select ledger_account_id, external_account_id, asset from wallets where id = $1`, [walletId]);
  const { ledger_account_id: from, external_account_id: to, asset } = rows[0];
  return ledger.transaction(t.db, (trx) => ledger.post(trx, scope, ledger.transfer('withdrawal', { id: from, asset }, { id: to, asset }, amount)));
}

const statusOf = async (walletId: string) => (await t.api.get(`/v0.9/wallets/${walletId}`)).body.status;
const balanceOf = async (walletId: string) => (await t.api.get(`/v0.9/wallets/${walletId}/balance`)).body.balance;
const auditOf = async (customerId: string) =>
  (await t.pool.query(`select operator, action, reason, detail from operator_audit where customer_id = $1 order by at, id`, [customerId])).rows;

function expectError(res: ApiResponse, status: number, code: string, message?: RegExp) {
  expect(res.status, res.raw).toBe(status);
  expect(res.body.error.code).toBe(code);
  if (message) expect(res.body.error.message).toMatch(message);
}

describe('suspend and reactivate', () => {
  it('a suspended wallet takes deposits but lets no money out; reactivated, it does again', async () => {
    const wallet = await openWallet();
    expect((await deposit(wallet.id, '10')).status).toBe(200);

    const suspended = await act(wallet.id, 'suspend');
    expect(suspended.status, suspended.raw).toBe(200);
    expect(suspended.body).toMatchObject({ id: wallet.id, object: 'wallet', status: 'suspended' });
    expect(suspended.body.updatedAt > wallet.updatedAt).toBe(true);
    expect(await statusOf(wallet.id)).toBe('suspended');

    expect((await deposit(wallet.id, '2.5')).status).toBe(200);
    await expect(withdraw(wallet.id, '1')).rejects.toMatchObject({ code: 'conflict', message: expect.stringMatching(/suspended/) });
    expect(await balanceOf(wallet.id)).toBe('12.500000');

    const reactivated = await act(wallet.id, 'reactivate', 'review cleared');
    expect(reactivated.body.status).toBe('active');
    await withdraw(wallet.id, '1');
    expect(await balanceOf(wallet.id)).toBe('11.500000');

    expect(await auditOf(wallet.customerId)).toEqual([
      { operator: OPERATOR, action: 'suspendWallet', reason: 'fraud review 42', detail: { walletId: wallet.id, from: 'active', to: 'suspended' } },
      { operator: OPERATOR, action: 'reactivateWallet', reason: 'review cleared', detail: { walletId: wallet.id, from: 'suspended', to: 'active' } },
    ]);
  });

  it('refuses moves the status does not allow with 409, and changes nothing', async () => {
    const wallet = await openWallet();
    expectError(await act(wallet.id, 'reactivate'), 409, 'conflict', /the wallet is active: only a wallet that is suspended can reactivate/);
    expect((await act(wallet.id, 'suspend')).status).toBe(200);
    expectError(await act(wallet.id, 'suspend'), 409, 'conflict', /the wallet is suspended: only a wallet that is active can suspend/);
    expect(await statusOf(wallet.id)).toBe('suspended');
    expect((await auditOf(wallet.customerId)).map((a) => a.action)).toEqual(['suspendWallet']);
  });
});

describe('close', () => {
  it('refuses while the wallet holds money, naming the balance', async () => {
    const wallet = await openWallet('usdt', 'ethereum');
    expect((await deposit(wallet.id, '0.000001')).status).toBe(200);
    expectError(await act(wallet.id, 'close'), 409, 'conflict', /holds 0\.000001 usdt; it closes only when empty/);
    expect(await statusOf(wallet.id)).toBe('active');
    expect(await auditOf(wallet.customerId)).toEqual([]);
  });

  it('closes an emptied wallet for good: no deposit, no withdrawal, no reactivation', async () => {
    const wallet = await openWallet();
    expect((await deposit(wallet.id, '3')).status).toBe(200);
    await withdraw(wallet.id, '3');
    expect((await act(wallet.id, 'suspend')).status).toBe(200);
    const closed = await act(wallet.id, 'close', 'customer left');
    expect(closed.status, closed.raw).toBe(200);
    expect(closed.body.status).toBe('closed');

    expectError(await deposit(wallet.id, '1'), 409, 'conflict', /closed/);
    await expect(withdraw(wallet.id, '0.000001')).rejects.toMatchObject({ code: 'conflict' });
    for (const action of ['reactivate', 'suspend', 'close']) expectError(await act(wallet.id, action), 409, 'conflict');
    expect(await balanceOf(wallet.id)).toBe('0.000000');
    expect((await auditOf(wallet.customerId)).map((a) => a.action)).toEqual(['suspendWallet', 'closeWallet']);
  });

  it('races 30 deposits against a close: either the close lost and the money is there, or the wallet is closed and empty', async () => {
    for (let round = 0; round < 5; round++) {
      const wallet = await openWallet('usdc', 'base');
      const [closing, ...deposits] = await Promise.all([act(wallet.id, 'close'), ...Array.from({ length: 30 }, () => deposit(wallet.id, '1'))]);
      const landed = deposits.filter((d) => d.status === 200).length;
      for (const d of deposits) expect([200, 409], d.raw).toContain(d.status);
      const balance = await balanceOf(wallet.id);
      expect(balance).toBe(`${landed}.000000`);
      if (closing.status === 200) {
        expect(await statusOf(wallet.id)).toBe('closed');
        expect(landed).toBe(0);
      } else {
        expectError(closing, 409, 'conflict', /closes only when empty/);
        expect(landed).toBe(30);
      }
    }
    expect(await ledger.reconcile(t.db)).toEqual({ balanceDifferences: [], unbalancedEntries: [] });
  });
});

describe('GET /admin/v1/wallets/{id}/postings', () => {
  it("shows the wallet's postings newest first, each with the entry's other leg, a page at a time", async () => {
    const wallet = await openWallet();
    const hashes: string[] = [];
    for (const amount of ['1', '2.5', '0.25']) hashes.push((await deposit(wallet.id, amount)).body.txHash);
    await withdraw(wallet.id, '0.75');

    const all = await postings(wallet.id);
    expect(all.status, all.raw).toBe(200);
    expect(all.body).toMatchObject({ object: 'list', walletId: wallet.id, mode: 'sandbox', asset: 'usdc', chain: 'polygon', balance: '3.000000', hasMore: false });
    expect(all.body.data.map((p: any) => [p.kind, p.reference, p.amount, p.counterparts])).toEqual([
      ['withdrawal', null, '-0.750000', [{ accountKind: 'external', walletId: null, amount: '0.750000' }]],
      ['deposit', hashes[2], '0.250000', [{ accountKind: 'external', walletId: null, amount: '-0.250000' }]],
      ['deposit', hashes[1], '2.500000', [{ accountKind: 'external', walletId: null, amount: '-2.500000' }]],
      ['deposit', hashes[0], '1.000000', [{ accountKind: 'external', walletId: null, amount: '-1.000000' }]],
    ]);

    const first = await postings(wallet.id, '?limit=3');
    expect(first.body.hasMore).toBe(true);
    const rest = await postings(wallet.id, `?limit=3&before=${first.body.data[2].entryId}`);
    expect(rest.body.hasMore).toBe(false);
    expect([...first.body.data, ...rest.body.data]).toEqual(all.body.data);
  });
});

describe('access', () => {
  it('answers 404 for an unknown or malformed wallet id or an unknown action, 400 without a reason, 401 without the admin token', async () => {
    const wallet = await openWallet();
    expectError(await act('wlt_01jd8x3mc6eskv4hzbmt9hdby7', 'suspend'), 404, 'not_found');
    expectError(await postings('wlt_01jd8x3mc6eskv4hzbmt9hdby7'), 404, 'not_found');
    expectError(await act('cst_01jd8x3mc6eskv4hzbmt9hdby7', 'suspend'), 404, 'not_found');
    expectError(await act(wallet.id, 'freeze'), 404, 'not_found');
    expectError(await act(wallet.id, 'suspend', ''), 400, 'validation_error');
    expectError(await act(wallet.id, 'suspend', 'x', { 'x-operator': OPERATOR }), 401, 'unauthorized');
    expectError(await t.api.post(`/admin/v1/wallets/${wallet.id}/suspend`, { reason: 'an API key opens nothing here' }), 401, 'unauthorized');
    expect(await statusOf(wallet.id)).toBe('active');
  });
});
