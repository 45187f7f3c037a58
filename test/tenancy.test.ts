import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fullCustomer } from './support/fixtures.js';
import { startTestApp, type ApiClient, type ApiResponse, type TestApp } from './support/harness.js';

/**
 * Spec 1.1 and 1.3: another project's id, the other mode's id and an id of the wrong prefix
 * or shape all answer 404 not_found. The matrix is generated from the OpenAPI document, so a
 * route added later is covered without touching this file, or makes it fail until this file
 * learns how to build an id for it.
 */

type Resource = 'customer' | 'wallet' | 'quote' | 'transaction' | 'webhook' | 'event' | 'delivery';

/** Spec 1.3. */
// A delivery id is a plain UUID; its routes name the webhook first, whose prefix is the one on trial.
const PREFIXES: Record<Resource, string> = { customer: 'cst', wallet: 'wlt', quote: 'qt', transaction: 'txn', webhook: 'whk', event: 'evt', delivery: '' };
const ALL_PREFIXES = ['cst', 'wlt', 'qt', 'txn', 'ci', 'loc', 'whk', 'evt', 'prj', 'req', 'va', 'da'];

/** Which resource a path parameter names: by its own name, or by the collection segment before it. */
const PARAM_RESOURCES: Record<string, Resource> = {
  customerId: 'customer',
  walletId: 'wallet',
  quoteId: 'quote',
  transactionId: 'transaction',
  webhookId: 'webhook',
  eventId: 'event',
  deliveryId: 'delivery',
};
const COLLECTION_RESOURCES: Record<string, Resource> = {
  customers: 'customer',
  wallets: 'wallet',
  quotes: 'quote',
  transactions: 'transaction',
  webhooks: 'webhook',
  events: 'event',
  deliveries: 'delivery',
};
/** Path parameters that are not ids (a closed set of names): a valid value, so only the id is on trial. */
const FIXED_PARAMS: Record<string, string> = { name: 'basic' };

/** A valid body for every write operation that takes an id, so validation cannot answer before the lookup does. */
const SAMPLE_BODIES: Record<string, unknown> = {
  'PATCH /v0.9/customers/{customerId}': { firstName: 'Mallory', metadata: { intruder: 'yes' }, signedAgreement: true },
  'POST /v0.9/sandbox/customers/{customerId}/endorsements/{name}': { status: 'REVOKED_ISSUES' },
  'POST /v0.9/customers/{customerId}/wallets': { asset: 'usdt', chain: 'ethereum' },
  'POST /v0.9/sandbox/wallets/{walletId}/deposit': { amount: '1.00' },
  'PATCH /v0.9/webhooks/{webhookId}': { url: 'https://intruder.public.test/hook', events: ['customer.created'], enabled: false },
};

interface Operation {
  method: string;
  template: string;
  params: { name: string; resource: Resource | undefined }[];
  needsBody: boolean;
}

function operationsWithIds(doc: { paths: Record<string, Record<string, { requestBody?: { required?: boolean } }>> }): Operation[] {
  const ops: Operation[] = [];
  for (const [template, methods] of Object.entries(doc.paths)) {
    if (!template.startsWith('/v0.9/') || !template.includes('{')) continue;
    const segments = template.split('/');
    const params = segments.flatMap((segment, i) => {
      const name = /^\{(.+)\}$/.exec(segment)?.[1];
      if (name === undefined || name in FIXED_PARAMS) return [];
      return [{ name, resource: PARAM_RESOURCES[name] ?? COLLECTION_RESOURCES[segments[i - 1] ?? ''] }];
    });
    for (const [method, op] of Object.entries(methods)) {
      if (!['get', 'post', 'put', 'patch', 'delete'].includes(method)) continue;
      ops.push({ method: method.toUpperCase(), template, params, needsBody: op.requestBody !== undefined });
    }
  }
  return ops;
}

function urlFor(op: Operation, ids: Partial<Record<Resource, string>>, override?: string): string {
  const withFixed = Object.entries(FIXED_PARAMS).reduce((url, [name, value]) => url.replace(`{${name}}`, value), op.template);
  return op.params.reduce((url, p) => url.replace(`{${p.name}}`, encodeURIComponent(override ?? ids[p.resource!]!)), withFixed);
}

function send(client: ApiClient, op: Operation, url: string): Promise<ApiResponse> {
  return client.request(op.method, url, op.needsBody ? { body: SAMPLE_BODIES[`${op.method} ${op.template}`] } : {});
}

function expectNotFound(res: ApiResponse, what: string): void {
  expect(res.status, `${what}: ${res.raw}`).toBe(404);
  expect(res.body.error.code, what).toBe('not_found');
  expect(res.body.error.requestId, what).toMatch(/^req_/);
}

const quoteOf = (customerId: string, walletId: string, amount: string) => ({
  customerId,
  source: { walletId, asset: 'usdc', network: 'polygon', amount },
  destination: { asset: 'usdc', network: 'polygon', wallet: { blockchainAddress: '0x52908400098527886E0F7030069857D2E4169EE7' } },
});

let t: TestApp;
let ops: Operation[];
const INTRUDERS = ['another project', "the same project's live mode"] as const;
let intruders: Record<(typeof INTRUDERS)[number], ApiClient>;
let customer: Record<string, any>;
const ids: Partial<Record<Resource, string>> = {};

beforeAll(async () => {
  t = await startTestApp();
  ops = operationsWithIds(t.app.swagger() as Parameters<typeof operationsWithIds>[0]);
  intruders = {
    'another project': await t.client('sandbox'),
    "the same project's live mode": await t.client('live', t.api.credentials.projectId),
  };
  const created = await t.api.post('/v0.9/customers', fullCustomer({ externalId: 'tenant-a-user', email: 'tenant-a@example.com' }));
  expect(created.status).toBe(201);
  customer = created.body;
  ids.customer = customer.id;
  const wallet = await t.api.post(`/v0.9/customers/${customer.id}/wallets`, { asset: 'usdc', chain: 'polygon' });
  expect(wallet.status).toBe(201);
  const walletId: string = wallet.body.id;
  ids.wallet = walletId;
  expect((await t.api.post(`/v0.9/sandbox/wallets/${walletId}/deposit`, { amount: '50' })).status).toBe(200);
  const quote = await t.api.post('/v0.9/quotes', quoteOf(customer.id, walletId, '5'));
  expect(quote.status, quote.raw).toBe(201);
  const transaction = await t.api.post('/v0.9/transactions', { quoteId: quote.body.id });
  expect(transaction.status, transaction.raw).toBe(201);
  ids.transaction = transaction.body.id;
  // A quote still open, so that the intruder's POST /transactions on it would have something to take.
  const open = await t.api.post('/v0.9/quotes', quoteOf(customer.id, walletId, '1'));
  expect(open.status, open.raw).toBe(201);
  ids.quote = open.body.id;
  // The customer object shows its wallets: the snapshot every later read is compared with.
  customer = (await t.api.get(`/v0.9/customers/${customer.id}`)).body;
  const webhook = await t.api.post('/v0.9/webhooks', { url: 'https://tenant-a.public.test/hook' });
  expect(webhook.status, webhook.raw).toBe(201);
  ids.webhook = webhook.body.id;
  const event = await t.pool.query(`select id from events where type = 'customer.created' and data->'object'->>'id' = $1`, [customer.id]);
  ids.event = event.rows[0].id;
  // The endpoint came after the event: its delivery is made by hand (this app sends nothing).
  const delivery = await t.pool.query(
    `insert into webhook_deliveries (project_id, mode, id, endpoint_id, event_id, status, created_at, updated_at)
     values ($1, 'sandbox', gen_random_uuid()::text, $2, $3, 'delivered', now(), now()) returning id`,
    [t.api.credentials.projectId, ids.webhook, ids.event],
  );
  ids.delivery = delivery.rows[0].id;
});
afterAll(() => t.close());

describe('the generated route matrix', () => {
  it('finds the id routes, and can build an id and a body for every one of them', () => {
    // Guards the generator itself: an empty matrix would make every test below pass vacuously.
    expect(ops.map((op) => `${op.method} ${op.template}`)).toEqual(expect.arrayContaining(['GET /v0.9/customers/{customerId}', 'PATCH /v0.9/customers/{customerId}']));
    for (const op of ops) {
      for (const p of op.params) expect(p.resource, `${op.method} ${op.template}: no id builder for {${p.name}}`).toBeDefined();
      for (const p of op.params) expect(ids[p.resource!], `${op.method} ${op.template}: no ${p.resource} created`).toBeDefined();
      if (op.needsBody) expect(SAMPLE_BODIES, `${op.method} ${op.template}: no sample body`).toHaveProperty([`${op.method} ${op.template}`]);
    }
  });

  it('lets the owner read every GET route (so the 404s below are about tenancy, not a bad id)', async () => {
    for (const op of ops.filter((o) => o.method === 'GET')) {
      const res = await t.api.get(urlFor(op, ids));
      expect(res.status, `${op.method} ${op.template}`).toBe(200);
    }
  });
});

describe.each(INTRUDERS)('%s', (name) => {
  it('gets 404 not_found on every id route, and changes nothing', async () => {
    const intruder = intruders[name];
    const read = () => Promise.all([t.api.get(`/v0.9/customers/${customer.id}`), t.api.get(`/v0.9/webhooks/${ids.webhook}`)]);
    const before = await read();
    expect(before.map((r) => r.status)).toEqual([200, 200]);
    for (const op of ops) expectNotFound(await send(intruder, op, urlFor(op, ids)), `${name}: ${op.method} ${op.template}`);
    const after = await read();
    // The whole objects, updatedAt included: a write (or a delete) that was answered 404 must not have happened.
    expect(after.map((r) => r.body)).toEqual(before.map((r) => r.body));
  });

  it('cannot quote from the customer’s wallet, nor accept its open quote: 404, and the quote stays open', async () => {
    const intruder = intruders[name];
    expectNotFound(await intruder.post('/v0.9/quotes', quoteOf(customer.id, ids.wallet!, '1')), `${name}: POST /v0.9/quotes`);
    expectNotFound(await intruder.post('/v0.9/transactions', { quoteId: ids.quote }), `${name}: POST /v0.9/transactions`);
    expect((await t.api.get(`/v0.9/quotes/${ids.quote}`)).body.status).toBe('open');
  });

  it('never sees the transaction in a list, even filtering on the customer', async () => {
    const intruder = intruders[name];
    for (const url of ['/v0.9/transactions?limit=100', `/v0.9/transactions?limit=100&customerId=${customer.id}`]) {
      expect((await t.api.get(url)).body.data.map((x: { id: string }) => x.id), `owner: ${url}`).toContain(ids.transaction);
      const res = await intruder.get(url);
      expect(res.status, `${name}: ${url}`).toBe(200);
      expect(res.body.data, `${name}: ${url}`).toEqual([]);
    }
  });

  it('never sees the customer in the list, even when filtering on its email or externalId', async () => {
    const intruder = intruders[name];
    for (const query of ['', '&email=tenant-a%40example.com', '&externalId=tenant-a-user', '&status=active']) {
      const own = await t.api.get(`/v0.9/customers?limit=100${query}`);
      expect(own.body.data.map((c: { id: string }) => c.id), `owner, ${query}`).toContain(customer.id);
      const res = await intruder.get(`/v0.9/customers?limit=100${query}`);
      expect(res.status, `${name}, ${query}`).toBe(200);
      expect(res.body.data.map((c: { id: string }) => c.id), `${name}, ${query}`).not.toContain(customer.id);
    }
  });

  it('may use the same externalId, which is unique only within its own project and mode', async () => {
    const intruder = intruders[name];
    const own = await intruder.post('/v0.9/customers', {});
    const renamed = await intruder.patch(`/v0.9/customers/${own.body.id}`, { externalId: 'tenant-a-user' });
    expect(renamed.status).toBe(200);
    // Within the intruder's own scope the value is now taken: the 200 above was scoping, not a missing check.
    const duplicate = await intruder.post('/v0.9/customers', { externalId: 'tenant-a-user' });
    expect([duplicate.status, duplicate.body.error?.code]).toEqual([409, 'conflict']);
    expect((await t.api.get(`/v0.9/customers/${customer.id}`)).body.externalId).toBe('tenant-a-user');
  });
});

describe('ids of the wrong prefix or shape', () => {
  /** Ids of every wrong shape for the op's id parameters (built on a real id's suffix, so only the shape is wrong). */
  function badIds(op: Operation): [string, string][] {
    const suffix = customer.id.slice(customer.id.indexOf('_') + 1);
    const own = op.params.map((p) => PREFIXES[p.resource!]);
    const prefix = own[0]!;
    return [
      ...ALL_PREFIXES.filter((p) => !own.includes(p)).map((p): [string, string] => [`the ${p}_ prefix`, `${p}_${suffix}`]),
      ['the project id itself', t.api.credentials.projectId],
      ['an uppercase id', customer.id.toUpperCase()],
      ['an uppercase suffix', `${prefix}_${suffix.toUpperCase()}`],
      ['an uppercase prefix', `${prefix.toUpperCase()}_${suffix}`],
      ['no prefix', suffix],
      ['no separator', `${prefix}${suffix}`],
      ['a dash separator', `${prefix}-${suffix}`],
      ['a short suffix', `${prefix}_${suffix.slice(1)}`],
      ['a long suffix', `${prefix}_${suffix}0`],
      ['a letter outside Crockford base32', `${prefix}_${suffix.slice(0, -1)}u`],
      ['a suffix over 128 bits', `${prefix}_8${suffix.slice(1)}`],
      ['a well-formed id that was never issued', `${prefix}_01jd8x3mc6eskv4hzbmt9hdby7`],
      ['a bare UUID', '0190b7c2-3c5e-7c1a-9f7e-1a2b3c4d5e6f'],
      ['an id over 64 characters', `${prefix}_${suffix}${'0'.repeat(40)}`],
      ['an id over 100 characters', `${prefix}_${'0'.repeat(300)}`],
      ['SQL', `${prefix}_' or '1'='1`],
      ['a NUL byte', `${prefix}_${suffix}\u0000`],
      ['unicode', `${prefix}_${suffix.slice(0, -1)}é`],
      ['whitespace', ` ${customer.id} `],
    ];
  }

  it('answers 404 not_found on every id route', async () => {
    // Collected rather than thrown at the first, so one run shows every shape that leaks.
    const wrong: string[] = [];
    for (const op of ops) {
      for (const [name, bad] of badIds(op)) {
        const what = `${op.method} ${op.template} with ${name}`;
        // The contract checker throws on an undocumented status; that is one more wrong answer.
        const res = await send(t.api, op, urlFor(op, ids, bad)).catch((e: Error) => e);
        if (res instanceof Error) wrong.push(`${what}: ${res.message.split('\n')[0]!.replace(/^\S+ \S+ /, '')}`);
        else if (res.status !== 404 || res.body?.error?.code !== 'not_found') wrong.push(`${what}: ${res.status} ${res.raw.slice(0, 120)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it('left the customer untouched by all those PATCHes', async () => {
    const res = await t.api.get(`/v0.9/customers/${customer.id}`);
    expect(res.body).toEqual(customer);
  });
});
