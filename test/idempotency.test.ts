import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type ApiClient, type TestApp } from './support/harness.js';

let t: TestApp;
let api: ApiClient;
beforeAll(async () => {
  t = await startTestApp();
  api = await t.client('sandbox');
});
afterAll(() => t.close());

async function customerCount(projectId = api.credentials.projectId): Promise<number> {
  const row = await t.pool.query('select count(*)::int as n from customers where project_id = $1', [projectId]);
  return row.rows[0].n;
}

async function eventCount(): Promise<number> {
  const row = await t.pool.query('select count(*)::int as n from events where project_id = $1', [api.credentials.projectId]);
  return row.rows[0].n;
}

describe('Idempotency-Key (spec 1.6)', () => {
  it('is required on POST: missing or empty is 400 idempotency_key_missing and writes nothing', async () => {
    const before = await customerCount();
    for (const key of [null, '', '   ']) {
      const res = await api.post('/v0.9/customers', {}, { idempotencyKey: key, ...(key !== null ? { headers: { 'idempotency-key': key } } : {}) });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('idempotency_key_missing');
    }
    expect(await customerCount()).toBe(before);
  });

  it('refuses a key longer than 255 characters', async () => {
    const res = await api.post('/v0.9/customers', {}, { idempotencyKey: 'k'.repeat(256) });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_error');
  });

  it('replays the first response byte for byte, with Idempotent-Replayed, and no second effect', async () => {
    const body = { firstName: 'Replay', metadata: { n: '1' } };
    const first = await api.post('/v0.9/customers', body, { idempotencyKey: 'replay-1' });
    expect(first.status).toBe(201);
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    const customers = await customerCount();
    const events = await eventCount();
    const second = await api.post('/v0.9/customers', body, { idempotencyKey: 'replay-1' });
    expect(second.status).toBe(201);
    expect(second.raw).toBe(first.raw);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.headers['x-request-id']).not.toBe(first.headers['x-request-id']);
    expect(await customerCount()).toBe(customers);
    expect(await eventCount()).toBe(events);
  });

  it('answers 422 idempotency_key_reused for the same key with another body or path', async () => {
    await api.post('/v0.9/customers', { firstName: 'A' }, { idempotencyKey: 'reuse-1' });
    const before = await customerCount();
    const otherBody = await api.post('/v0.9/customers', { firstName: 'B' }, { idempotencyKey: 'reuse-1' });
    expect(otherBody.status).toBe(422);
    expect(otherBody.body.error.code).toBe('idempotency_key_reused');
    const { body: customer } = await api.get(`/v0.9/customers?limit=1`);
    const otherPath = await api.patch(`/v0.9/customers/${customer.data[0].id}`, { firstName: 'A' }, { idempotencyKey: 'reuse-1' });
    expect(otherPath.status).toBe(422);
    expect(await customerCount()).toBe(before);
  });

  it('scopes keys to the project and mode', async () => {
    const other = await t.client('sandbox');
    const live = await t.client('live', api.credentials.projectId);
    const mine = await api.post('/v0.9/customers', { firstName: 'Scoped' }, { idempotencyKey: 'scoped-1' });
    const theirs = await other.post('/v0.9/customers', { firstName: 'Scoped' }, { idempotencyKey: 'scoped-1' });
    const liveOne = await live.post('/v0.9/customers', { firstName: 'Scoped' }, { idempotencyKey: 'scoped-1' });
    expect([mine.status, theirs.status, liveOne.status]).toEqual([201, 201, 201]);
    expect(new Set([mine.body.id, theirs.body.id, liveOne.body.id]).size).toBe(3);
    expect(theirs.headers['idempotent-replayed']).toBeUndefined();
  });

  it('creates exactly 20 customers from 200 concurrent POSTs with 20 keys', async () => {
    const project = await t.client('sandbox');
    const keys = Array.from({ length: 20 }, (_, i) => `burst-${i}`);
    const responses = await Promise.all(
      Array.from({ length: 200 }, (_, i) => project.post('/v0.9/customers', { externalId: `burst-${i % 20}` }, { idempotencyKey: keys[i % 20] })),
    );
    expect(await customerCount(project.credentials.projectId)).toBe(20);
    for (const res of responses) {
      expect([201, 409]).toContain(res.status);
      if (res.status === 409) {
        expect(res.body.error.code).toBe('idempotency_key_in_use');
        expect(res.headers['retry-after']).toBe('1');
      }
    }
    // Every 201 for one key is the same response, byte for byte.
    for (const key of keys) {
      const created = responses.filter((r, i) => keys[i % 20] === key && r.status === 201).map((r) => r.raw);
      expect(created.length).toBeGreaterThan(0);
      expect(new Set(created).size).toBe(1);
    }
    const replays = await Promise.all(keys.map((key, i) => project.post('/v0.9/customers', { externalId: `burst-${i}` }, { idempotencyKey: key })));
    expect(replays.every((r) => r.status === 201 && r.headers['idempotent-replayed'] === 'true')).toBe(true);
  });

  it('replays a stored answer to every one of many retries arriving together (none is told the key is in use)', async () => {
    const first = await api.post('/v0.9/customers', { firstName: 'Stored' }, { idempotencyKey: 'stored-then-burst' });
    const retries = await Promise.all(Array.from({ length: 30 }, () => api.post('/v0.9/customers', { firstName: 'Stored' }, { idempotencyKey: 'stored-then-burst' })));
    expect(retries.map((r) => r.status)).toEqual(retries.map(() => 201));
    for (const res of retries) {
      expect(res.raw).toBe(first.raw);
      expect(res.headers['idempotent-replayed']).toBe('true');
    }
    const reused = await Promise.all(Array.from({ length: 10 }, () => api.post('/v0.9/customers', { firstName: 'Other' }, { idempotencyKey: 'stored-then-burst' })));
    expect(reused.map((r) => r.body.error.code)).toEqual(reused.map(() => 'idempotency_key_reused'));
  });

  it('answers 409 idempotency_key_in_use while the first request is still running', async () => {
    const table = await holdCustomersTable();
    const first = api.post('/v0.9/customers', { firstName: 'Slow' }, { idempotencyKey: 'in-flight-1' });
    await table.someoneWaits();
    const second = await api.post('/v0.9/customers', { firstName: 'Slow' }, { idempotencyKey: 'in-flight-1' });
    expect(second.status).toBe(409);
    expect(second.body.error.code).toBe('idempotency_key_in_use');
    expect(second.headers['retry-after']).toBe('1');
    await table.release();
    expect((await first).status).toBe(201);
  });

  it('frees the key of a request that fails with nothing stored, at once: a retry runs without waiting', async () => {
    const table = await holdCustomersTable();
    const first = api.post('/v0.9/customers', { firstName: 'Cut off' }, { idempotencyKey: 'cut-off-1' });
    await table.someoneWaits();
    // The first request's connection dies mid-request, as with a crashed process.
    await t.pool.query(`select pg_terminate_backend(pid) from pg_locks where relation = 'customers'::regclass and not granted`);
    const failed = await first;
    await table.release();
    expect(failed.body.error.code).toBe('service_unavailable');
    const before = await customerCount();
    const retry = await api.post('/v0.9/customers', { firstName: 'Cut off' }, { idempotencyKey: 'cut-off-1' });
    expect(retry.status).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBeUndefined();
    expect(await customerCount()).toBe(before + 1);
  });

  it('gives way to an answer stored for its key while it ran: its own effect rolls back and the stored answer is replayed', async () => {
    const body = { firstName: 'Second' };
    // The same request under another key: its stored hash is this request's.
    const probe = await api.post('/v0.9/customers', body, { idempotencyKey: 'overtaken-probe' });
    const hash = (await t.pool.query(`select request_hash from idempotency_keys where key = 'overtaken-probe'`)).rows[0].request_hash;
    const table = await holdCustomersTable();
    const before = await customerCount();
    const running = api.post('/v0.9/customers', body, { idempotencyKey: 'overtaken-1' });
    await table.someoneWaits();
    // Another request's answer for the same key and request, committed after this one looked.
    const stored = probe.raw;
    await t.pool.query(
      `insert into idempotency_keys (project_id, mode, key, request_hash, state, response_status, response_body, expires_at)
       values ($1, 'sandbox', 'overtaken-1', $2, 'done', 201, $3, now() + interval '1 hour')`,
      [api.credentials.projectId, hash, stored],
    );
    await table.release();
    const res = await running;
    expect(res.status).toBe(201);
    expect(res.raw).toBe(stored);
    expect(res.headers['idempotent-replayed']).toBe('true');
    expect(await customerCount()).toBe(before);
  });

  it('stores nothing for a request refused by validation', async () => {
    const refused = await api.post('/v0.9/customers', { email: 'nope' }, { idempotencyKey: 'invalid-first' });
    expect(refused.status).toBe(400);
    const fixed = await api.post('/v0.9/customers', { email: 'yes@example.com' }, { idempotencyKey: 'invalid-first' });
    expect(fixed.status).toBe(201);
  });

  it('stores and replays a business refusal (409 conflict)', async () => {
    await api.post('/v0.9/customers', { externalId: 'conflict-replay' });
    const refused = await api.post('/v0.9/customers', { externalId: 'conflict-replay' }, { idempotencyKey: 'conflict-1' });
    expect(refused.status).toBe(409);
    const replayed = await api.post('/v0.9/customers', { externalId: 'conflict-replay' }, { idempotencyKey: 'conflict-1' });
    expect(replayed.status).toBe(409);
    expect(replayed.raw).toBe(refused.raw);
    expect(replayed.headers['idempotent-replayed']).toBe('true');
  });

  it('releases the key after a 5xx so the retry executes', async () => {
    await t.pool.query(`create function fail_insert() returns trigger language plpgsql as $$ begin raise exception 'injected failure'; end $$`);
    await t.pool.query(`create trigger fail_insert before insert on customers for each row execute function fail_insert()`);
    const failed = await api.post('/v0.9/customers', { firstName: 'Retry' }, { idempotencyKey: 'after-500' });
    await t.pool.query('drop trigger fail_insert on customers');
    await t.pool.query('drop function fail_insert');
    expect(failed.status).toBe(500);
    expect(failed.body.error).toMatchObject({ code: 'internal_error' });
    expect(failed.raw).not.toContain('injected failure');
    const retried = await api.post('/v0.9/customers', { firstName: 'Retry' }, { idempotencyKey: 'after-500' });
    expect(retried.status).toBe(201);
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
  });

  it('lets a retry take over a key whose holder died, and treats an expired key as new', async () => {
    const first = await api.post('/v0.9/customers', { firstName: 'Crashed' }, { idempotencyKey: 'stale-1' });
    // A claim as servers of an earlier version wrote it, by a process that died mid-request: running, its lease lapsed.
    await t.pool.query(`update idempotency_keys set state = 'running', locked_until = now() - interval '1 second', response_body = null, response_status = null where key = 'stale-1'`);
    const retry = await api.post('/v0.9/customers', { firstName: 'Crashed' }, { idempotencyKey: 'stale-1' });
    expect(retry.status).toBe(201);
    expect(retry.body.id).not.toBe(first.body.id);

    await t.pool.query(`update idempotency_keys set expires_at = now() - interval '1 second' where key = 'stale-1'`);
    const afterExpiry = await api.post('/v0.9/customers', { firstName: 'Other body is fine now' }, { idempotencyKey: 'stale-1' });
    expect(afterExpiry.status).toBe(201);
  });

  it('is optional on PATCH and replays when given', async () => {
    const { body: customer } = await api.post('/v0.9/customers', {});
    const plain = await api.patch(`/v0.9/customers/${customer.id}`, { lastName: 'One' });
    expect(plain.status).toBe(200);
    const keyed = await api.patch(`/v0.9/customers/${customer.id}`, { lastName: 'Two' }, { idempotencyKey: 'patch-1' });
    await api.patch(`/v0.9/customers/${customer.id}`, { lastName: 'Three' });
    const replay = await api.patch(`/v0.9/customers/${customer.id}`, { lastName: 'Two' }, { idempotencyKey: 'patch-1' });
    expect(replay.raw).toBe(keyed.raw);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    expect((await api.get(`/v0.9/customers/${customer.id}`)).body.lastName).toBe('Three');
  });
});

/** Locks the customers table, so that a request creating a customer blocks inside its transaction (holding its key). */
async function holdCustomersTable() {
  const blocker = await t.pool.connect();
  await blocker.query('begin');
  await blocker.query('lock table customers in exclusive mode');
  return {
    someoneWaits: () => waitFor(async () => (await t.pool.query(`select 1 from pg_locks where relation = 'customers'::regclass and not granted`)).rowCount === 1),
    async release() {
      await blocker.query('rollback');
      blocker.release();
    },
  };
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
