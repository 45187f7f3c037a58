import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp, type ApiClient } from './support/harness.js';

let t: TestApp;
let api: ApiClient;
let ids: string[]; // newest first
beforeAll(async () => {
  t = await startTestApp();
  api = await t.client('sandbox'); // a project of its own, so counts are exact
  ids = [];
  for (let i = 0; i < 7; i++) {
    const res = await api.post('/v0.9/customers', { externalId: `list-${i}`, email: `c${i % 2}@example.com` });
    ids.unshift(res.body.id);
  }
});
afterAll(() => t.close());

const idsOf = (body: { data: { id: string }[] }) => body.data.map((c) => c.id);

describe('GET /v0.9/customers', () => {
  it('lists newest first with the default limit', async () => {
    const res = await api.get('/v0.9/customers');
    expect(res.status).toBe(200);
    expect(idsOf(res.body)).toEqual(ids);
    expect(res.body).toMatchObject({ hasMore: false, nextCursor: null, previousCursor: null, cursor: null });
  });

  it('walks forward with nextCursor and back with previousCursor', async () => {
    const first = await api.get('/v0.9/customers?limit=3');
    expect(idsOf(first.body)).toEqual(ids.slice(0, 3));
    expect(first.body.hasMore).toBe(true);
    expect(first.body.cursor).toBe(first.body.nextCursor);
    expect(first.body.previousCursor).toBeNull();

    const second = await api.get(`/v0.9/customers?limit=3&startingAfter=${first.body.nextCursor}`);
    expect(idsOf(second.body)).toEqual(ids.slice(3, 6));
    const third = await api.get(`/v0.9/customers?limit=3&cursor=${second.body.nextCursor}`);
    expect(idsOf(third.body)).toEqual(ids.slice(6));
    expect(third.body).toMatchObject({ hasMore: false, nextCursor: null });

    const back = await api.get(`/v0.9/customers?limit=3&endingBefore=${third.body.previousCursor}`);
    expect(idsOf(back.body)).toEqual(ids.slice(3, 6));
    expect(back.body.hasMore).toBe(true);
    const front = await api.get(`/v0.9/customers?limit=3&endingBefore=${back.body.previousCursor}`);
    expect(idsOf(front.body)).toEqual(ids.slice(0, 3));
    expect(front.body).toMatchObject({ hasMore: false, previousCursor: null });
    expect(front.body.nextCursor).not.toBeNull();
  });

  it('filters by email, externalId and status', async () => {
    const byEmail = await api.get('/v0.9/customers?email=c0@example.com');
    expect(idsOf(byEmail.body)).toEqual(ids.filter((_, i) => (6 - i) % 2 === 0));
    const byExternal = await api.get('/v0.9/customers?externalId=list-3');
    expect(idsOf(byExternal.body)).toEqual([ids[3]]);
    expect(idsOf((await api.get('/v0.9/customers?status=active')).body)).toEqual(ids);
    expect(idsOf((await api.get('/v0.9/customers?status=inactive')).body)).toEqual([]);
  });

  it('bounds createdAfter and createdBefore inclusively', async () => {
    const all = (await api.get('/v0.9/customers')).body.data;
    const middle = all[3];
    const after = await api.get(`/v0.9/customers?createdAfter=${encodeURIComponent(middle.createdAt)}`);
    expect(idsOf(after.body)).toContain(middle.id);
    expect(idsOf(after.body)).not.toContain(all[6].id);
    const before = await api.get(`/v0.9/customers?createdBefore=${encodeURIComponent(middle.createdAt)}`);
    expect(idsOf(before.body)).toContain(middle.id);
    expect(idsOf(before.body)).not.toContain(all[0].id);
  });

  const bad: [string, string][] = [
    ['limit 0', 'limit=0'],
    ['limit 101', 'limit=101'],
    ['a non-numeric limit', 'limit=ten'],
    ['a garbage cursor', 'startingAfter=garbage'],
    ['a cursor of the wrong resource', `startingAfter=${Buffer.from(JSON.stringify(['2026-01-01T00:00:00.000Z', 'wlt_01jd8x3mc6eskv4hzbmt9hdby7'])).toString('base64url')}`],
    ['both directions', 'startingAfter=a&endingBefore=b'],
    ['an unknown status', 'status=deleted'],
    ['a bad createdAfter', 'createdAfter=yesterday'],
    ['an unknown parameter', 'colour=blue'],
  ];

  it('refuses cursor together with startingAfter, of which it is an alias', async () => {
    const { nextCursor } = (await api.get('/v0.9/customers?limit=1')).body;
    const res = await api.get(`/v0.9/customers?cursor=${nextCursor}&startingAfter=${nextCursor}`);
    expect(res.status).toBe(400);
    expect(res.body.error.details[0].path).toBe('/query/cursor');
  });

  it.each(bad)('refuses %s with 400 validation_error', async (_name, query) => {
    const res = await api.get(`/v0.9/customers?${query}`);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_error');
  });
});
