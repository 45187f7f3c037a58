import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import type { Database } from '../src/db/schema.js';
import { startTcpProxy } from './support/tcp-proxy.js';
import { startTestApp, type TestApp } from './support/harness.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

describe('cross-cutting HTTP behaviour', () => {
  it('puts an X-Request-Id on every response, success or failure, and the same id in error bodies', async () => {
    const ok = await t.api.get('/v0.9/customers');
    const missing = await t.api.get('/v0.9/nothing-here');
    const unauth = await t.anonymous.get('/v0.9/customers');
    for (const res of [ok, missing, unauth]) expect(res.headers['x-request-id']).toMatch(/^req_[0-9a-z]{26}$/);
    expect(missing.body.error.requestId).toBe(missing.headers['x-request-id']);
    expect(unauth.body.error.requestId).toBe(unauth.headers['x-request-id']);
  });

  it('ignores a client-sent X-Request-Id', async () => {
    const res = await t.api.get('/v0.9/customers', { headers: { 'x-request-id': 'attacker-chosen' } });
    expect(res.headers['x-request-id']).not.toBe('attacker-chosen');
  });

  it('answers an unknown route with 404 not_found in the envelope', async () => {
    for (const url of ['/v0.9/nothing-here', '/nothing', '/v0.8/customers']) {
      const res = await t.api.get(url);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
  });

  it('answers a known path with the wrong method with 405 and Allow', async () => {
    const res = await t.api.request('DELETE', '/v0.9/customers/cst_01jd8x3mc6eskv4hzbmt9hdby7');
    expect(res.status).toBe(405);
    expect(res.body.error.code).toBe('method_not_allowed');
    expect(res.headers.allow).toBe('GET, HEAD, PATCH');
    const put = await t.api.request('PUT', '/v0.9/customers');
    expect(put.status).toBe(405);
    expect(put.headers.allow).toContain('POST');
  });

  it('refuses a body over 1 MiB with 413 payload_too_large', async () => {
    const res = await t.api.request('POST', '/v0.9/customers', {
      payload: JSON.stringify({ metadata: { a: 'x'.repeat(1024 * 1024) } }),
      headers: { 'content-type': 'application/json' },
      idempotencyKey: 'too-large',
    });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
  });

  it('refuses a body that is not JSON with 415 unsupported_media_type', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
      const res = await t.api.request('POST', '/v0.9/customers', { payload: 'firstName=Jane', headers: { 'content-type': type }, idempotencyKey: `media-${type}` });
      expect(res.status).toBe(415);
      expect(res.body.error.code).toBe('unsupported_media_type');
    }
  });

  it('refuses malformed JSON and an empty JSON body with 400 validation_error', async () => {
    for (const payload of ['{"firstName": ', '{firstName: "x"}', '[1,2', '']) {
      const res = await t.api.request('POST', '/v0.9/customers', { payload, headers: { 'content-type': 'application/json' }, idempotencyKey: 'bad-json' });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation_error');
    }
  });

  it('refuses a JSON body that is not an object', async () => {
    for (const body of [[], 'text', 42, null]) {
      const res = await t.api.post('/v0.9/customers', body);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('validation_error');
    }
  });

  it('refuses prototype-poisoning keys', async () => {
    const res = await t.api.request('POST', '/v0.9/customers', {
      payload: '{"metadata": {"__proto__": {"polluted": "yes"}}}',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('forbidden key');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('checks credentials before the body: an unauthenticated bad body is 401, not 400', async () => {
    const res = await t.anonymous.request('POST', '/v0.9/customers', { payload: '{oops', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(401);
  });

  it('serves the health probes without credentials', async () => {
    expect((await t.anonymous.get('/healthz')).body).toEqual({ status: 'ok' });
    expect((await t.anonymous.get('/readyz')).body).toEqual({ status: 'ok' });
  });
});

describe('when the database goes away', () => {
  it('answers 503 service_unavailable with Retry-After, and recovers by itself when it returns', async () => {
    const target = new URL(t.databaseUrl);
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
    const viaProxy = new URL(t.databaseUrl);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    viaProxy.searchParams.delete('host'); // the embedded cluster's socket, which would bypass the proxy
    const pool = new pg.Pool({ connectionString: viaProxy.toString(), max: 4, connectionTimeoutMillis: 2_000 });
    pool.on('error', () => undefined);
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    const app = await buildApp({ config: t.config, db, keyring: t.keyring, custody: t.custody, fastify: { logger: false } });
    try {
      const token = (await app.inject({ method: 'POST', url: '/v0.9/auth/token', payload: { apiKey: t.api.credentials.apiKey, apiSecret: t.api.credentials.apiSecret } })).json().accessToken;
      const auth = { authorization: `Bearer ${token}` };
      expect((await app.inject({ method: 'GET', url: '/v0.9/customers', headers: auth })).statusCode).toBe(200);

      await proxy.cut();
      await new Promise((r) => setTimeout(r, 2_100)); // let the cached key status lapse, so the DB is consulted
      for (const url of ['/readyz', '/v0.9/customers']) {
        const res = await app.inject({ method: 'GET', url, headers: auth });
        expect(res.statusCode).toBe(503);
        expect(res.json().error.code).toBe('service_unavailable');
        expect(res.headers['retry-after']).toBe('1');
      }
      expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);

      await proxy.restore();
      expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
      expect((await app.inject({ method: 'GET', url: '/v0.9/customers', headers: auth })).statusCode).toBe(200);
    } finally {
      await app.close();
      await db.destroy();
      await proxy.close();
    }
  });
});

describe('text that cannot be stored as sent', () => {
  const cases: [string, string, string][] = [
    ['a NUL in a value', '{"firstName":"a\\u0000b"}', '/firstName'],
    ['a lone surrogate in a value', '{"lastName":"x\\udfffy"}', '/lastName'],
    ['a NUL in a metadata key', '{"metadata":{"k\\u0000":"v"}}', '/metadata'],
    ['a lone surrogate in a metadata value', '{"metadata":{"plan":"\\ud800"}}', '/metadata/plan'],
  ];

  it.each(cases)('refuses %s with 400 validation_error at its path', async (_name, payload, path) => {
    const res = await t.api.request('POST', '/v0.9/customers', { payload, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_error');
    expect(res.body.error.details[0].path).toBe(path);
  });

  it('keeps a well-formed astral character as sent', async () => {
    const res = await t.api.post('/v0.9/customers', { firstName: 'Zoë 𝒜' });
    expect(res.status).toBe(201);
    expect(res.body.firstName).toBe('Zoë 𝒜');
  });
});
