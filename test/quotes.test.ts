import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../src/domain/ids.js';
import { startTestApp, type ApiClient, type ApiResponse, type TestApp } from './support/harness.js';
import { fundedWallet, openWallet, quoteBody, type QuoteRequest } from './support/money.js';

/**
 * Quotes (spec 5.1, with 1.4 money, 1.6 idempotency, 1.8 errors), black box over HTTP:
 * POST /v0.9/quotes and GET /v0.9/quotes/{id}. What was written is counted with SQL.
 * Pricing: the bundled data/pricing.json (0.1 % + 0, usdc<->usdt at 1) in the main app,
 * a temporary OMS_PRICING_FILE (spread, fixed fee, per-project override) in a second app,
 * OMS_QUOTE_TTL_SECONDS=1 in a third.
 */

const ADMIN_TOKEN = 'op-quotes-token-9c2b7e41d5a03f86';
const OPERATOR = 'carol@operations.example';
const asOperator = { authorization: `Bearer ${ADMIN_TOKEN}`, 'x-operator': OPERATOR };

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;
const SIX = /^\d+\.\d{6}$/;
const UNKNOWN_CUSTOMER = 'cst_01jd8x3mc6eskv4hzbmt9hdby7';
const UNKNOWN_WALLET = 'wlt_01jd8x3mc6eskv4hzbmt9hdby7';
const UNKNOWN_QUOTE = 'qt_01jd8x3mc6eskv4hzbmt9hdby7';
/** EIP-55 test vectors (mixed case, valid checksums). */
const CHECKSUMMED = '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed';
const CHECKSUMMED_2 = '0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ OMS_ADMIN_TOKEN: ADMIN_TOKEN });
});
afterAll(() => t?.close());

function expectError(res: ApiResponse, status: number, code: string, message?: RegExp) {
  expect(res.status, res.raw).toBe(status);
  expect(res.body.error.code, res.raw).toBe(code);
  expect(res.body.error.requestId).toMatch(/^req_/);
  if (message) expect(res.body.error.message).toMatch(message);
}

const quoteRows = async (app: TestApp = t) => Number((await app.pool.query(`select count(*) as n from quotes`)).rows[0].n);

/** Posts a quote and returns the response. */
const postQuote = (body: unknown, client: ApiClient = t.api, idempotencyKey?: string) =>
  client.post('/v0.9/quotes', body, idempotencyKey === undefined ? {} : { idempotencyKey });

/** A refused quote: status, code, and not a single quote row written. */
async function refused(body: unknown, status: number, code: string, options: { client?: ApiClient; message?: RegExp; app?: TestApp } = {}) {
  const app = options.app ?? t;
  const before = await quoteRows(app);
  const res = await postQuote(body, options.client ?? app.api);
  expectError(res, status, code, options.message);
  expect(await quoteRows(app)).toBe(before);
  return res;
}

async function created(body: unknown, client: ApiClient = t.api) {
  const res = await postQuote(body, client);
  expect(res.status, res.raw).toBe(201);
  return res.body;
}

const micros = (amount: string, scale = 6): bigint => {
  const [whole, fraction = ''] = amount.split('.');
  expect(fraction.length).toBeLessThanOrEqual(scale);
  return BigInt(whole! + fraction.padEnd(scale, '0'));
};

/** The rule of spec 5.1: source.amountNet × exchangeRate, truncated to 6 decimals, = destination.amountGross. */
function expectConversionRule(q: any) {
  const [whole, fraction = ''] = q.rates.exchangeRate.split('.');
  const rateNum = BigInt(whole + fraction);
  const rateDen = 10n ** BigInt(fraction.length);
  expect((micros(q.source.amountNet) * rateNum) / rateDen).toBe(micros(q.destination.amountGross));
  expect(micros(q.source.amountGross) - micros(q.source.feesDeducted)).toBe(micros(q.source.amountNet));
  expect(micros(q.destination.amountGross) - micros(q.destination.feesDeducted)).toBe(micros(q.destination.amountNet));
  expect(micros(q.feesDeducted.total)).toBe(micros(q.feesDeducted.oms) + micros(q.feesDeducted.developer) + micros(q.feesDeducted.gas));
  expect(q.feesDeducted.total).toBe(q.source.feesDeducted);
  // effectiveRate = destination.amountNet ÷ source.amountGross, half-up to 8 decimals, without trailing zeros.
  const gross = micros(q.source.amountGross);
  const eight = (micros(q.destination.amountNet) * 10n ** 8n * 2n + gross) / (2n * gross);
  const digits = eight.toString().padStart(9, '0');
  const expected = `${digits.slice(0, -8)}.${digits.slice(-8)}`.replace(/0+$/, '').replace(/\.$/, '');
  expect(q.rates.effectiveRate).toBe(expected);
}

/** Every field of a quote, with the shapes of spec 5.1. */
function expectQuoteShape(q: any) {
  expect(Object.keys(q).sort()).toEqual(
    [
      'id',
      'object',
      'type',
      'status',
      'customerId',
      'source',
      'destination',
      'feesDeducted',
      'rates',
      'fixedAmountSide',
      'sponsorGas',
      'sponsorGasCost',
      'metadata',
      'expiresAt',
      'createdAt',
    ].sort(),
  );
  expect(q.id).toMatch(/^qt_[0-9a-z]{26}$/);
  expect(q.object).toBe('quote');
  expect(q.type).toBe('cryptoToCrypto');
  for (const side of [q.source, q.destination]) {
    for (const field of ['amountGross', 'amountNet', 'feesDeducted']) {
      expect(typeof side[field]).toBe('string');
      expect(side[field]).toMatch(SIX);
    }
  }
  expect(Object.keys(q.feesDeducted).sort()).toEqual(['developer', 'gas', 'oms', 'total']);
  for (const fee of Object.values(q.feesDeducted)) expect(fee).toMatch(SIX);
  expect(Object.keys(q.rates).sort()).toEqual(['effectiveRate', 'exchangeRate', 'pair']);
  expect(typeof q.rates.exchangeRate).toBe('string');
  expect(typeof q.rates.effectiveRate).toBe('string');
  expect(q.rates.pair).toBe(`${q.source.asset}/${q.destination.asset}`);
  expect(q.sponsorGasCost).toBe('0');
  expect(q.createdAt).toMatch(ISO);
  expect(q.expiresAt).toMatch(ISO);
  expectConversionRule(q);
}

describe('POST /v0.9/quotes: happy paths', () => {
  it('fixed source amount to another customer’s wallet: full body, 0.1 % fee, metadata echoed, 60 s expiry, GET returns the same', async () => {
    const from = await fundedWallet(t.api, '100');
    const to = await fundedWallet(t.api, '0');
    const before = await quoteRows();
    const startedAt = Date.now();
    const body = { ...quoteBody({ customerId: from.customerId, walletId: from.walletId, to: { id: to.walletId }, sourceAmount: '10' }), metadata: { order: 'A-17', note: 'rent' } };
    const res = await postQuote(body);
    expect(res.status, res.raw).toBe(201);
    const q = res.body;
    expectQuoteShape(q);
    expect(q).toEqual({
      id: q.id,
      object: 'quote',
      type: 'cryptoToCrypto',
      status: 'open',
      customerId: from.customerId,
      source: { walletId: from.walletId, asset: 'usdc', network: 'polygon', amountGross: '10.000000', amountNet: '9.990000', feesDeducted: '0.010000' },
      destination: { asset: 'usdc', network: 'polygon', amountGross: '9.990000', amountNet: '9.990000', feesDeducted: '0.000000', wallet: { id: to.walletId } },
      feesDeducted: { total: '0.010000', developer: '0.000000', oms: '0.010000', gas: '0.000000' },
      rates: { exchangeRate: '1', effectiveRate: '0.999', pair: 'usdc/usdc' },
      fixedAmountSide: 'source',
      sponsorGas: false,
      sponsorGasCost: '0',
      metadata: { order: 'A-17', note: 'rent' },
      expiresAt: q.expiresAt,
      createdAt: q.createdAt,
    });
    expect(Date.parse(q.expiresAt) - Date.parse(q.createdAt)).toBe(60_000);
    expect(Date.parse(q.createdAt)).toBeGreaterThanOrEqual(startedAt - 1000);
    expect(Date.parse(q.createdAt)).toBeLessThanOrEqual(Date.now() + 1000);
    expect(await quoteRows()).toBe(before + 1);

    const got = await t.api.get(`/v0.9/quotes/${q.id}`);
    expect(got.status, got.raw).toBe(200);
    expect(got.body).toEqual(q);

    // The row is in the caller's scope, with the amounts as computed.
    const { rows } = await t.pool.query(`select project_id, mode, source_amount_gross::text as g, destination_wallet_id from quotes where id = $1`, [q.id]);
    expect(rows).toEqual([{ project_id: t.api.credentials.projectId, mode: 'sandbox', g: '10.000000', destination_wallet_id: to.walletId }]);
  });

  it('fixed destination amount: the source is computed so that exactly that amount arrives', async () => {
    const from = await fundedWallet(t.api, '0');
    const to = await fundedWallet(t.api, '0');
    const q = await created(quoteBody({ customerId: from.customerId, walletId: from.walletId, to: { id: to.walletId }, destinationAmount: '9.99' }));
    expectQuoteShape(q);
    expect(q).toMatchObject({
      status: 'open',
      fixedAmountSide: 'destination',
      source: { amountGross: '10.000000', amountNet: '9.990000', feesDeducted: '0.010000' },
      destination: { amountGross: '9.990000', amountNet: '9.990000', feesDeducted: '0.000000', wallet: { id: to.walletId } },
      feesDeducted: { total: '0.010000', oms: '0.010000', developer: '0.000000', gas: '0.000000' },
      rates: { exchangeRate: '1', pair: 'usdc/usdc' },
      metadata: {},
      sponsorGas: false,
    });
  });

  it('a fixed destination amount gets the smallest source whose fee leaves that net', async () => {
    const from = await fundedWallet(t.api, '0');
    const to = await fundedWallet(t.api, '0');
    // 1 unit delivered: net 0.000001; gross 0.000002 (fee rounds up to 1 unit).
    const tiny = await created(quoteBody({ customerId: from.customerId, walletId: from.walletId, to: { id: to.walletId }, destinationAmount: '0.000001' }));
    expect(tiny).toMatchObject({ source: { amountGross: '0.000002', amountNet: '0.000001', feesDeducted: '0.000001' }, destination: { amountNet: '0.000001' } });
    // 1234.567891 delivered: gross g is the least with g − ceil(g / 1000) ≥ net.
    const odd = await created(quoteBody({ customerId: from.customerId, walletId: from.walletId, to: { id: to.walletId }, destinationAmount: '1234.567891' }));
    const net = micros('1234.567891');
    const gross = micros(odd.source.amountGross);
    const feeOf = (g: bigint) => (g + 999n) / 1000n;
    expect(gross - feeOf(gross)).toBeGreaterThanOrEqual(net);
    expect(gross - 1n - feeOf(gross - 1n)).toBeLessThan(net);
    expect(odd.source.amountNet).toBe('1234.567891');
    expect(odd.destination.amountGross).toBe('1234.567891');
    expectConversionRule(odd);
  });

  it('to a checksummed blockchain address: kept as given; sponsorGas and promoCode accepted', async () => {
    const from = await fundedWallet(t.api, '0');
    const q = await created({
      ...quoteBody({ customerId: from.customerId, walletId: from.walletId, to: { blockchainAddress: CHECKSUMMED }, sourceAmount: '25.5' }),
      sponsorGas: true,
      promoCode: 'SPRING',
    });
    expectQuoteShape(q);
    expect(q).toMatchObject({
      destination: { wallet: { blockchainAddress: CHECKSUMMED } },
      source: { amountGross: '25.500000', feesDeducted: '0.025500', amountNet: '25.474500' },
      sponsorGas: true,
      sponsorGasCost: '0',
    });
    expect(q.destination.wallet).toEqual({ blockchainAddress: CHECKSUMMED });
  });

  it('to an all-lowercase address: accepted and returned EIP-55 checksummed', async () => {
    const from = await fundedWallet(t.api, '0');
    const q = await created(quoteBody({ customerId: from.customerId, walletId: from.walletId, to: { blockchainAddress: CHECKSUMMED_2.toLowerCase() }, sourceAmount: '1' }));
    expect(q.destination.wallet).toEqual({ blockchainAddress: CHECKSUMMED_2 });
    expect((await t.api.get(`/v0.9/quotes/${q.id}`)).body.destination.wallet).toEqual({ blockchainAddress: CHECKSUMMED_2 });
  });

  // Not mixed-case, so by the schema's own words ("EIP-55 checksummed when mixed-case") and by
  // EIP-55 (all-caps carries no checksum; ethers and web3 accept it) it is accepted.
  it('to an all-uppercase address (no checksum, not mixed-case): accepted and returned checksummed', async () => {
    const from = await fundedWallet(t.api, '0');
    const upper = `0x${CHECKSUMMED.slice(2).toUpperCase()}`;
    const res = await postQuote(quoteBody({ customerId: from.customerId, walletId: from.walletId, to: { blockchainAddress: upper }, sourceAmount: '1' }));
    expect(res.status, res.raw).toBe(201);
    expect(res.body.destination.wallet).toEqual({ blockchainAddress: CHECKSUMMED });
  });

  it('usdc to usdt (cross asset, bundled rate 1:1) to a usdt wallet', async () => {
    const from = await fundedWallet(t.api, '0');
    const to = await fundedWallet(t.api, '0', 'usdt', 'ethereum');
    const q = await created(
      quoteBody({ customerId: from.customerId, walletId: from.walletId, to: { id: to.walletId }, sourceAmount: '3', destinationAsset: 'usdt', destinationNetwork: 'ethereum' }),
    );
    expectQuoteShape(q);
    expect(q).toMatchObject({
      source: { asset: 'usdc', network: 'polygon', amountGross: '3.000000', feesDeducted: '0.003000', amountNet: '2.997000' },
      destination: { asset: 'usdt', network: 'ethereum', amountGross: '2.997000', amountNet: '2.997000', wallet: { id: to.walletId } },
      rates: { exchangeRate: '1', effectiveRate: '0.999', pair: 'usdc/usdt' },
    });
  });

  it('usdt to usdc to an address, fixed destination', async () => {
    const from = await fundedWallet(t.api, '0', 'usdt', 'polygon');
    const q = await created(
      quoteBody({ customerId: from.customerId, walletId: from.walletId, asset: 'usdt', network: 'polygon', destinationAsset: 'usdc', destinationNetwork: 'base', to: { blockchainAddress: CHECKSUMMED }, destinationAmount: '0.5' }),
    );
    expectQuoteShape(q);
    expect(q).toMatchObject({ fixedAmountSide: 'destination', rates: { pair: 'usdt/usdc' }, destination: { asset: 'usdc', network: 'base', amountNet: '0.500000' } });
  });

  it('the same asset across chains, to the customer’s own wallet on the other chain', async () => {
    const from = await fundedWallet(t.api, '0');
    const own = await openWallet(t.api, from.customerId, 'usdc', 'base');
    const q = await created(
      quoteBody({ customerId: from.customerId, walletId: from.walletId, to: { id: own.id }, sourceAmount: '1000000', destinationNetwork: 'base' }),
    );
    expectQuoteShape(q);
    expect(q).toMatchObject({
      source: { network: 'polygon', amountGross: '1000000.000000', feesDeducted: '1000.000000', amountNet: '999000.000000' },
      destination: { asset: 'usdc', network: 'base', amountGross: '999000.000000', wallet: { id: own.id } },
      rates: { exchangeRate: '1', pair: 'usdc/usdc' },
    });
  });

  it('a destination wallet that is suspended may still be quoted (it takes deposits)', async () => {
    const from = await fundedWallet(t.api, '0');
    const to = await fundedWallet(t.api, '0');
    const suspended = await t.anonymous.post(`/admin/v1/wallets/${to.walletId}/suspend`, { reason: 'review' }, { headers: asOperator });
    expect(suspended.status, suspended.raw).toBe(200);
    const q = await created(quoteBody({ customerId: from.customerId, walletId: from.walletId, to: { id: to.walletId }, sourceAmount: '1' }));
    expect(q.destination.wallet).toEqual({ id: to.walletId });
  });

  it('many source amounts obey the conversion and fee rules exactly (BigInt)', async () => {
    const from = await fundedWallet(t.api, '0');
    for (const amount of ['0.000002', '0.001', '0.999999', '1', '7.777777', '123456.654321', '999999999.999999']) {
      const q = await created(quoteBody({ customerId: from.customerId, walletId: from.walletId, to: { blockchainAddress: CHECKSUMMED }, sourceAmount: amount }));
      expectQuoteShape(q);
      const gross = micros(amount);
      expect(micros(q.source.amountGross)).toBe(gross);
      expect(micros(q.source.feesDeducted)).toBe((gross + 999n) / 1000n);
    }
  });
});

describe('POST /v0.9/quotes: refusals write nothing', () => {
  let alice: { customerId: string; walletId: string; address: string };
  let bob: { customerId: string; walletId: string; address: string };
  const body = (q: Partial<QuoteRequest> = {}) =>
    quoteBody({ customerId: alice.customerId, walletId: alice.walletId, to: { id: bob.walletId }, ...(q.destinationAmount === undefined ? { sourceAmount: '10' } : {}), ...q });
  beforeAll(async () => {
    alice = await fundedWallet(t.api, '50');
    bob = await fundedWallet(t.api, '0');
  });

  it('both amounts, or neither: 400', async () => {
    await refused(body({ sourceAmount: '10', destinationAmount: '9' }), 400, 'validation_error');
    const neither = body();
    delete (neither.source as { amount?: string }).amount;
    await refused(neither, 400, 'validation_error');
  });

  it.each([
    ['more decimals than the asset has', '1.0000001'],
    ['seven decimals even with a trailing zero', '1.1234560'],
    ['negative', '-1'],
    ['signed positive', '+1'],
    ['exponent', '1e3'],
    ['zero', '0'],
    ['zero with decimals', '0.000000'],
    ['empty', ''],
    ['leading dot', '.5'],
    ['trailing dot', '5.'],
    ['leading zero', '01'],
    ['comma', '1,5'],
    ['hexadecimal', '0x10'],
    ['Infinity', 'Infinity'],
    ['NaN', 'NaN'],
  ])('source amount %s (%j): 400', async (_, amount) => {
    await refused(body({ sourceAmount: amount }), 400, 'validation_error');
  });

  it.each([
    ['more decimals', '1.0000001'],
    ['negative', '-0.5'],
    ['exponent', '5E-1'],
    ['zero', '0'],
  ])('destination amount %s (%j): 400', async (_, amount) => {
    await refused(body({ destinationAmount: amount }), 400, 'validation_error');
  });

  it('amounts are trimmed like every string of a body (app-wide normalizeBody): " 1 " is "1"', async () => {
    const q = await created(body({ sourceAmount: ' 1 ' }));
    expect(q.source.amountGross).toBe('1.000000');
  });

  it('an amount longer than 60 characters: 400; a 60-character amount is priced exactly', async () => {
    await refused(body({ sourceAmount: '1'.repeat(61) }), 400, 'validation_error');
    const whole = '9'.repeat(53);
    const q = await created(body({ sourceAmount: `${whole}.999999` }));
    expect(q.source.amountGross).toBe(`${whole}.999999`);
    expectConversionRule(q);
    const d = await created(body({ destinationAmount: `${whole}.999999` }));
    expect(d.destination.amountNet).toBe(`${whole}.999999`);
    expectConversionRule(d);
  });

  it('metadata beyond the limits of spec 1.9: 400', async () => {
    const many = Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v']));
    await refused({ ...body(), metadata: many }, 400, 'validation_error');
    await refused({ ...body(), metadata: { ['k'.repeat(41)]: 'v' } }, 400, 'validation_error');
    await refused({ ...body(), metadata: { k: 'v'.repeat(501) } }, 400, 'validation_error');
    const fifty = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'v'.repeat(500)]));
    const q = await created({ ...body(), metadata: fifty });
    expect(q.metadata).toEqual(fifty);
  });

  it('an amount as a JSON number, or null: 400', async () => {
    for (const amount of [10, 0.5, null, true]) {
      const b: any = body();
      b.source.amount = amount;
      await refused(b, 400, 'validation_error');
      const d: any = body({ destinationAmount: '1' });
      d.destination.amount = amount;
      await refused(d, 400, 'validation_error');
    }
  });

  it('unknown or misplaced fields anywhere: 400', async () => {
    const extras: ((b: any) => void)[] = [
      (b) => (b.surprise = 1),
      (b) => (b.type = 'cryptoToCrypto'),
      (b) => (b.status = 'accepted'),
      (b) => (b.source.chain = 'polygon'),
      (b) => (b.source.amountGross = '10'),
      (b) => (b.destination.walletId = bob.walletId),
      (b) => (b.destination.wallet.address = CHECKSUMMED),
      (b) => (b.destination.wallet = { id: bob.walletId, blockchainAddress: CHECKSUMMED }),
      (b) => (b.destination.wallet = {}),
      (b) => (b.metadata = { n: 1 }),
      (b) => (b.metadata = 'x'),
      (b) => (b.sponsorGas = 'true'),
      (b) => delete b.source.asset,
      (b) => delete b.destination.network,
      (b) => delete b.destination.wallet,
      (b) => delete b.customerId,
    ];
    for (const change of extras) {
      const b: any = body();
      change(b);
      await refused(b, 400, 'validation_error');
    }
    await refused([body()], 400, 'validation_error');
  });

  it('unknown, malformed, or wrong-prefix customer id: 404', async () => {
    await refused(body({ customerId: UNKNOWN_CUSTOMER }), 404, 'not_found');
    await refused(body({ customerId: 'cst_nope' }), 404, 'not_found');
    await refused(body({ customerId: alice.walletId }), 404, 'not_found');
  });

  it('unknown or malformed source wallet: 404', async () => {
    await refused(body({ walletId: UNKNOWN_WALLET }), 404, 'not_found');
    await refused(body({ walletId: 'wlt_123' }), 404, 'not_found');
    await refused(body({ walletId: alice.customerId }), 404, 'not_found');
    const stranger = await t.client('sandbox');
    const theirs = await fundedWallet(stranger, '0');
    await refused(body({ walletId: theirs.walletId }), 404, 'not_found');
  });

  it('a source wallet of another customer of the project: 400', async () => {
    await refused(body({ walletId: bob.walletId, to: { id: alice.walletId } }), 400, 'validation_error');
  });

  it('source asset or network that is not the wallet’s: 400', async () => {
    await refused(body({ asset: 'usdt', destinationAsset: 'usdc' }), 400, 'validation_error');
    await refused(body({ network: 'ethereum', destinationNetwork: 'polygon' }), 400, 'validation_error');
    await refused(body({ network: 'base', asset: 'usdt', destinationAsset: 'usdc', destinationNetwork: 'polygon' }), 400, 'validation_error');
  });

  it('an unsupported destination pair or an unknown asset: 422 unsupported_asset', async () => {
    await refused(body({ destinationAsset: 'usdt', destinationNetwork: 'base', to: { blockchainAddress: CHECKSUMMED } }), 422, 'unsupported_asset');
    await refused(body({ destinationAsset: 'dai', destinationNetwork: 'polygon', to: { blockchainAddress: CHECKSUMMED } }), 422, 'unsupported_asset');
    await refused(body({ destinationAsset: 'usdc', destinationNetwork: 'solana', to: { blockchainAddress: CHECKSUMMED } }), 422, 'unsupported_asset');
    await refused(body({ destinationAsset: 'usd', destinationNetwork: 'polygon', to: { blockchainAddress: CHECKSUMMED } }), 422, 'unsupported_asset');
  });

  it('a destination wallet of another asset or chain than the destination names: 400', async () => {
    const usdt = await openWallet(t.api, bob.customerId, 'usdt', 'polygon');
    const eth = await openWallet(t.api, bob.customerId, 'usdc', 'ethereum');
    // The destination says usdc on polygon, the wallet is usdt on polygon.
    await refused(body({ to: { id: usdt.id } }), 400, 'validation_error');
    // The destination says usdc on polygon, the wallet is usdc on ethereum.
    await refused(body({ to: { id: eth.id } }), 400, 'validation_error');
    // The destination says usdt on ethereum, the wallet is usdc on ethereum.
    await refused(body({ to: { id: eth.id }, destinationAsset: 'usdt', destinationNetwork: 'ethereum' }), 400, 'validation_error');
  });

  it('the source wallet as destination: 400', async () => {
    await refused(body({ to: { id: alice.walletId } }), 400, 'validation_error');
  });

  it('unknown, malformed, or other-project destination wallet id: 404', async () => {
    await refused(body({ to: { id: UNKNOWN_WALLET } }), 404, 'not_found');
    await refused(body({ to: { id: 'not-a-wallet' } }), 404, 'not_found');
    await refused(body({ to: { id: bob.customerId } }), 404, 'not_found');
    const stranger = await t.client('sandbox');
    const theirs = await fundedWallet(stranger, '0');
    await refused(body({ to: { id: theirs.walletId } }), 404, 'not_found');
  });

  it('a closed destination wallet: 409 conflict', async () => {
    const carol = await fundedWallet(t.api, '0');
    const closed = await t.anonymous.post(`/admin/v1/wallets/${carol.walletId}/close`, { reason: 'gone' }, { headers: asOperator });
    expect(closed.status, closed.raw).toBe(200);
    await refused(body({ to: { id: carol.walletId } }), 409, 'conflict');
  });

  it.each([
    ['bad checksum (one letter case flipped)', CHECKSUMMED.replace('aA', 'Aa')],
    ['too short', CHECKSUMMED.slice(0, -1)],
    ['too long', `${CHECKSUMMED}0`],
    ['no 0x', CHECKSUMMED.slice(2)],
    ['non-hex', `0x${'g'.repeat(40)}`],
    ['empty', ''],
    ['an ENS name', 'vitalik.eth'],
    ['a Solana address', '7EcDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV'],
  ])('a blockchain address that is %s: 400', async (_, address) => {
    await refused(body({ to: { blockchainAddress: address } }), 400, 'validation_error');
  });

  it('an external account: 422 unsupported_destination', async () => {
    await refused(body({ to: { externalAccount: 'acct_123' } }), 422, 'unsupported_destination');
    await refused(body({ to: { externalAccount: {} } }), 422, 'unsupported_destination');
  });

  it('an inactive (offboarded) customer: 422 customer_inactive', async () => {
    const dave = await fundedWallet(t.api, '5');
    const off = await t.api.post(`/v0.9/sandbox/customers/${dave.customerId}/endorsements/basic`, { status: 'OFFBOARDED' });
    expect(off.status, off.raw).toBe(200);
    expect(off.body.status).toBe('inactive');
    await refused(quoteBody({ customerId: dave.customerId, walletId: dave.walletId, to: { id: bob.walletId }, sourceAmount: '1' }), 422, 'customer_inactive');
    await refused(quoteBody({ customerId: dave.customerId, walletId: dave.walletId, to: { blockchainAddress: CHECKSUMMED }, destinationAmount: '1' }), 422, 'customer_inactive');
  });

  it('a suspended source wallet: 409 conflict; reactivated, it quotes again', async () => {
    const erin = await fundedWallet(t.api, '5');
    const act = (action: string) => t.anonymous.post(`/admin/v1/wallets/${erin.walletId}/${action}`, { reason: 'fraud review' }, { headers: asOperator });
    expect((await act('suspend')).status).toBe(200);
    const erinBody = quoteBody({ customerId: erin.customerId, walletId: erin.walletId, to: { id: bob.walletId }, sourceAmount: '1' });
    await refused(erinBody, 409, 'conflict', { message: /suspended/ });
    expect((await act('reactivate')).status).toBe(200);
    await created(erinBody);
  });

  it('a closed source wallet: 409 conflict', async () => {
    const frank = await fundedWallet(t.api, '0');
    const closed = await t.anonymous.post(`/admin/v1/wallets/${frank.walletId}/close`, { reason: 'gone' }, { headers: asOperator });
    expect(closed.status, closed.raw).toBe(200);
    await refused(quoteBody({ customerId: frank.customerId, walletId: frank.walletId, to: { id: bob.walletId }, sourceAmount: '1' }), 409, 'conflict');
  });

  it('a source amount that does not cover the fee: 400', async () => {
    await refused(body({ sourceAmount: '0.000001' }), 400, 'validation_error', { message: /fee/ });
  });

  it('no Idempotency-Key: 400 idempotency_key_missing, nothing written', async () => {
    const before = await quoteRows();
    const res = await t.api.post('/v0.9/quotes', body(), { idempotencyKey: null });
    expectError(res, 400, 'idempotency_key_missing');
    expect(await quoteRows()).toBe(before);
  });

  it('a 400 found by the service releases the key: the corrected request under the same key succeeds', async () => {
    const key = `fix-${Date.now()}`;
    expectError(await postQuote(body({ sourceAmount: '0.000001' }), t.api, key), 400, 'validation_error');
    const ok = await postQuote(body({ sourceAmount: '2' }), t.api, key);
    expect(ok.status, ok.raw).toBe(201);
    expect(ok.headers['idempotent-replayed']).toBeUndefined();
  });
});

describe('tenancy', () => {
  it('GET answers 404 to another project and to the live mode of the same project', async () => {
    const from = await fundedWallet(t.api, '0');
    const q = await created(quoteBody({ customerId: from.customerId, walletId: from.walletId, to: { blockchainAddress: CHECKSUMMED }, sourceAmount: '1' }));
    const stranger = await t.client('sandbox');
    expectError(await stranger.get(`/v0.9/quotes/${q.id}`), 404, 'not_found');
    const live = await t.client('live', t.api.credentials.projectId);
    expectError(await live.get(`/v0.9/quotes/${q.id}`), 404, 'not_found');
    // Still there for its owner.
    expect((await t.api.get(`/v0.9/quotes/${q.id}`)).status).toBe(200);
  });

  it('a key of another project, or a live key, cannot quote sandbox customers or wallets (404)', async () => {
    const from = await fundedWallet(t.api, '0');
    const to = await fundedWallet(t.api, '0');
    const b = quoteBody({ customerId: from.customerId, walletId: from.walletId, to: { id: to.walletId }, sourceAmount: '1' });
    await refused(b, 404, 'not_found', { client: await t.client('sandbox') });
    const live = await t.client('live', t.api.credentials.projectId);
    await refused(b, 404, 'not_found', { client: live });
    // A live customer of the same project, with the sandbox wallet as its source.
    const liveCustomer = await live.post('/v0.9/customers', {});
    expect(liveCustomer.status, liveCustomer.raw).toBe(201);
    await refused({ ...b, customerId: liveCustomer.body.id }, 404, 'not_found', { client: live });
  });

  it('the other project’s own quote stays theirs', async () => {
    const stranger = await t.client('sandbox');
    const theirs = await fundedWallet(stranger, '0');
    const q = await created(quoteBody({ customerId: theirs.customerId, walletId: theirs.walletId, to: { blockchainAddress: CHECKSUMMED }, sourceAmount: '1' }), stranger);
    expect((await stranger.get(`/v0.9/quotes/${q.id}`)).status).toBe(200);
    expectError(await t.api.get(`/v0.9/quotes/${q.id}`), 404, 'not_found');
  });
});

describe('idempotency', () => {
  it('same key, same body: the same quote replayed byte for byte, one row', async () => {
    const from = await fundedWallet(t.api, '0');
    const b = quoteBody({ customerId: from.customerId, walletId: from.walletId, to: { blockchainAddress: CHECKSUMMED }, sourceAmount: '4' });
    const key = `quote-${Date.now()}`;
    const before = await quoteRows();
    const first = await postQuote(b, t.api, key);
    expect(first.status, first.raw).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const second = await postQuote(b, t.api, key);
    expect(second.status).toBe(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.raw).toBe(first.raw);
    expect(second.body.id).toBe(first.body.id);
    expect(await quoteRows()).toBe(before + 1);
  });

  it('same key, different body: 422 idempotency_key_reused, nothing written', async () => {
    const from = await fundedWallet(t.api, '0');
    const key = `quote-reuse-${Date.now()}`;
    const first = await postQuote(quoteBody({ customerId: from.customerId, walletId: from.walletId, to: { blockchainAddress: CHECKSUMMED }, sourceAmount: '4' }), t.api, key);
    expect(first.status).toBe(201);
    const before = await quoteRows();
    const other = await postQuote(quoteBody({ customerId: from.customerId, walletId: from.walletId, to: { blockchainAddress: CHECKSUMMED }, sourceAmount: '5' }), t.api, key);
    expectError(other, 422, 'idempotency_key_reused');
    expect(await quoteRows()).toBe(before);
  });

  it('a key that holds an answer refuses a different request as reused, even one the service refuses before reading anything', async () => {
    const from = await fundedWallet(t.api, '0');
    const key = `quote-reuse-early-${Date.now()}`;
    const first = await postQuote(quoteBody({ customerId: from.customerId, walletId: from.walletId, to: { blockchainAddress: CHECKSUMMED }, sourceAmount: '4' }), t.api, key);
    expect(first.status).toBe(201);
    // Both amounts: a 400 the service finds before its first statement, which would have taken the key.
    const both = quoteBody({ customerId: from.customerId, walletId: from.walletId, to: { blockchainAddress: CHECKSUMMED }, sourceAmount: '4', destinationAmount: '4' });
    expectError(await postQuote(both, t.api, key), 422, 'idempotency_key_reused');
    expectError(await postQuote(both, t.api, `${key}-fresh`), 400, 'validation_error');
  });

  it('a business refusal (422) is stored and replayed under its key', async () => {
    const from = await fundedWallet(t.api, '0');
    const b = quoteBody({ customerId: from.customerId, walletId: from.walletId, to: { externalAccount: 'acct_1' }, sourceAmount: '4' });
    const key = `quote-refused-${Date.now()}`;
    const first = await postQuote(b, t.api, key);
    expectError(first, 422, 'unsupported_destination');
    const again = await postQuote(b, t.api, key);
    expect(again.status).toBe(422);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.raw).toBe(first.raw);
  });
});

describe('GET /v0.9/quotes/{id}', () => {
  it.each([
    ['unknown', UNKNOWN_QUOTE],
    ['malformed', 'qt_nope'],
    ['wrong prefix', UNKNOWN_WALLET],
    ['no prefix', '01jd8x3mc6eskv4hzbmt9hdby7'],
    ['upper case', UNKNOWN_QUOTE.toUpperCase()],
  ])('%s id: 404', async (_, id) => {
    expectError(await t.api.get(`/v0.9/quotes/${id}`), 404, 'not_found');
  });

  it('without a token: 401', async () => {
    expectError(await t.anonymous.get(`/v0.9/quotes/${UNKNOWN_QUOTE}`), 401, 'unauthorized');
  });
});

describe('custom pricing (OMS_PRICING_FILE)', () => {
  let p: TestApp;
  let dir: string;
  // The file is read when the app is built, so the overridden project's id is chosen first
  // and its row inserted after the start; keys are then issued for it.
  const overridden = newId('project');
  let special: ApiClient;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'oms-pricing-'));
    const file = path.join(dir, 'pricing.json');
    writeFileSync(
      file,
      JSON.stringify({
        rates: [
          { from: 'usdc', to: 'usdt', rate: '1', spread: '0.002' },
          { from: 'usdt', to: 'usdc', rate: '1.5', spread: '0' },
        ],
        fees: { cryptoToCrypto: { percentage: '0.5', fixed: '0.25' } },
        projects: { [overridden]: { fees: { cryptoToCrypto: { percentage: '0', fixed: '1' } } } },
      }),
    );
    p = await startTestApp({ OMS_PRICING_FILE: file });
    await p.db.insertInto('projects').values({ id: overridden, name: 'Overridden' }).execute();
    special = await p.client('sandbox', overridden);
  });
  afterAll(async () => {
    await p?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('usdc→usdt with a 0.2 % spread and a 0.5 % + 0.25 fee, fixed source', async () => {
    const from = await fundedWallet(p.api, '0');
    const to = await fundedWallet(p.api, '0', 'usdt', 'polygon');
    const q = await created(quoteBody({ customerId: from.customerId, walletId: from.walletId, to: { id: to.walletId }, sourceAmount: '100', destinationAsset: 'usdt' }), p.api);
    expectQuoteShape(q);
    expect(q).toMatchObject({
      source: { amountGross: '100.000000', feesDeducted: '0.750000', amountNet: '99.250000' },
      destination: { asset: 'usdt', amountGross: '99.051500', amountNet: '99.051500', feesDeducted: '0.000000' },
      feesDeducted: { total: '0.750000', oms: '0.750000', developer: '0.000000', gas: '0.000000' },
      rates: { exchangeRate: '0.998', effectiveRate: '0.990515', pair: 'usdc/usdt' },
    });
    expect((await p.api.get(`/v0.9/quotes/${q.id}`)).body).toEqual(q);
  });

  it('the same, fixed destination: the source that delivers exactly that amount', async () => {
    const from = await fundedWallet(p.api, '0');
    const to = await fundedWallet(p.api, '0', 'usdt', 'polygon');
    const q = await created(quoteBody({ customerId: from.customerId, walletId: from.walletId, to: { id: to.walletId }, destinationAmount: '99.0515', destinationAsset: 'usdt' }), p.api);
    expect(q).toMatchObject({
      fixedAmountSide: 'destination',
      source: { amountGross: '100.000000', feesDeducted: '0.750000', amountNet: '99.250000' },
      destination: { amountGross: '99.051500', amountNet: '99.051500' },
    });
    expectConversionRule(q);
    // An amount the truncation makes awkward: still met exactly, with the least source.
    const odd = await created(quoteBody({ customerId: from.customerId, walletId: from.walletId, to: { id: to.walletId }, destinationAmount: '1', destinationAsset: 'usdt' }), p.api);
    expect(odd.destination.amountNet).toBe('1.000000');
    expectConversionRule(odd);
    const net = micros(odd.source.amountNet);
    expect(((net - 1n) * 998n) / 1000n).toBeLessThan(1_000_000n);
  });

  it('a fee above a small amount: 400; the same asset across chains converts at 1 without spread', async () => {
    const from = await fundedWallet(p.api, '0');
    await refused(quoteBody({ customerId: from.customerId, walletId: from.walletId, to: { blockchainAddress: CHECKSUMMED }, sourceAmount: '0.25' }), 400, 'validation_error', { app: p });
    const q = await created(quoteBody({ customerId: from.customerId, walletId: from.walletId, to: { blockchainAddress: CHECKSUMMED }, sourceAmount: '10', destinationNetwork: 'ethereum' }), p.api);
    expect(q).toMatchObject({ source: { feesDeducted: '0.300000', amountNet: '9.700000' }, destination: { amountGross: '9.700000' }, rates: { exchangeRate: '1', effectiveRate: '0.97' } });
  });

  it('a rate above 1: a destination amount no source converts to exactly is refused (400); a fixed source is fine', async () => {
    const from = await fundedWallet(p.api, '0', 'usdt', 'polygon');
    const to = await fundedWallet(p.api, '0', 'usdc', 'base');
    const b = (q: Partial<QuoteRequest>) =>
      quoteBody({ customerId: from.customerId, walletId: from.walletId, asset: 'usdt', network: 'polygon', destinationAsset: 'usdc', destinationNetwork: 'base', to: { id: to.walletId }, ...q });
    await refused(b({ destinationAmount: '10.000001' }), 400, 'validation_error', { app: p, message: /exactly/ });
    const ok = await created(b({ destinationAmount: '15' }), p.api);
    expect(ok).toMatchObject({ source: { amountNet: '10.000000' }, destination: { amountGross: '15.000000' }, rates: { exchangeRate: '1.5', pair: 'usdt/usdc' } });
    expectConversionRule(ok);
    const fixed = await created(b({ sourceAmount: '3.333333' }), p.api);
    expectConversionRule(fixed);
  });

  it('a project with its own fee schedule pays that one (0 % + 1)', async () => {
    const from = await fundedWallet(special, '0');
    const q = await created(quoteBody({ customerId: from.customerId, walletId: from.walletId, to: { blockchainAddress: CHECKSUMMED }, sourceAmount: '10' }), special);
    expect(q).toMatchObject({ source: { amountGross: '10.000000', feesDeducted: '1.000000', amountNet: '9.000000' }, feesDeducted: { total: '1.000000', oms: '1.000000' } });
    // Its rates are the shared ones.
    const usdt = await openWallet(special, from.customerId, 'usdt', 'polygon');
    const cross = await created(quoteBody({ customerId: from.customerId, walletId: from.walletId, to: { id: usdt.id }, destinationAsset: 'usdt', sourceAmount: '11' }), special);
    expect(cross).toMatchObject({ source: { amountNet: '10.000000' }, destination: { amountGross: '9.980000' }, rates: { exchangeRate: '0.998' } });
    // Exactly the fee: nothing left to convert.
    const before = await quoteRows(p);
    expectError(await postQuote(quoteBody({ customerId: from.customerId, walletId: from.walletId, to: { blockchainAddress: CHECKSUMMED }, sourceAmount: '1' }), special), 400, 'validation_error');
    expect(await quoteRows(p)).toBe(before);
  });
});

describe('expiry (OMS_QUOTE_TTL_SECONDS=1)', () => {
  let e: TestApp;
  beforeAll(async () => {
    e = await startTestApp({ OMS_QUOTE_TTL_SECONDS: '1' });
  });
  afterAll(() => e?.close());

  it('an open quote reads as expired once its window has passed', async () => {
    const from = await fundedWallet(e.api, '0');
    const q = await created(quoteBody({ customerId: from.customerId, walletId: from.walletId, to: { blockchainAddress: CHECKSUMMED }, sourceAmount: '1' }), e.api);
    expect(q.status).toBe('open');
    expect(Date.parse(q.expiresAt) - Date.parse(q.createdAt)).toBe(1000);
    await sleep(1200);
    const got = await e.api.get(`/v0.9/quotes/${q.id}`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual({ ...q, status: 'expired' });
  });
});
