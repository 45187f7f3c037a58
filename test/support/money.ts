import { expect } from 'vitest';
import type { ApiClient, ApiResponse, TestApp } from './harness.js';

/** Customers, funded wallets, quotes and transactions, through the API, for tests that move money. */

export async function newCustomer(client: ApiClient, body: Record<string, unknown> = {}): Promise<string> {
  const res = await client.post('/v0.9/customers', body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id;
}

export async function openWallet(client: ApiClient, customerId: string, asset = 'usdc', chain = 'polygon'): Promise<{ id: string; address: string }> {
  const res = await client.post(`/v0.9/customers/${customerId}/wallets`, { asset, chain });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

export async function deposit(client: ApiClient, walletId: string, amount: string): Promise<void> {
  const res = await client.post(`/v0.9/sandbox/wallets/${walletId}/deposit`, { amount });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
}

/** A customer with one wallet holding `amount` (none when "0"). */
export async function fundedWallet(client: ApiClient, amount: string, asset = 'usdc', chain = 'polygon') {
  const customerId = await newCustomer(client);
  const wallet = await openWallet(client, customerId, asset, chain);
  if (amount !== '0') await deposit(client, wallet.id, amount);
  return { customerId, walletId: wallet.id, address: wallet.address };
}

export interface QuoteRequest {
  customerId: string;
  walletId: string;
  to: { id: string } | { blockchainAddress: string } | { externalAccount: unknown };
  sourceAmount?: string;
  destinationAmount?: string;
  asset?: string;
  network?: string;
  destinationAsset?: string;
  destinationNetwork?: string;
}

export function quoteBody(q: QuoteRequest) {
  return {
    customerId: q.customerId,
    source: { walletId: q.walletId, asset: q.asset ?? 'usdc', network: q.network ?? 'polygon', ...(q.sourceAmount !== undefined ? { amount: q.sourceAmount } : {}) },
    destination: {
      asset: q.destinationAsset ?? q.asset ?? 'usdc',
      network: q.destinationNetwork ?? q.network ?? 'polygon',
      ...(q.destinationAmount !== undefined ? { amount: q.destinationAmount } : {}),
      wallet: q.to,
    },
  };
}

export async function quote(client: ApiClient, q: QuoteRequest): Promise<any> {
  const res = await client.post('/v0.9/quotes', quoteBody(q));
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

export const send = (client: ApiClient, quoteId: string, extra: Record<string, unknown> = {}, idempotencyKey?: string): Promise<ApiResponse> =>
  client.post('/v0.9/transactions', { quoteId, ...extra }, idempotencyKey === undefined ? {} : { idempotencyKey });

export async function balanceOf(client: ApiClient, walletId: string): Promise<string> {
  const res = await client.get(`/v0.9/wallets/${walletId}/balance`);
  expect(res.status).toBe(200);
  return res.body.balance;
}

/** Drains the settlement worker until the transaction is final (or the time runs out). */
export async function settled(t: TestApp, client: ApiClient, transactionId: string, timeoutMs = 15_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await t.settlement.drain();
    const res = await client.get(`/v0.9/transactions/${transactionId}`);
    expect(res.status).toBe(200);
    if (res.body.status !== 'processing') return res.body;
    if (Date.now() > deadline) throw new Error(`transaction ${transactionId} still processing after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
