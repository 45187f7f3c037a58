import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDataKey, openPii } from '../src/modules/customers/customer-pii.js';
import { expectNoPii, fullCustomer, PII } from './support/fixtures.js';
import { startTestApp, type TestApp } from './support/harness.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

async function createCustomer(body: Record<string, unknown> = {}) {
  const res = await t.api.post('/v0.9/customers', body);
  expect(res.status).toBe(201);
  return res.body;
}

/** The customer's own events; endorsement events have their own tests (endorsements.*.test.ts). */
async function eventsFor(id: string): Promise<string[]> {
  const rows = await t.pool.query(
    `select type from events where data->'object'->>'id' = $1 and type in ('customer.created', 'customer.updated') order by created_at, id`,
    [id],
  );
  return rows.rows.map((r) => r.type);
}

/** The stored write-only fields, decrypted the way the server does. */
async function storedPii(id: string) {
  const row = await t.db.selectFrom('customers').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const scope = { projectId: row.project_id, mode: row.mode };
  const dataKey = openDataKey(t.keyring, scope, id, { sealed: row.data_key_sealed, masterKeyId: row.master_key_id });
  return openPii(dataKey, scope, id, row.pii_sealed);
}

describe('PATCH /v0.9/customers/{id}', () => {
  it('changes only the fields sent and moves updatedAt', async () => {
    const before = await createCustomer(fullCustomer({ externalId: 'partial-1' }));
    const res = await t.api.patch(`/v0.9/customers/${before.id}`, { firstName: 'Janet' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...before, firstName: 'Janet', updatedAt: res.body.updatedAt });
    expect(Date.parse(res.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(before.updatedAt));
    expect(await eventsFor(before.id)).toEqual(['customer.created', 'customer.updated']);
  });

  it('round-trips every writable profile field of the seed page', async () => {
    const { id } = await createCustomer();
    const patch = {
      firstName: 'Jane',
      middleName: 'Q',
      lastName: 'Smith',
      email: 'jane.smith@example.com',
      phone: '+442071838750',
      nationality: 'GB',
      externalId: 'seed-page-1',
      signedAgreement: true,
      metadata: { tier: 'gold' },
    };
    const res = await t.api.patch(`/v0.9/customers/${id}`, { ...patch, ...PII });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ ...patch, metadata: { tier: 'gold' } });
    expectNoPii(res.raw);
    const fetched = await t.api.get(`/v0.9/customers/${id}`);
    expect(fetched.body).toEqual(res.body);
  });

  it('does nothing, and emits nothing, for a PATCH that changes nothing', async () => {
    const before = await createCustomer({ firstName: 'Same', metadata: { a: '1' } });
    const res = await t.api.patch(`/v0.9/customers/${before.id}`, { firstName: 'Same', metadata: { a: '1' } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(before);
    const empty = await t.api.patch(`/v0.9/customers/${before.id}`, {});
    expect(empty.body).toEqual(before);
    expect(await eventsFor(before.id)).toEqual(['customer.created']);
  });

  describe('signedAgreement is one-way', () => {
    it('sets signedAgreementAt when it first becomes true and never moves it', async () => {
      const { id } = await createCustomer();
      const signed = await t.api.patch(`/v0.9/customers/${id}`, { signedAgreement: true });
      expect(signed.body.signedAgreement).toBe(true);
      expect(signed.body.signedAgreementAt).toEqual(expect.any(String));
      const again = await t.api.patch(`/v0.9/customers/${id}`, { signedAgreement: true });
      expect(again.body.signedAgreementAt).toBe(signed.body.signedAgreementAt);
      expect(again.body.updatedAt).toBe(signed.body.updatedAt);
    });

    it('refuses false once true with 422 signed_agreement_irreversible, changing nothing', async () => {
      const before = await createCustomer({ signedAgreement: true });
      const res = await t.api.patch(`/v0.9/customers/${before.id}`, { signedAgreement: false, firstName: 'Changed' });
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe('signed_agreement_irreversible');
      expect((await t.api.get(`/v0.9/customers/${before.id}`)).body).toEqual(before);
    });

    it('accepts false while still unsigned, as a no-op', async () => {
      const before = await createCustomer();
      const res = await t.api.patch(`/v0.9/customers/${before.id}`, { signedAgreement: false });
      expect(res.status).toBe(200);
      expect(res.body).toEqual(before);
    });

    it('answers a body that is invalid once merged with 400, before the 422 of signedAgreement false', async () => {
      // Found by the fuzz suite: validation comes before business rules, whatever the order of fields.
      const metadata = Object.fromEntries(Array.from({ length: 45 }, (_, i) => [`k${i}`, 'v']));
      const before = await createCustomer({ signedAgreement: true, metadata });
      const more = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`new${i}`, 'v']));
      const res = await t.api.patch(`/v0.9/customers/${before.id}`, { metadata: more, signedAgreement: false });
      expect([res.status, res.body.error.code]).toEqual([400, 'validation_error']);
      expect((await t.api.get(`/v0.9/customers/${before.id}`)).body).toEqual(before);
    });
  });

  it('appends identifyingInformation, replacing an entry of the same type and issuingCountry', async () => {
    const { id } = await createCustomer({ identifyingInformation: [{ type: 'ssn', issuingCountry: 'US', number: '111-11-1111' }] });
    await t.api.patch(`/v0.9/customers/${id}`, {
      identifyingInformation: [
        { type: 'passport', issuingCountry: 'GB', number: 'P1234567', expiresOn: '2030-01-01' },
        { type: 'ssn', issuingCountry: 'US', number: '222-22-2222' },
      ],
    });
    await t.api.patch(`/v0.9/customers/${id}`, { identifyingInformation: [{ type: 'passport', issuingCountry: 'FR', number: 'F999' }] });
    expect((await storedPii(id)).identifyingInformation).toEqual([
      { type: 'ssn', issuingCountry: 'US', number: '222-22-2222' },
      { type: 'passport', issuingCountry: 'GB', number: 'P1234567', expiresOn: '2030-01-01' },
      { type: 'passport', issuingCountry: 'FR', number: 'F999' },
    ]);
  });

  it('replaces the other PII fields and keeps those not sent', async () => {
    const { id } = await createCustomer(PII);
    await t.api.patch(`/v0.9/customers/${id}`, { ipAddress: '2001:db8::1', residentialAddress: { line1: '1 New St', city: 'Paris', country: 'FR' } });
    const stored = await storedPii(id);
    expect(stored).toMatchObject({
      birthDate: PII.birthDate,
      ipAddress: '2001:db8::1',
      residentialAddress: { line1: '1 New St', city: 'Paris', country: 'FR' },
      identifyingInformation: PII.identifyingInformation,
    });
  });

  it('only adds endorsements; usd brings basic', async () => {
    const { id } = await createCustomer({ endorsements: ['cryptoCustody'] });
    const res = await t.api.patch(`/v0.9/customers/${id}`, { endorsements: ['usd'] });
    expect(res.body.endorsements.map((e: { name: string }) => e.name)).toEqual(['basic', 'cryptoCustody', 'usd']);
    const again = await t.api.patch(`/v0.9/customers/${id}`, { endorsements: [] });
    expect(again.body.endorsements.map((e: { name: string }) => e.name)).toEqual(['basic', 'cryptoCustody', 'usd']);
  });

  it('merges metadata: given keys are set, null removes a key', async () => {
    const { id } = await createCustomer({ metadata: { a: '1', b: '2' } });
    const res = await t.api.patch(`/v0.9/customers/${id}`, { metadata: { b: null, c: '3' } });
    expect(res.body.metadata).toEqual({ a: '1', c: '3' });
  });

  it('refuses a merge that would exceed 50 metadata keys', async () => {
    const fifty = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, 'v']));
    const before = await createCustomer({ metadata: fifty });
    const res = await t.api.patch(`/v0.9/customers/${before.id}`, { metadata: { extra: 'v' } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_error');
    expect((await t.api.get(`/v0.9/customers/${before.id}`)).body).toEqual(before);
    const swap = await t.api.patch(`/v0.9/customers/${before.id}`, { metadata: { k0: null, extra: 'v' } });
    expect(swap.status).toBe(200);
  });

  it('refuses a duplicate externalId with 409 conflict', async () => {
    await createCustomer({ externalId: 'taken' });
    const other = await createCustomer({ externalId: 'mine' });
    const res = await t.api.patch(`/v0.9/customers/${other.id}`, { externalId: 'taken' });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('conflict');
    expect((await t.api.get(`/v0.9/customers/${other.id}`)).body.externalId).toBe('mine');
  });

  const refused: [string, Record<string, unknown>][] = [
    ['type', { type: 'individual' }],
    ['id', { id: 'cst_01jd8x3mc6eskv4hzbmt9hdby7' }],
    ['object', { object: 'customer' }],
    ['status', { status: 'inactive' }],
    ['signedAgreementAt', { signedAgreementAt: '2026-03-20T14:15:22Z' }],
    ['wallets', { wallets: [] }],
    ['createdAt', { createdAt: '2026-03-20T14:15:22Z' }],
    ['updatedAt', { updatedAt: '2026-03-20T14:15:22Z' }],
    ['an unknown field', { nickname: 'JJ' }],
  ];

  it.each(refused)('refuses %s with 400 and changes nothing, even beside a valid field', async (_name, body) => {
    const before = await createCustomer();
    const res = await t.api.patch(`/v0.9/customers/${before.id}`, { firstName: 'Sneaky', ...body });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_error');
    expect((await t.api.get(`/v0.9/customers/${before.id}`)).body).toEqual(before);
  });

  it('loses no update when many PATCHes of one customer race', async () => {
    const { id } = await createCustomer();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => t.api.patch(`/v0.9/customers/${id}`, { metadata: { [`k${i}`]: String(i) } })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    const final = await t.api.get(`/v0.9/customers/${id}`);
    expect(Object.keys(final.body.metadata).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `k${i}`).sort());
    // One event per applied change, each holding the customer as that change left it.
    const events = await t.pool.query(`select data from events where type = 'customer.updated' and data->'object'->>'id' = $1`, [id]);
    expect(events.rows).toHaveLength(20);
    expect(new Set(events.rows.map((r) => Object.keys(r.data.object.metadata).length))).toEqual(new Set(Array.from({ length: 20 }, (_, i) => i + 1)));
  });

  it('answers 404 for an unknown or malformed id', async () => {
    for (const id of ['cst_01jd8x3mc6eskv4hzbmt9hdby7', 'cst_nope', 'wlt_01jd8x3mc6eskv4hzbmt9hdby7', 'x'.repeat(64)]) {
      const res = await t.api.patch(`/v0.9/customers/${id}`, { firstName: 'A' });
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
  });

  it('never echoes PII sent in a refused PATCH', async () => {
    const { id } = await createCustomer();
    const res = await t.api.patch(`/v0.9/customers/${id}`, { ...PII, residentialAddress: { ...PII.residentialAddress, country: 'ZZ' } });
    expect(res.status).toBe(400);
    expectNoPii(res.raw);
  });
});
