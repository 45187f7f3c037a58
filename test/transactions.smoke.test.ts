import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/harness.js';
import { balanceOf, fundedWallet, quote, send, settled } from './support/money.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ OMS_SIMULATED_CHAIN_CONFIRMATION_MS: '50' });
});
afterAll(() => t.close());

it('an internal send holds, settles and moves both balances exactly', async () => {
  const from = await fundedWallet(t.api, '100');
  const to = await fundedWallet(t.api, '0');
  const q = await quote(t.api, { customerId: from.customerId, walletId: from.walletId, to: { id: to.walletId }, sourceAmount: '10' });
  expect(q).toMatchObject({ status: 'open', type: 'cryptoToCrypto', fixedAmountSide: 'source', source: { amountGross: '10.000000', feesDeducted: '0.010000', amountNet: '9.990000' } });
  const created = await send(t.api, q.id);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  expect(created.body.status).toBe('processing');
  expect(await balanceOf(t.api, from.walletId)).toBe('90.000000');
  const done = await settled(t, t.api, created.body.id);
  expect(done.status).toBe('completed');
  expect(await balanceOf(t.api, to.walletId)).toBe('9.990000');
  expect((await t.api.get(`/v0.9/quotes/${q.id}`)).body.status).toBe('accepted');
});

it('an external send gets a txHash; 13.13 fails and returns the funds', async () => {
  const from = await fundedWallet(t.api, '100');
  const address = '0x52908400098527886E0F7030069857D2E4169EE7';
  const ok = await send(t.api, (await quote(t.api, { customerId: from.customerId, walletId: from.walletId, to: { blockchainAddress: address }, sourceAmount: '5' })).id);
  const failing = await send(t.api, (await quote(t.api, { customerId: from.customerId, walletId: from.walletId, to: { blockchainAddress: address }, sourceAmount: '13.13' })).id);
  const done = await settled(t, t.api, ok.body.id);
  expect(done.status).toBe('completed');
  expect(done.destination.txHash).toMatch(/^0x[0-9a-f]{64}$/);
  const failed = await settled(t, t.api, failing.body.id);
  expect(failed).toMatchObject({ status: 'failed', failure: { code: 'simulated_failure' } });
  expect(await balanceOf(t.api, from.walletId)).toBe('95.000000');
});
