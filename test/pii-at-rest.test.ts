import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { createMasterKeyring, fingerprint, type MasterKeyring } from '../src/crypto/master-keys.js';
import { openCustody } from '../src/custody/custody.js';
import { resealUnderPrimary } from '../src/crypto/rotate-master-key.js';
import type { Mode } from '../src/domain/scope.js';
import { rotateSigningKey } from '../src/modules/auth/signing-keys.js';
import { openDataKey, openPii, type CustomerPii } from '../src/modules/customers/customer-pii.js';
import { expectNoPii, fullCustomer, PII, PII_VALUES } from './support/fixtures.js';
import { startTestApp, type TestApp } from './support/harness.js';

/** Every row of every table, as text; bytea columns appear in hex, so hex is searched too. */
async function wholeDatabase(t: TestApp): Promise<string> {
  const tables = await t.pool.query<{ name: string }>(`select table_name as name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`);
  expect(tables.rows.map((r) => r.name)).toEqual(expect.arrayContaining(['customers', 'events', 'idempotency_keys', 'api_keys', 'signing_keys', 'sealed_secrets']));
  const parts: string[] = [];
  for (const { name } of tables.rows) {
    const rows = await t.pool.query<{ row: string }>(`select t::text as row from "${name}" t`);
    parts.push(...rows.rows.map((r) => `${name}: ${r.row}`));
  }
  return parts.join('\n');
}

function expectAbsent(haystack: string, values: string[]): void {
  const leaked = values.filter((v) => haystack.includes(v) || haystack.includes(Buffer.from(v).toString('hex')));
  expect(leaked).toEqual([]);
}

async function customerRow(t: TestApp, id: string) {
  return t.db.selectFrom('customers').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

/** Opens a customer's PII the way the server does, so a test can prove what is really stored. */
async function storedPii(t: TestApp, keyring: MasterKeyring, id: string): Promise<CustomerPii> {
  const row = await customerRow(t, id);
  const scope = { projectId: row.project_id, mode: row.mode as Mode };
  const dataKey = openDataKey(keyring, scope, id, { sealed: row.data_key_sealed, masterKeyId: row.master_key_id });
  return openPii(dataKey, scope, id, row.pii_sealed);
}

describe('PII at rest', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('keeps every PII value, and every secret, out of the raw bytes of every table', async () => {
    const created = await t.api.post('/v0.9/customers', fullCustomer({ externalId: 'at-rest' }));
    expect(created.status).toBe(201);
    // PII arriving by PATCH takes a different code path from creation.
    const patched = await t.api.patch(`/v0.9/customers/${created.body.id}`, { ipAddress: '198.51.100.201', identifyingInformation: [{ type: 'passport', issuingCountry: 'GB', number: 'PIIPASS998877' }] });
    expect(patched.status).toBe(200);
    const bare = await t.api.post('/v0.9/customers', {});
    const late = await t.api.patch(`/v0.9/customers/${bare.body.id}`, { birthDate: '1961-11-05', residentialAddress: { line1: 'Piilate 12 Road', city: 'Piilate City', country: 'FR', zipCode: '75001' } });
    expect(late.status).toBe(200);

    const dump = await wholeDatabase(t);
    expect(dump).toContain(created.body.id);
    expectAbsent(dump, [...PII_VALUES, '198.51.100.201', 'PIIPASS998877', '1961-11-05', 'Piilate 12 Road', 'Piilate City']);
    // The master key never reaches the database; the API secret only as an HMAC.
    expectAbsent(dump, [t.config.masterKey!, Buffer.from(t.config.masterKey!, 'base64').toString('hex'), t.api.credentials.apiSecret]);
    expectAbsent(dump, ['PRIVATE KEY']);

    // The check above would pass trivially if PII were dropped: prove it is stored, sealed.
    const pii = await storedPii(t, t.keyring, created.body.id);
    expect(pii).toEqual({
      birthDate: PII.birthDate,
      ipAddress: '198.51.100.201',
      residentialAddress: PII.residentialAddress,
      identifyingInformation: [...PII.identifyingInformation, { type: 'passport', issuingCountry: 'GB', number: 'PIIPASS998877' }],
    });
    expect(await storedPii(t, t.keyring, bare.body.id)).toEqual({
      birthDate: '1961-11-05',
      residentialAddress: { line1: 'Piilate 12 Road', city: 'Piilate City', country: 'FR', zipCode: '75001' },
    });
  });

  it('gives each customer its own data key', async () => {
    const a = await t.api.post('/v0.9/customers', fullCustomer({ externalId: 'own-key-a' }));
    const b = await t.api.post('/v0.9/customers', fullCustomer({ externalId: 'own-key-b' }));
    const keyOf = async (id: string) => {
      const row = await customerRow(t, id);
      return openDataKey(t.keyring, { projectId: row.project_id, mode: row.mode as Mode }, id, { sealed: row.data_key_sealed, masterKeyId: row.master_key_id });
    };
    expect((await keyOf(a.body.id)).equals(await keyOf(b.body.id))).toBe(false);
  });

  describe('a sealed value copied onto another customer', () => {
    // The victim's own PII, distinct from the donor's, so a mix-up would be visible.
    const victimPii = { birthDate: '1970-07-07', ipAddress: '192.0.2.70' };

    async function pair() {
      const donor = await t.api.post('/v0.9/customers', fullCustomer({ externalId: `donor-${randomBytes(4).toString('hex')}` }));
      const victim = await t.api.post('/v0.9/customers', victimPii);
      expect(donor.status).toBe(201);
      expect(victim.status).toBe(201);
      return { donor: donor.body.id as string, victim: victim.body.id as string };
    }

    async function expectRefusedWithoutMixing(donor: string, victim: string) {
      const donorBefore = await customerRow(t, donor);
      const victimBefore = await customerRow(t, victim);
      const idempotencyKey = `tampered-${victim}`;
      const res = await t.api.patch(`/v0.9/customers/${victim}`, { ipAddress: '192.0.2.99' }, { idempotencyKey });
      // The row no longer decrypts under its own identity: an integrity failure of stored
      // data, which the client cannot fix, so a generic 500 (spec 1.8) and nothing written.
      expect(res.status).toBe(500);
      expect(res.body.error.code).toBe('internal_error');
      expect(res.body.error).not.toHaveProperty('details');
      expect(res.raw).not.toMatch(/decrypt|auth|tag|cipher|sealed|data.?key|master/i);
      expectNoPii(res.raw);
      expect(res.raw).not.toContain('1970-07-07');
      // The cause is for the log, under the request id.
      expect(t.logs()).toContain(res.body.error.requestId);

      // A 5xx releases the key (spec 1.6), so a retry after repair would run rather than replay the 500.
      expect(await t.db.selectFrom('idempotency_keys').select('key').where('key', '=', idempotencyKey).executeTakeFirst()).toBeUndefined();
      expect(await customerRow(t, victim)).toEqual(victimBefore);
      expect(await customerRow(t, donor)).toEqual(donorBefore);
      // The donor is unharmed and still holds only its own PII.
      expect((await storedPii(t, t.keyring, donor)).birthDate).toBe(PII.birthDate);
      expect((await t.api.patch(`/v0.9/customers/${donor}`, { ipAddress: '192.0.2.100' })).status).toBe(200);
      expect((await storedPii(t, t.keyring, donor)).ipAddress).toBe('192.0.2.100');
    }

    it('refuses a PII PATCH when both the data key and the PII were copied', async () => {
      const { donor, victim } = await pair();
      const source = await customerRow(t, donor);
      await t.db
        .updateTable('customers')
        .set({ pii_sealed: source.pii_sealed, data_key_sealed: source.data_key_sealed, master_key_id: source.master_key_id })
        .where('id', '=', victim)
        .execute();
      await expectRefusedWithoutMixing(donor, victim);
    });

    it('refuses a PII PATCH when only the PII was copied', async () => {
      const { donor, victim } = await pair();
      const source = await customerRow(t, donor);
      await t.db.updateTable('customers').set({ pii_sealed: source.pii_sealed }).where('id', '=', victim).execute();
      await expectRefusedWithoutMixing(donor, victim);
    });

    it('refuses a PII PATCH when the data key comes from another project', async () => {
      const other = await t.client('sandbox');
      const donor = await other.post('/v0.9/customers', fullCustomer({ externalId: `donor-${randomBytes(4).toString('hex')}` }));
      const victim = await t.api.post('/v0.9/customers', victimPii);
      const source = await customerRow(t, donor.body.id);
      await t.db
        .updateTable('customers')
        .set({ pii_sealed: source.pii_sealed, data_key_sealed: source.data_key_sealed, master_key_id: source.master_key_id })
        .where('id', '=', victim.body.id)
        .execute();
      const res = await t.api.patch(`/v0.9/customers/${victim.body.id}`, { ipAddress: '192.0.2.99' });
      expect(res.status).toBe(500);
      expect(res.body.error.code).toBe('internal_error');
      expectNoPii(res.raw);
    });

    it('still serves the non-PII view and changes no check reads, but refuses to re-screen a new name', async () => {
      const { donor, victim } = await pair();
      const source = await customerRow(t, donor);
      await t.db.updateTable('customers').set({ pii_sealed: source.pii_sealed, data_key_sealed: source.data_key_sealed }).where('id', '=', victim).execute();
      const got = await t.api.get(`/v0.9/customers/${victim}`);
      expect(got.status).toBe(200);
      expectNoPii(got.raw);
      const tagged = await t.api.patch(`/v0.9/customers/${victim}`, { metadata: { tier: 'gold' } });
      expect(tagged.status).toBe(200);
      expect(tagged.body.metadata).toEqual({ tier: 'gold' });
      expectNoPii(tagged.raw);
      // lastName is what the sandbox's checks read: re-evaluating needs the sealed data, which
      // no longer opens, so the change fails closed rather than skipping the checks.
      const renamed = await t.api.patch(`/v0.9/customers/${victim}`, { lastName: 'Renamed' });
      expect(renamed.status).toBe(500);
      expect(renamed.body.error.code).toBe('internal_error');
      expectNoPii(renamed.raw);
      expect((await t.api.get(`/v0.9/customers/${victim}`)).body.lastName).not.toBe('Renamed');
    });
  });
});

describe('master-key rotation', () => {
  let t: TestApp;
  let fresh: FastifyInstance | undefined;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await fresh?.close();
    await t.close();
  });

  it('re-seals every data key, signing key and server secret under the new key, which alone then serves old data', async () => {
    const oldKey = Buffer.from(t.config.masterKey!, 'base64');
    const newKey = randomBytes(32);
    const newOnly = createMasterKeyring([newKey]);

    const live = await t.createKey('live');
    const liveClient = await t.client('live', live.projectId);
    const sandboxWithPii = (await t.api.post('/v0.9/customers', fullCustomer())).body.id as string;
    const sandboxBare = (await t.api.post('/v0.9/customers', {})).body.id as string;
    const liveWithPii = (await liveClient.post('/v0.9/customers', fullCustomer())).body.id as string;
    // A retired signing key still verifies old tokens, so it must be re-sealed too.
    await rotateSigningKey(t.db, t.keyring);
    // A webhook's secrets (two, mid-rotation) sign deliveries: re-sealed too.
    const webhook = await t.api.post('/v0.9/webhooks', { url: 'https://receiver.public.test/hook' });
    expect(webhook.status).toBe(201);
    expect((await t.api.post(`/v0.9/webhooks/${webhook.body.id}/rotate-secret`, undefined)).status).toBe(200);

    const before = {
      customers: await t.db.selectFrom('customers').select(['id', 'data_key_sealed', 'master_key_id']).execute(),
      signing: await t.db.selectFrom('signing_keys').select(['kid', 'private_sealed', 'master_key_id']).execute(),
      secrets: await t.db.selectFrom('sealed_secrets').select(['name', 'sealed', 'master_key_id']).execute(),
      webhookSecrets: await t.db.selectFrom('webhook_secrets').select(['seq', 'sealed', 'master_key_id']).execute(),
    };
    expect(before.webhookSecrets).toHaveLength(2);
    expect(before.customers).toHaveLength(3);
    expect(before.signing).toHaveLength(2);
    expect(before.secrets.length).toBeGreaterThanOrEqual(1);
    for (const row of [...before.customers, ...before.signing, ...before.secrets, ...before.webhookSecrets]) expect(row.master_key_id).toBe(fingerprint(oldKey));
    // Control: before the rotation the new key alone opens nothing, so what follows is the rotation's doing.
    await expect(storedPii(t, newOnly, sandboxWithPii)).rejects.toThrow();

    const report = await resealUnderPrimary(t.db, createMasterKeyring([newKey, oldKey]));
    expect(report).toEqual({ secrets: before.secrets.length, signingKeys: 2, customerDataKeys: 3, webhookSecrets: 2 });

    const after = {
      customers: await t.db.selectFrom('customers').select(['id', 'data_key_sealed', 'master_key_id']).execute(),
      signing: await t.db.selectFrom('signing_keys').select(['kid', 'private_sealed', 'master_key_id']).execute(),
      secrets: await t.db.selectFrom('sealed_secrets').select(['name', 'sealed', 'master_key_id']).execute(),
      webhookSecrets: await t.db.selectFrom('webhook_secrets').select(['seq', 'sealed', 'master_key_id']).execute(),
    };
    for (const row of [...after.customers, ...after.signing, ...after.secrets, ...after.webhookSecrets]) expect(row.master_key_id).toBe(fingerprint(newKey));
    for (const row of after.webhookSecrets) expect(row.sealed.equals(before.webhookSecrets.find((b) => b.seq === row.seq)!.sealed)).toBe(false);
    for (const row of after.customers) expect(row.data_key_sealed.equals(before.customers.find((b) => b.id === row.id)!.data_key_sealed)).toBe(false);
    for (const row of after.signing) expect(row.private_sealed.equals(before.signing.find((b) => b.kid === row.kid)!.private_sealed)).toBe(false);
    for (const row of after.secrets) expect(row.sealed.equals(before.secrets.find((b) => b.name === row.name)!.sealed)).toBe(false);

    // Interrupted or repeated, the rotation is a no-op once done.
    expect(await resealUnderPrimary(t.db, createMasterKeyring([newKey, oldKey]))).toEqual({ secrets: 0, signingKeys: 0, customerDataKeys: 0, webhookSecrets: 0 });
    expect(await storedPii(t, newOnly, sandboxWithPii)).toEqual({
      birthDate: PII.birthDate,
      ipAddress: PII.ipAddress,
      residentialAddress: PII.residentialAddress,
      identifyingInformation: PII.identifyingInformation,
    });

    // A server restarted with only the new key: the old key is gone for good.
    fresh = await buildApp({
      config: { ...t.config, masterKey: newKey.toString('base64'), previousMasterKeys: undefined },
      db: t.db,
      keyring: newOnly,
      // The custody seed was re-sealed too: it opens under the new key alone.
      custody: await openCustody({ db: t.db, keyring: newOnly }),
      fastify: { logger: false },
    });
    const tokenOf = async (credentials: { apiKey: string; apiSecret: string }) => {
      const res = await fresh!.inject({ method: 'POST', url: '/v0.9/auth/token', payload: { apiKey: credentials.apiKey, apiSecret: credentials.apiSecret } });
      expect(res.statusCode).toBe(200);
      return (res.json() as { accessToken: string }).accessToken;
    };
    const patch = (token: string, id: string, body: unknown) =>
      fresh!.inject({ method: 'PATCH', url: `/v0.9/customers/${id}`, headers: { authorization: `Bearer ${token}` }, payload: body as object });

    const sandboxToken = await tokenOf(t.api.credentials);
    const liveToken = await tokenOf(live);

    const r1 = await patch(sandboxToken, sandboxWithPii, { ipAddress: '198.51.100.44' });
    expect(r1.statusCode).toBe(200);
    expectNoPii(r1.body);
    const r2 = await patch(sandboxToken, sandboxBare, { birthDate: '1966-06-06' });
    expect(r2.statusCode).toBe(200);
    const r3 = await patch(liveToken, liveWithPii, { identifyingInformation: [{ type: 'ssn', issuingCountry: 'US', number: '111-22-3333' }] });
    expect(r3.statusCode).toBe(200);

    expect(await storedPii(t, newOnly, sandboxWithPii)).toMatchObject({ birthDate: PII.birthDate, ipAddress: '198.51.100.44', residentialAddress: PII.residentialAddress });
    expect(await storedPii(t, newOnly, sandboxBare)).toEqual({ birthDate: '1966-06-06' });
    expect((await storedPii(t, newOnly, liveWithPii)).identifyingInformation).toEqual([{ type: 'ssn', issuingCountry: 'US', number: '111-22-3333' }]);

    const created = await fresh.inject({ method: 'POST', url: '/v0.9/customers', headers: { authorization: `Bearer ${sandboxToken}`, 'idempotency-key': 'after-rotation' }, payload: fullCustomer({ externalId: 'after-rotation' }) });
    expect(created.statusCode).toBe(201);
    expect((await customerRow(t, (created.json() as { id: string }).id)).master_key_id).toBe(fingerprint(newKey));
  });
});
