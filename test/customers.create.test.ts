import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectNoPii, fullCustomer, PII, PROFILE } from './support/fixtures.js';
import { startTestApp, type TestApp } from './support/harness.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

async function countCustomers(): Promise<number> {
  const row = await t.db.selectFrom('customers').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

describe('POST /v0.9/customers', () => {
  it('creates a customer from an empty body (the quickstart) with the default endorsements', async () => {
    const res = await t.api.post('/v0.9/customers', {});
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      object: 'customer',
      type: 'individual',
      firstName: null,
      middleName: null,
      lastName: null,
      email: null,
      phone: null,
      nationality: null,
      externalId: null,
      status: 'active',
      signedAgreement: false,
      signedAgreementAt: null,
      wallets: [],
      metadata: {},
    });
    expect(res.body.id).toMatch(/^cst_[0-9a-z]{26}$/);
    // cryptoCustody and usd are requested; usd brings basic; the sandbox grants them at once.
    expect(res.body.endorsements.map((e: { name: string; status: string }) => [e.name, e.status])).toEqual([
      ['basic', 'ACTIVE'],
      ['cryptoCustody', 'ACTIVE'],
      ['usd', 'ACTIVE'],
    ]);
    expect(res.body.createdAt).toBe(res.body.updatedAt);
  });

  it('round-trips every writable field and returns none of the PII', async () => {
    const res = await t.api.post('/v0.9/customers', fullCustomer());
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ ...PROFILE, signedAgreement: true, metadata: { plan: 'gold' } });
    expect(Date.parse(res.body.signedAgreementAt)).toBeGreaterThan(Date.now() - 60_000);
    for (const field of ['birthDate', 'residentialAddress', 'ipAddress', 'identifyingInformation']) expect(res.body).not.toHaveProperty(field);
    expectNoPii(res.raw);

    const fetched = await t.api.get(`/v0.9/customers/${res.body.id}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body).toEqual(res.body);
    expectNoPii(fetched.raw);
  });

  it('stores the PII encrypted: no plaintext in the row, nor in the event', async () => {
    const res = await t.api.post('/v0.9/customers', fullCustomer({ externalId: 'enc-check' }));
    const raw = await t.pool.query('select c::text as row from customers c where id = $1', [res.body.id]);
    expectNoPii(raw.rows[0].row);
    const events = await t.pool.query(`select type, data::text as data from events where data->'object'->>'id' = $1 order by type`, [res.body.id]);
    expect(events.rows[0].type).toBe('customer.created');
    for (const event of events.rows) expectNoPii(event.data);
    expect(JSON.parse(events.rows[0].data).object).toEqual(res.body);
  });

  it('requests only what is named, plus what usd brings', async () => {
    const custody = await t.api.post('/v0.9/customers', { endorsements: ['cryptoCustody'] });
    expect(custody.body.endorsements.map((e: { name: string }) => e.name)).toEqual(['cryptoCustody']);
    const usd = await t.api.post('/v0.9/customers', { endorsements: ['usd'] });
    expect(usd.body.endorsements.map((e: { name: string }) => e.name)).toEqual(['basic', 'usd']);
    const none = await t.api.post('/v0.9/customers', { endorsements: [] });
    expect(none.body.endorsements).toEqual([]);
  });

  it('refuses a duplicate externalId with 409 conflict and creates nothing', async () => {
    const first = await t.api.post('/v0.9/customers', { externalId: 'dup-1' });
    expect(first.status).toBe(201);
    const before = await countCustomers();
    const second = await t.api.post('/v0.9/customers', { externalId: 'dup-1' });
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe('conflict');
    expect(await countCustomers()).toBe(before);
  });

  it('trims strings', async () => {
    const res = await t.api.post('/v0.9/customers', { firstName: '  Ann  ', email: ' ann@example.com ' });
    expect(res.status).toBe(201);
    expect(res.body.firstName).toBe('Ann');
    expect(res.body.email).toBe('ann@example.com');
  });

  const invalid: [string, Record<string, unknown>, string][] = [
    ['an unknown field', { favouriteColour: 'blue' }, '/favouriteColour'],
    ['a read-only id', { id: 'cst_01jd8x3mc6eskv4hzbmt9hdby7' }, '/id'],
    ['a read-only status', { status: 'inactive' }, '/status'],
    ['a read-only signedAgreementAt', { signedAgreementAt: '2026-01-01T00:00:00Z' }, '/signedAgreementAt'],
    ['a read-only wallets', { wallets: [] }, '/wallets'],
    ['a read-only createdAt', { createdAt: '2026-01-01T00:00:00Z' }, '/createdAt'],
    ['a type other than individual', { type: 'business' }, '/type'],
    ['a bad email', { email: 'not-an-email' }, '/email'],
    ['a phone not in E.164', { phone: '212-555-1234' }, '/phone'],
    ['an unassigned country', { nationality: 'XX' }, '/nationality'],
    ['a lowercase country', { nationality: 'us' }, '/nationality'],
    ['a future birthDate', { birthDate: '2999-01-01' }, '/birthDate'],
    ['an impossible birthDate', { birthDate: '1990-02-30' }, '/birthDate'],
    ['a bad ipAddress', { ipAddress: '300.1.1.1' }, '/ipAddress'],
    ['a number where a string goes', { firstName: 42 }, '/firstName'],
    ['a string where a boolean goes', { signedAgreement: 'true' }, '/signedAgreement'],
    ['a string over 255 characters', { lastName: 'x'.repeat(256) }, '/lastName'],
    ['an empty string', { firstName: '   ' }, '/firstName'],
    ['an unknown endorsement', { endorsements: ['gold'] }, '/endorsements/0'],
    ['an address without a city', { residentialAddress: { line1: 'a', country: 'US' } }, '/residentialAddress/city'],
    ['an unknown document type', { identifyingInformation: [{ type: 'library', issuingCountry: 'US', number: '1' }] }, '/identifyingInformation/0/type'],
    ['a metadata value that is not a string', { metadata: { a: 1 } }, '/metadata/a'],
    ['a metadata key over 40 characters', { metadata: { ['k'.repeat(41)]: 'v' } }, '/metadata'],
    ['more than 50 metadata keys', { metadata: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v'])) }, '/metadata'],
    ['a metadata value over 500 characters', { metadata: { a: 'v'.repeat(501) } }, '/metadata/a'],
  ];

  it.each(invalid)('refuses %s with 400 validation_error and writes nothing', async (_name, body, path) => {
    const before = await countCustomers();
    const res = await t.api.post('/v0.9/customers', body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_error');
    expect(res.body.error.details?.[0]?.path).toBe(path);
    expect(await countCustomers()).toBe(before);
  });

  it('never echoes a PII value in a validation error', async () => {
    const res = await t.api.post('/v0.9/customers', { ...PII, birthDate: '2999-01-01', ipAddress: PII.ipAddress });
    expect(res.status).toBe(400);
    expectNoPii(res.raw);
  });
});
