import { isAddress } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type ApiClient, type ApiResponse, type TestApp } from './support/harness.js';

/**
 * Spec 4 (wallets), 2.2 (customer balance), 1.6 (idempotency) and 6.3 (wallet events), black
 * box over HTTP; what was written (wallets, addresses, ledger, events) is read back with SQL.
 */

let t: TestApp;
let projectId: string;
beforeAll(async () => {
  t = await startTestApp();
  projectId = t.api.credentials.projectId;
});
afterAll(() => t.close());

const PAIRS = [
  ['usdc', 'polygon'],
  ['usdc', 'ethereum'],
  ['usdc', 'base'],
  ['usdt', 'polygon'],
  ['usdt', 'ethereum'],
] as const;

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const TX_HASH = /^0x[0-9a-f]{64}$/;
const UNKNOWN_WALLET = 'wlt_01jd8x3mc6eskv4hzbmt9hdby7';
const UNKNOWN_CUSTOMER = 'cst_01jd8x3mc6eskv4hzbmt9hdby7';

async function newCustomer(body: Record<string, unknown> = {}, client: ApiClient = t.api): Promise<string> {
  const res = await client.post('/v0.9/customers', body);
  expect(res.status).toBe(201);
  return res.body.id;
}

const createWallet = (customerId: string, body: unknown, client: ApiClient = t.api, idempotencyKey?: string) =>
  client.post(`/v0.9/customers/${customerId}/wallets`, body, idempotencyKey === undefined ? {} : { idempotencyKey });

async function openWallet(customerId: string, asset = 'usdc', chain = 'polygon', client: ApiClient = t.api) {
  const res = await createWallet(customerId, { asset, chain }, client);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body;
}

const deposit = (walletId: string, amount: unknown, client: ApiClient = t.api, idempotencyKey?: string) =>
  client.post(`/v0.9/sandbox/wallets/${walletId}/deposit`, { amount }, idempotencyKey === undefined ? {} : { idempotencyKey });

function expectError(res: ApiResponse, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body.error.code).toBe(code);
  expect(res.body.error.requestId).toMatch(/^req_/);
}

/** Exact decimal arithmetic in micro-units (6 decimals), for expected balances. */
const micros = (amount: string) => {
  const [whole, fraction = ''] = amount.split('.');
  return BigInt(whole! + fraction.padEnd(6, '0'));
};
const fromMicros = (units: bigint) => {
  const digits = units.toString().padStart(7, '0');
  return `${digits.slice(0, -6)}.${digits.slice(-6)}`;
};

/** Everything a wallet creation writes for a customer. */
async function writtenFor(customerId: string) {
  const q = async (text: string) => Number((await t.pool.query(text, [customerId])).rows[0].n);
  return {
    wallets: await q(`select count(*) as n from wallets where customer_id = $1`),
    events: await q(`select count(*) as n from events where type = 'wallet.created' and data->'object'->>'customerId' = $1`),
    addresses: await q(`select count(*) as n from customer_addresses where customer_id = $1`),
    accounts: await q(`select count(*) as n from ledger_accounts a join wallets w on w.id = a.wallet_id where w.customer_id = $1 and a.kind = 'wallet'`),
    holdAccounts: await q(`select count(*) as n from ledger_accounts a join wallets w on w.id = a.wallet_id where w.customer_id = $1 and a.kind = 'in_flight'`),
  };
}

async function eventsOf(type: string, walletId: string): Promise<any[]> {
  const { rows } = await t.pool.query(`select data from events where type = $1 and data->'object'->>'id' = $2 order by created_at, id`, [type, walletId]);
  return rows.map((r) => r.data);
}

/** The journal entries that touch a wallet's ledger account, each with its postings. */
async function entriesOf(walletId: string) {
  const { rows } = await t.pool.query(
    `select e.id, e.kind, e.reference,
            json_agg(json_build_object('kind', a.kind, 'amount', p.amount::text, 'asset', p.asset) order by a.kind) as postings
       from journal_entries e
       join ledger_postings p on (p.project_id, p.mode, p.entry_id) = (e.project_id, e.mode, e.id)
       join ledger_accounts a on (a.project_id, a.mode, a.id) = (p.project_id, p.mode, p.account_id)
      where (e.project_id, e.mode, e.id) in (
        select p2.project_id, p2.mode, p2.entry_id from ledger_postings p2
          join ledger_accounts a2 on (a2.project_id, a2.mode, a2.id) = (p2.project_id, p2.mode, p2.account_id)
         where a2.wallet_id = $1)
      group by e.id, e.kind, e.reference`,
    [walletId],
  );
  return rows as { id: string; kind: string; reference: string; postings: { kind: string; amount: string; asset: string }[] }[];
}

const count = async (text: string) => Number((await t.pool.query(text)).rows[0].n);
const totals = async () => ({
  entries: await count(`select count(*) as n from journal_entries`),
  postings: await count(`select count(*) as n from ledger_postings`),
  deposits: await count(`select count(*) as n from events where type = 'wallet.depositDetected'`),
});

/** The books balance: per asset, per entry, and every cached balance is its postings' sum. */
async function expectBooksBalanced() {
  const perAsset = await t.pool.query(`select project_id, mode, asset, sum(amount)::text as s from ledger_postings group by 1, 2, 3 having sum(amount) <> 0`);
  expect(perAsset.rows).toEqual([]);
  const perEntry = await t.pool.query(`select entry_id from ledger_postings group by project_id, mode, entry_id, asset having sum(amount) <> 0`);
  expect(perEntry.rows).toEqual([]);
  const lonely = await t.pool.query(
    `select e.id from journal_entries e
       left join ledger_postings p on (p.project_id, p.mode, p.entry_id) = (e.project_id, e.mode, e.id)
      group by e.project_id, e.mode, e.id having count(p.seq) < 2`,
  );
  expect(lonely.rows).toEqual([]);
  const cached = await t.pool.query(
    `select a.id, a.balance::text, coalesce(p.s, 0)::text as summed
       from ledger_accounts a
       left join (select project_id, mode, account_id, sum(amount) as s from ledger_postings group by 1, 2, 3) p
         on (p.project_id, p.mode, p.account_id) = (a.project_id, a.mode, a.id)
      where a.balance <> coalesce(p.s, 0)`,
  );
  expect(cached.rows).toEqual([]);
  const negative = await t.pool.query(`select id from ledger_accounts where kind = 'wallet' and balance < 0`);
  expect(negative.rows).toEqual([]);
}

describe('POST /v0.9/customers/{id}/wallets', () => {
  it('opens a wallet for every supported pair, all at the customer’s one EIP-55 address', async () => {
    const customerId = await newCustomer();
    const wallets = [];
    for (const [asset, chain] of PAIRS) {
      const res = await createWallet(customerId, { asset, chain });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body).toEqual({
        id: expect.stringMatching(/^wlt_[0-9a-hjkmnp-tv-z]{26}$/),
        object: 'wallet',
        customerId,
        address: expect.any(String),
        asset,
        chain,
        status: 'active',
        type: 'internal',
        createdAt: expect.stringMatching(ISO),
        updatedAt: expect.stringMatching(ISO),
      });
      expect(res.body.updatedAt).toBe(res.body.createdAt);
      wallets.push(res.body);
    }
    const address = wallets[0].address;
    expect(isAddress(address, { strict: true })).toBe(true);
    expect(address).not.toBe(address.toLowerCase());
    expect(new Set(wallets.map((w) => w.address))).toEqual(new Set([address]));
    expect(new Set(wallets.map((w) => w.id)).size).toBe(PAIRS.length);

    const stored = await t.pool.query(`select address from customer_addresses where customer_id = $1`, [customerId]);
    expect(stored.rows).toEqual([{ address }]);
    expect(await writtenFor(customerId)).toEqual({ wallets: 5, events: 5, addresses: 1, accounts: 5, holdAccounts: 5 });
    // One wallet.created per wallet, holding the wallet as the API returned it.
    for (const wallet of wallets) expect(await eventsOf('wallet.created', wallet.id)).toEqual([{ object: wallet }]);
  });

  it('gives different customers different addresses, in this project and another', async () => {
    const other = await t.client('sandbox');
    const owners = [await newCustomer(), await newCustomer(), await newCustomer({}, other)];
    const addresses = [
      (await openWallet(owners[0]!)).address,
      (await openWallet(owners[1]!, 'usdt', 'ethereum')).address,
      (await openWallet(owners[2]!, 'usdc', 'polygon', other)).address,
    ];
    for (const address of addresses) expect(isAddress(address, { strict: true })).toBe(true);
    expect(new Set(addresses.map((a) => a.toLowerCase())).size).toBe(3);
  });

  it('refuses an unsupported pair with 422 unsupported_asset, writing nothing', async () => {
    const customerId = await newCustomer();
    for (const body of [
      { asset: 'usdt', chain: 'base' },
      { asset: 'usdc', chain: 'solana' },
      { asset: 'usd', chain: 'polygon' },
      { asset: 'USDC', chain: 'polygon' },
      { asset: 'usdc', chain: 'Polygon' },
      { asset: 'toString', chain: 'polygon' },
      { asset: 'usdc', chain: '__proto__' },
    ]) {
      expectError(await createWallet(customerId, body), 422, 'unsupported_asset');
    }
    expect(await writtenFor(customerId)).toEqual({ wallets: 0, events: 0, addresses: 0, accounts: 0, holdAccounts: 0 });
  });

  it('refuses a body that fails the schema with 400, and a POST without Idempotency-Key', async () => {
    const customerId = await newCustomer();
    for (const body of [{}, { asset: 'usdc' }, { chain: 'polygon' }, { asset: 'usdc', chain: 'polygon', status: 'active' }, { asset: 1, chain: 'polygon' }, { asset: '', chain: 'polygon' }]) {
      expectError(await createWallet(customerId, body), 400, 'validation_error');
    }
    expectError(await t.api.post(`/v0.9/customers/${customerId}/wallets`, { asset: 'usdc', chain: 'polygon' }, { idempotencyKey: null }), 400, 'idempotency_key_missing');
    expect(await writtenFor(customerId)).toEqual({ wallets: 0, events: 0, addresses: 0, accounts: 0, holdAccounts: 0 });
  });

  it('answers 404 for an unknown, malformed or foreign customer', async () => {
    const other = await t.client('sandbox');
    const foreign = await newCustomer({}, other);
    for (const id of [UNKNOWN_CUSTOMER, 'cst_nope', UNKNOWN_WALLET, foreign]) {
      expectError(await createWallet(id, { asset: 'usdc', chain: 'polygon' }), 404, 'not_found');
    }
    expect(await writtenFor(foreign)).toEqual({ wallets: 0, events: 0, addresses: 0, accounts: 0, holdAccounts: 0 });
  });

  it('refuses an offboarded customer with 422 customer_inactive, writing nothing', async () => {
    const customerId = await newCustomer();
    const offboarded = await t.api.post(`/v0.9/sandbox/customers/${customerId}/endorsements/basic`, { status: 'OFFBOARDED' });
    expect(offboarded.status, JSON.stringify(offboarded.body)).toBe(200);
    expect(offboarded.body.status).toBe('inactive');
    for (const [asset, chain] of PAIRS.slice(0, 2)) expectError(await createWallet(customerId, { asset, chain }), 422, 'customer_inactive');
    expect(await writtenFor(customerId)).toEqual({ wallets: 0, events: 0, addresses: 0, accounts: 0, holdAccounts: 0 });
  });

  it.each(['Issues', 'Pending'])('refuses a customer whose cryptoCustody is not ACTIVE (lastName %s) with 422 endorsement_required', async (lastName) => {
    const customerId = await newCustomer({ lastName });
    const customer = await t.api.get(`/v0.9/customers/${customerId}`);
    expect(customer.body.status).toBe('active');
    expect(customer.body.endorsements.find((e: { name: string }) => e.name === 'cryptoCustody').status).not.toBe('ACTIVE');
    expectError(await createWallet(customerId, { asset: 'usdc', chain: 'polygon' }), 422, 'endorsement_required');
    expect(await writtenFor(customerId)).toEqual({ wallets: 0, events: 0, addresses: 0, accounts: 0, holdAccounts: 0 });
  });

  it('refuses a second wallet for the same pair with 409 conflict, writing nothing more', async () => {
    const customerId = await newCustomer();
    const first = await openWallet(customerId, 'usdt', 'polygon');
    expectError(await createWallet(customerId, { asset: 'usdt', chain: 'polygon' }), 409, 'conflict');
    expect(await writtenFor(customerId)).toEqual({ wallets: 1, events: 1, addresses: 1, accounts: 1, holdAccounts: 1 });
    expect((await t.api.get(`/v0.9/customers/${customerId}/wallets`)).body.data).toEqual([first]);
  });

  it('replays a create sent again with the same key: same bytes, Idempotent-Replayed, no second wallet or event', async () => {
    const customerId = await newCustomer();
    const key = `wallet-create-${customerId}`;
    const first = await createWallet(customerId, { asset: 'usdc', chain: 'base' }, t.api, key);
    expect(first.status).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const again = await createWallet(customerId, { asset: 'usdc', chain: 'base' }, t.api, key);
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.raw).toBe(first.raw);
    // The same key for another request is refused, not replayed.
    expectError(await createWallet(customerId, { asset: 'usdc', chain: 'polygon' }, t.api, key), 422, 'idempotency_key_reused');
    expect(await writtenFor(customerId)).toEqual({ wallets: 1, events: 1, addresses: 1, accounts: 1, holdAccounts: 1 });
  });

  it('replays a stored refusal, even after the customer became eligible; a new key then opens the wallet', async () => {
    const customerId = await newCustomer({ lastName: 'Pending' });
    const key = `refused-${customerId}`;
    const refused = await createWallet(customerId, { asset: 'usdc', chain: 'polygon' }, t.api, key);
    expectError(refused, 422, 'endorsement_required');
    for (const name of ['basic', 'cryptoCustody']) {
      const forced = await t.api.post(`/v0.9/sandbox/customers/${customerId}/endorsements/${name}`, { status: 'ACTIVE' });
      expect(forced.status, JSON.stringify(forced.body)).toBe(200);
    }
    const replayed = await createWallet(customerId, { asset: 'usdc', chain: 'polygon' }, t.api, key);
    expect(replayed.status).toBe(422);
    expect(replayed.headers['idempotent-replayed']).toBe('true');
    expect(replayed.raw).toBe(refused.raw);
    expect(await writtenFor(customerId)).toEqual({ wallets: 0, events: 0, addresses: 0, accounts: 0, holdAccounts: 0 });
    await openWallet(customerId, 'usdc', 'polygon');
  });

  it('lets exactly one of several concurrent creates of the same pair win; the others get 409', async () => {
    const customers = await Promise.all([newCustomer(), newCustomer(), newCustomer()]);
    await Promise.all(
      customers.map(async (customerId) => {
        const results = await Promise.all(Array.from({ length: 4 }, () => createWallet(customerId, { asset: 'usdc', chain: 'ethereum' })));
        expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);
        for (const r of results.filter((r) => r.status === 409)) expect(r.body.error.code).toBe('conflict');
        expect(await writtenFor(customerId)).toEqual({ wallets: 1, events: 1, addresses: 1, accounts: 1, holdAccounts: 1 });
      }),
    );
  });

  it('opens different pairs for one new customer concurrently, all at one address', async () => {
    const customerId = await newCustomer();
    const results = await Promise.all(PAIRS.map(([asset, chain]) => createWallet(customerId, { asset, chain })));
    expect(results.map((r) => r.status)).toEqual(PAIRS.map(() => 201));
    expect(new Set(results.map((r) => r.body.address)).size).toBe(1);
    expect(await writtenFor(customerId)).toEqual({ wallets: 5, events: 5, addresses: 1, accounts: 5, holdAccounts: 5 });
  });
});

describe('reading wallets', () => {
  let customerId: string;
  let wallets: any[];
  beforeAll(async () => {
    customerId = await newCustomer();
    wallets = [];
    for (const [asset, chain] of [['usdc', 'polygon'], ['usdt', 'ethereum'], ['usdc', 'base']] as const) {
      wallets.push(await openWallet(customerId, asset, chain));
      await new Promise((resolve) => setTimeout(resolve, 5)); // distinct createdAt
    }
  });

  it('gets a wallet by id, as it was created', async () => {
    for (const wallet of wallets) {
      const res = await t.api.get(`/v0.9/wallets/${wallet.id}`);
      expect(res.status).toBe(200);
      expect(res.body).toEqual(wallet);
    }
  });

  it("lists the customer's wallets and only theirs", async () => {
    await openWallet(await newCustomer()); // a neighbour's wallet must not appear
    const res = await t.api.get(`/v0.9/customers/${customerId}/wallets`);
    expect(res.status).toBe(200);
    expect(res.body.hasMore).toBe(false);
    expect([...res.body.data].sort((a, b) => a.id.localeCompare(b.id))).toEqual([...wallets].sort((a, b) => a.id.localeCompare(b.id)));
    const empty = await t.api.get(`/v0.9/customers/${await newCustomer()}/wallets`);
    expect(empty.status).toBe(200);
    expect(empty.body.data).toEqual([]);
  });

  it('lists newest first, like every list (spec 1.7)', async () => {
    const res = await t.api.get(`/v0.9/customers/${customerId}/wallets`);
    expect(res.body.data.map((w: { id: string }) => w.id)).toEqual(wallets.map((w) => w.id).reverse());
  });

  it('honours limit and refuses an out-of-range one, like every list (spec 1.7)', async () => {
    const page = await t.api.get(`/v0.9/customers/${customerId}/wallets?limit=1`);
    expect(page.status).toBe(200);
    expect(page.body.data).toHaveLength(1);
    expect(page.body.hasMore).toBe(true);
    for (const limit of ['0', '101', 'abc']) expectError(await t.api.get(`/v0.9/customers/${customerId}/wallets?limit=${limit}`), 400, 'validation_error');
  });

  it('answers 404 for an unknown or malformed wallet or customer id', async () => {
    for (const id of [UNKNOWN_WALLET, 'wlt_nope', UNKNOWN_CUSTOMER, customerId, 'x'.repeat(64), wallets[0].id.toUpperCase()]) {
      expectError(await t.api.get(`/v0.9/wallets/${id}`), 404, 'not_found');
      expectError(await t.api.get(`/v0.9/wallets/${id}/balance`), 404, 'not_found');
    }
    for (const id of [UNKNOWN_CUSTOMER, 'cst_nope', wallets[0].id]) {
      expectError(await t.api.get(`/v0.9/customers/${id}/wallets`), 404, 'not_found');
      expectError(await t.api.get(`/v0.9/customers/${id}/balance`), 404, 'not_found');
    }
  });

  it("answers 404 to another project and to the other mode, and shows the owner nothing of theirs", async () => {
    const intruders = [await t.client('sandbox'), await t.client('live', projectId)];
    for (const intruder of intruders) {
      expectError(await intruder.get(`/v0.9/wallets/${wallets[0].id}`), 404, 'not_found');
      expectError(await intruder.get(`/v0.9/wallets/${wallets[0].id}/balance`), 404, 'not_found');
      expectError(await intruder.get(`/v0.9/customers/${customerId}/wallets`), 404, 'not_found');
      expectError(await intruder.get(`/v0.9/customers/${customerId}/balance`), 404, 'not_found');
    }
    const foreign = await openWallet(await newCustomer({}, intruders[0]), 'usdc', 'polygon', intruders[0]);
    expectError(await t.api.get(`/v0.9/wallets/${foreign.id}`), 404, 'not_found');
    expectError(await t.api.get(`/v0.9/customers/${foreign.customerId}/wallets`), 404, 'not_found');
  });
});

describe('balances', () => {
  it('start at zero', async () => {
    const wallet = await openWallet(await newCustomer(), 'usdt', 'polygon');
    const res = await t.api.get(`/v0.9/wallets/${wallet.id}/balance`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ object: 'walletBalance', walletId: wallet.id, asset: 'usdt', chain: 'polygon', balance: '0.000000', estimatedValue: '0.00', currency: 'USD' });
    const customer = await t.api.get(`/v0.9/customers/${wallet.customerId}/balance`);
    expect(customer.body).toEqual({
      object: 'customerBalance',
      customerId: wallet.customerId,
      currency: 'USD',
      estimatedBalance: '0.00',
      balances: [{ walletId: wallet.id, asset: 'usdt', network: 'polygon', balance: '0.000000', estimatedValue: '0.00' }],
    });
    const none = await newCustomer();
    expect((await t.api.get(`/v0.9/customers/${none}/balance`)).body).toEqual({ object: 'customerBalance', customerId: none, currency: 'USD', estimatedBalance: '0.00', balances: [] });
  });

  it('sum deposits exactly, and the customer balance sums the wallets across assets and chains', async () => {
    const customerId = await newCustomer();
    const usdc = await openWallet(customerId, 'usdc', 'polygon');
    const usdt = await openWallet(customerId, 'usdt', 'ethereum');
    const base = await openWallet(customerId, 'usdc', 'base');
    const running = [];
    for (const amount of ['10', '0.5', '0.000001']) {
      const res = await deposit(usdc.id, amount);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      running.push([res.body.amount, res.body.balance]);
    }
    expect(running).toEqual([
      ['10.000000', '10.000000'],
      ['0.500000', '10.500000'],
      ['0.000001', '10.500001'],
    ]);
    expect((await deposit(usdt.id, '2.25')).status).toBe(200);

    const balance = await t.api.get(`/v0.9/wallets/${usdc.id}/balance`);
    expect(balance.body).toEqual({ object: 'walletBalance', walletId: usdc.id, asset: 'usdc', chain: 'polygon', balance: '10.500001', estimatedValue: '10.50', currency: 'USD' });
    const customer = await t.api.get(`/v0.9/customers/${customerId}/balance`);
    expect(customer.status).toBe(200);
    expect(customer.body).toEqual({ object: 'customerBalance', customerId, currency: 'USD', estimatedBalance: '12.75', balances: expect.any(Array) });
    expect([...customer.body.balances].sort((a, b) => a.walletId.localeCompare(b.walletId))).toEqual(
      [
        { walletId: usdc.id, asset: 'usdc', network: 'polygon', balance: '10.500001', estimatedValue: '10.50' },
        { walletId: usdt.id, asset: 'usdt', network: 'ethereum', balance: '2.250000', estimatedValue: '2.25' },
        { walletId: base.id, asset: 'usdc', network: 'base', balance: '0.000000', estimatedValue: '0.00' },
      ].sort((a, b) => a.walletId.localeCompare(b.walletId)),
    );
    await expectBooksBalanced();
  });

  it('accept estimatedBalanceCurrencyCode=USD and refuse any other currency with 400', async () => {
    const wallet = await openWallet(await newCustomer());
    for (const url of [`/v0.9/wallets/${wallet.id}/balance`, `/v0.9/customers/${wallet.customerId}/balance`]) {
      const plain = await t.api.get(url);
      const usd = await t.api.get(`${url}?estimatedBalanceCurrencyCode=USD`);
      expect(usd.status).toBe(200);
      expect(usd.body).toEqual(plain.body);
      expectError(await t.api.get(`${url}?estimatedBalanceCurrencyCode=EUR`), 400, 'validation_error');
      expectError(await t.api.get(`${url}?estimatedBalanceCurrencyCode=`), 400, 'validation_error');
      expectError(await t.api.get(`${url}?currency=USD`), 400, 'validation_error');
    }
  });
});

describe("the customer object's wallets (spec 2.1 flat view)", () => {
  it('lists every wallet oldest first, with its live balance and USD value, in GET, list, PATCH and the event', async () => {
    const customerId = await newCustomer({ email: `flat-${Date.now()}@example.com` });
    expect((await t.api.get(`/v0.9/customers/${customerId}`)).body.wallets).toEqual([]);
    const first = await openWallet(customerId, 'usdc', 'polygon');
    const second = await openWallet(customerId, 'usdt', 'ethereum');
    expect((await deposit(first.id, '12.345678')).status).toBe(200);

    const expected = [
      { id: first.id, type: 'custodial', address: first.address, network: 'polygon', asset: 'usdc', balance: '12.345678', estimatedValueUsd: '12.35', createdAt: first.createdAt },
      { id: second.id, type: 'custodial', address: second.address, network: 'ethereum', asset: 'usdt', balance: '0.000000', estimatedValueUsd: '0.00', createdAt: second.createdAt },
    ];
    const got = await t.api.get(`/v0.9/customers/${customerId}`);
    expect(got.status).toBe(200);
    expect(got.body.wallets).toEqual(expected);

    const listed = await t.api.get(`/v0.9/customers?email=${encodeURIComponent(got.body.email)}`);
    expect(listed.body.data.map((c: { id: string; wallets: unknown }) => [c.id, c.wallets])).toEqual([[customerId, expected]]);

    const patched = await t.api.patch(`/v0.9/customers/${customerId}`, { firstName: 'Flat' });
    expect(patched.status).toBe(200);
    expect(patched.body.wallets).toEqual(expected);
    const { rows } = await t.pool.query(`select data from events where type = 'customer.updated' and data->'object'->>'id' = $1`, [customerId]);
    expect(rows.map((r) => r.data.object.wallets)).toEqual([expected]);
  });

  it('matches the balance endpoints, for every customer of a page', async () => {
    const ids = [await newCustomer(), await newCustomer()];
    for (const [i, id] of ids.entries()) {
      const wallet = await openWallet(id, 'usdc', 'base');
      expect((await deposit(wallet.id, `${i + 1}.5`)).status).toBe(200);
    }
    for (const id of ids) {
      const [customer, balance] = await Promise.all([t.api.get(`/v0.9/customers/${id}`), t.api.get(`/v0.9/customers/${id}/balance`)]);
      expect(customer.body.wallets.map((w: any) => [w.id, w.balance, w.estimatedValueUsd])).toEqual(
        balance.body.balances.map((b: any) => [b.walletId, b.balance, b.estimatedValue]),
      );
    }
  });
});

describe('POST /v0.9/sandbox/wallets/{id}/deposit', () => {
  it('credits the wallet from the outside world, with a txHash, one entry and one event', async () => {
    const wallet = await openWallet(await newCustomer(), 'usdt', 'ethereum');
    const res = await deposit(wallet.id, '25.5');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      object: 'deposit',
      walletId: wallet.id,
      asset: 'usdt',
      chain: 'ethereum',
      amount: '25.500000',
      txHash: expect.stringMatching(TX_HASH),
      balance: '25.500000',
      createdAt: expect.stringMatching(ISO),
    });
    expect(await entriesOf(wallet.id)).toEqual([
      {
        id: expect.any(String),
        kind: 'deposit',
        reference: res.body.txHash,
        postings: [
          { kind: 'external', amount: '-25.5', asset: 'usdt' },
          { kind: 'wallet', amount: '25.5', asset: 'usdt' },
        ],
      },
    ]);
    const current = (await t.api.get(`/v0.9/wallets/${wallet.id}`)).body;
    expect(await eventsOf('wallet.depositDetected', wallet.id)).toEqual([{ object: current, deposit: { amount: '25.500000', txHash: res.body.txHash } }]);
  });

  it('keeps 50 concurrent deposits into one wallet: 50 entries, 50 events, the exact sum', async () => {
    const wallet = await openWallet(await newCustomer(), 'usdc', 'base');
    const amounts = Array.from({ length: 50 }, (_, i) => `${i + 1}.${String(((i + 1) * 7919) % 1_000_000).padStart(6, '0')}`.replace(/\.?0+$/, ''));
    const before = await totals();
    const results = await Promise.all(amounts.map((amount) => deposit(wallet.id, amount)));
    expect(results.map((r) => r.status)).toEqual(amounts.map(() => 200));
    const expected = fromMicros(amounts.reduce((total, a) => total + micros(a), 0n));

    // The deposits ran one after another on the account: sorted by balance after, each adds its own amount.
    const byBalance = [...results].sort((a, b) => (micros(a.body.balance) < micros(b.body.balance) ? -1 : 1));
    let previous = 0n;
    for (const r of byBalance) {
      expect(micros(r.body.balance)).toBe(previous + micros(r.body.amount));
      previous = micros(r.body.balance);
    }
    expect(fromMicros(previous)).toBe(expected);

    expect((await t.api.get(`/v0.9/wallets/${wallet.id}/balance`)).body.balance).toBe(expected);
    const entries = await entriesOf(wallet.id);
    expect(entries).toHaveLength(50);
    expect(new Set(entries.map((e) => e.reference))).toEqual(new Set(results.map((r) => r.body.txHash)));
    expect(new Set(results.map((r) => r.body.txHash)).size).toBe(50);
    expect(await totals()).toEqual({ entries: before.entries + 50, postings: before.postings + 100, deposits: before.deposits + 50 });

    const events = await eventsOf('wallet.depositDetected', wallet.id);
    expect(events).toHaveLength(50);
    expect(new Set(events.map((e) => `${e.deposit.amount} ${e.deposit.txHash}`))).toEqual(new Set(results.map((r) => `${r.body.amount} ${r.body.txHash}`)));
    for (const e of events) expect(e.object).toEqual(wallet);
    await expectBooksBalanced();
  });

  it('replays a deposit sent again with the same key, crediting once', async () => {
    const wallet = await openWallet(await newCustomer());
    const key = `deposit-${wallet.id}`;
    const first = await deposit(wallet.id, '7.123456', t.api, key);
    expect(first.status).toBe(200);
    const before = await totals();
    const again = await deposit(wallet.id, '7.123456', t.api, key);
    expect(again.status).toBe(200);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.raw).toBe(first.raw);
    expectError(await deposit(wallet.id, '8', t.api, key), 422, 'idempotency_key_reused');
    expect(await totals()).toEqual(before);
    expect(await entriesOf(wallet.id)).toHaveLength(1);
    expect(await eventsOf('wallet.depositDetected', wallet.id)).toHaveLength(1);
    expect((await t.api.get(`/v0.9/wallets/${wallet.id}/balance`)).body.balance).toBe('7.123456');
  });

  it('credits once when the same key is sent twice at the same time', async () => {
    const wallet = await openWallet(await newCustomer());
    const key = `raced-${wallet.id}`;
    const results = await Promise.all([0, 1, 2].map(() => deposit(wallet.id, '1', t.api, key)));
    for (const r of results) {
      if (r.status === 200) expect(r.body.balance).toBe('1.000000');
      else {
        expectError(r, 409, 'idempotency_key_in_use');
        expect(r.headers['retry-after']).toBeDefined();
      }
    }
    expect(results.filter((r) => r.status === 200 && r.headers['idempotent-replayed'] === undefined)).toHaveLength(1);
    expect(await entriesOf(wallet.id)).toHaveLength(1);
    expect(await eventsOf('wallet.depositDetected', wallet.id)).toHaveLength(1);
  });

  it.each(['0', '0.000000', '-1', '1.1234567', '1e3', 'abc', '', '1.', '.5', '01', '+1', '1,5', '0x10', 'Infinity', 'NaN', 10, null])(
    'refuses amount %j with 400 validation_error, writing nothing and keeping the key free',
    async (amount) => {
      const wallet = await openWallet(await newCustomer(), 'usdt', 'polygon');
      const before = await totals();
      const key = `bad-${wallet.id}`;
      expectError(await deposit(wallet.id, amount, t.api, key), 400, 'validation_error');
      expect(await totals()).toEqual(before);
      expect((await t.api.get(`/v0.9/wallets/${wallet.id}/balance`)).body.balance).toBe('0.000000');
      // Refused before execution: nothing stored under the key, so a corrected request runs.
      const retried = await deposit(wallet.id, '1', t.api, key);
      expect(retried.status).toBe(200);
      expect(retried.headers['idempotent-replayed']).toBeUndefined();
    },
  );

  it('refuses a body with another field, or without amount, with 400', async () => {
    const wallet = await openWallet(await newCustomer());
    const url = `/v0.9/sandbox/wallets/${wallet.id}/deposit`;
    expectError(await t.api.post(url, { amount: '1', txHash: '0x00' }), 400, 'validation_error');
    expectError(await t.api.post(url, {}), 400, 'validation_error');
    expectError(await t.api.post(url, { amount: '1' }, { idempotencyKey: null }), 400, 'idempotency_key_missing');
    expect(await entriesOf(wallet.id)).toEqual([]);
  });

  it('answers 404 for an unknown, malformed or foreign wallet', async () => {
    const other = await t.client('sandbox');
    const foreign = await openWallet(await newCustomer({}, other), 'usdc', 'polygon', other);
    const before = await totals();
    for (const id of [UNKNOWN_WALLET, 'wlt_nope', UNKNOWN_CUSTOMER, foreign.id]) expectError(await deposit(id, '1'), 404, 'not_found');
    expect(await totals()).toEqual(before);
  });

  it('does not exist for a live key: 404, nothing written', async () => {
    const wallet = await openWallet(await newCustomer());
    const live = await t.client('live', projectId);
    const before = await totals();
    for (const id of [wallet.id, UNKNOWN_WALLET]) expectError(await deposit(id, '1', live), 404, 'not_found');
    expect(await totals()).toEqual(before);
    expect((await t.api.get(`/v0.9/wallets/${wallet.id}/balance`)).body.balance).toBe('0.000000');
    // Refused before execution: nothing stored under the live key either.
    expect(await count(`select count(*) as n from idempotency_keys where mode = 'live'`)).toBe(0);
  });

  it('leaves the books balanced after everything above', async () => {
    await expectBooksBalanced();
  });
});
