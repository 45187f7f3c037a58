import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, exportSPKI, generateKeyPair, importJWK, jwtVerify, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { createKeysService } from '../src/modules/auth/keys.service.js';
import { loadCurrentSigningKey, rotateSigningKey } from '../src/modules/auth/signing-keys.js';
import { startTestApp, type ApiResponse, type TestApp } from './support/harness.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

interface Jwks {
  keys: (JWK & { kid: string })[];
}

const now = () => Math.floor(Date.now() / 1000);

function issue(apiKey: string, apiSecret: string): Promise<ApiResponse> {
  return t.anonymous.post('/v0.9/auth/token', { apiKey, apiSecret });
}

async function tokenFor(credentials: { apiKey: string; apiSecret: string }): Promise<string> {
  const res = await issue(credentials.apiKey, credentials.apiSecret);
  expect(res.status).toBe(200);
  return res.body.accessToken as string;
}

function listWith(authorization: string | undefined): Promise<ApiResponse> {
  return t.anonymous.get('/v0.9/customers', { headers: authorization === undefined ? {} : { authorization } });
}

async function jwks(app: FastifyInstance = t.app): Promise<Jwks> {
  const res = await app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
  expect(res.statusCode).toBe(200);
  return res.json() as Jwks;
}

async function countCustomers(): Promise<number> {
  const row = await t.db.selectFrom('customers').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

async function countIdempotencyKeys(): Promise<number> {
  const row = await t.db.selectFrom('idempotency_keys').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

async function countEvents(): Promise<number> {
  const row = await t.db.selectFrom('events').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

function expectError(res: ApiResponse, status: number, code: string): void {
  expect(res.status).toBe(status);
  expect(res.body.error.code).toBe(code);
  expect(res.body.error.requestId).toMatch(/^req_/);
  expect(res.headers['x-request-id']).toBe(res.body.error.requestId);
}

/** Claims exactly as a genuine token of this server carries them, for a test to spoil one at a time. */
function genuineClaims(credentials: { projectId: string; apiKey: string }): JWTPayload {
  const iat = now();
  return { iss: t.config.tokenIssuer, aud: 'oms-api', sub: credentials.apiKey, prj: credentials.projectId, mode: 'sandbox', jti: randomUUID(), iat, exp: iat + 3600 };
}

async function sign(claims: JWTPayload, key: CryptoKey | Uint8Array, header: { alg: string; kid: string }): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ ...header, typ: 'JWT' }).sign(key);
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('POST /v0.9/auth/token', () => {
  it('issues an RS256 JWT with the documented claims, verifiable with the published JWKS', async () => {
    const credentials = t.api.credentials;
    const before = now();
    const res = await issue(credentials.apiKey, credentials.apiSecret);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['accessToken', 'expiresAt', 'expiresIn', 'tokenType']);
    expect(res.body.tokenType).toBe('bearer');
    expect(res.body.expiresIn).toBe(3600);

    const token = res.body.accessToken as string;
    const header = decodeProtectedHeader(token);
    expect(header.alg).toBe('RS256');
    expect(header.kid).toEqual(expect.any(String));

    const published = await jwks();
    expect(published.keys.map((k) => k.kid)).toContain(header.kid);
    for (const key of published.keys) {
      expect(key).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
      // A JWKS must never carry the private half of an RSA key.
      for (const privateMember of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(key).not.toHaveProperty(privateMember);
    }

    const claims = decodeJwt(token);
    expect(typeof claims.aud === 'string' || Array.isArray(claims.aud)).toBe(true);
    const { payload } = await jwtVerify(token, createLocalJWKSet(published), {
      algorithms: ['RS256'],
      issuer: t.config.tokenIssuer,
      audience: claims.aud as string | string[],
    });
    expect(payload).toMatchObject({ sub: credentials.apiKey, prj: credentials.projectId, mode: 'sandbox' });
    expect(payload.jti).toEqual(expect.any(String));
    expect(payload.iat).toBeGreaterThanOrEqual(before);
    expect(payload.iat).toBeLessThanOrEqual(now());
    expect(payload.exp).toBe(payload.iat! + 3600);
    expect(res.body.expiresAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/);
    expect(Date.parse(res.body.expiresAt)).toBe(payload.exp! * 1000);

    const again = decodeJwt(await tokenFor(credentials));
    expect(again.jti).not.toBe(payload.jti);

    expect((await listWith(`Bearer ${token}`)).status).toBe(200);
    // The scheme name is case-insensitive (RFC 9110).
    expect((await listWith(`bearer ${token}`)).status).toBe(200);
    expect((await listWith(`BEARER ${token}`)).status).toBe(200);
  });

  it('puts the live mode into a live key’s token', async () => {
    const live = await t.createKey('live');
    expect(live.apiKey).toMatch(/^sk_live_/);
    const claims = decodeJwt(await tokenFor(live));
    expect(claims).toMatchObject({ sub: live.apiKey, prj: live.projectId, mode: 'live' });
  });

  it('answers a wrong key, a wrong secret, a revoked key and a malformed key with one uniform 401 invalid_credentials', async () => {
    const good = await t.createKey('sandbox');
    const revoked = await t.createKey('sandbox');
    await createKeysService(t.db, t.keyring, '').revoke(revoked.apiKey);

    const attempts: [string, string, string][] = [
      ['unknown key', `sk_sdbx_${'0'.repeat(40)}`, good.apiSecret],
      ['wrong secret', good.apiKey, `${good.apiSecret}x`],
      ['revoked key', revoked.apiKey, revoked.apiSecret],
      ['malformed key', 'not-an-api-key', good.apiSecret],
      ['another mode’s key format', good.apiKey.replace('sk_sdbx_', 'sk_live_'), good.apiSecret],
    ];
    const bodies: unknown[] = [];
    for (const [name, apiKey, apiSecret] of attempts) {
      const res = await issue(apiKey, apiSecret);
      expect(res.status, name).toBe(401);
      expectError(res, 401, 'invalid_credentials');
      expect(res.body.error).not.toHaveProperty('details');
      expect(res.raw).not.toContain(apiSecret);
      const { requestId: _ignored, ...rest } = res.body.error;
      bodies.push({ ...rest, contentType: res.headers['content-type'] });
    }
    // Any difference in the answer would tell an attacker which part was wrong.
    for (const body of bodies) expect(body).toEqual(bodies[0]);

    expect((await issue(good.apiKey, good.apiSecret)).status).toBe(200);
  });

  it('blocks an apiKey with 429 rate_limited after 10 failed attempts in a minute, even with the right secret', async () => {
    const victim = await t.createKey('sandbox');
    const bystander = await t.createKey('sandbox');
    for (let i = 0; i < 10; i++) {
      const res = await issue(victim.apiKey, `wrong-${i}`);
      expectError(res, 401, 'invalid_credentials');
    }
    const blocked = await issue(victim.apiKey, victim.apiSecret);
    expectError(blocked, 429, 'rate_limited');
    const retryAfter = Number(blocked.headers['retry-after']);
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(blocked.raw).not.toContain('accessToken');

    // The block is per apiKey, not global.
    expect((await issue(bystander.apiKey, bystander.apiSecret)).status).toBe(200);
  });

  it('counts fewer than 10 failures as no reason to block', async () => {
    const key = await t.createKey('sandbox');
    for (let i = 0; i < 9; i++) expectError(await issue(key.apiKey, `wrong-${i}`), 401, 'invalid_credentials');
    expect((await issue(key.apiKey, key.apiSecret)).status).toBe(200);
  });
});

describe('bearer token verification', () => {
  let credentials: { projectId: string; apiKey: string; apiSecret: string };
  let genuine: string;
  let signingKey: { kid: string; privateKey: CryptoKey };
  let publicPem: string;

  beforeAll(async () => {
    credentials = await t.createKey('sandbox');
    genuine = await tokenFor(credentials);
    signingKey = await loadCurrentSigningKey(t.db, t.keyring);
    const jwk = (await jwks()).keys.find((k) => k.kid === signingKey.kid)!;
    publicPem = await exportSPKI((await importJWK(jwk, 'RS256', { extractable: true })) as CryptoKey);
  });

  // Several of these are signed with the server's own private key, so that exactly one thing
  // is wrong with each token and the test proves that one check.
  const badTokens: [string, () => Promise<string | undefined>][] = [
    ['no Authorization header', async () => undefined],
    ['an empty bearer', async () => 'Bearer '],
    ['garbage', async () => 'Bearer not-a-token'],
    ['three garbage segments', async () => 'Bearer aaa.bbb.ccc'],
    ['another scheme', async () => `Basic ${Buffer.from(`${credentials.apiKey}:${credentials.apiSecret}`).toString('base64')}`],
    ['a token without the scheme', async () => genuine],
    ['an expired token', async () => {
      const iat = now() - 7200;
      return `Bearer ${await sign({ ...genuineClaims(credentials), iat, exp: iat + 3600 }, signingKey.privateKey, { alg: 'RS256', kid: signingKey.kid })}`;
    }],
    ['a forged signature (payload changed, signature kept)', async () => {
      const [h, , s] = genuine.split('.');
      const other = await t.createKey('sandbox');
      return `Bearer ${h}.${b64url({ ...decodeJwt(genuine), prj: other.projectId })}.${s}`;
    }],
    ['a truncated signature', async () => `Bearer ${genuine.slice(0, -4)}`],
    ['alg none', async () => {
      return `Bearer ${b64url({ alg: 'none', typ: 'JWT', kid: signingKey.kid })}.${b64url(genuineClaims(credentials))}.`;
    }],
    ['HS256 signed with the public key as HMAC secret', async () => {
      return `Bearer ${await sign(genuineClaims(credentials), new TextEncoder().encode(publicPem), { alg: 'HS256', kid: signingKey.kid })}`;
    }],
    ['a wrong issuer', async () => {
      return `Bearer ${await sign({ ...genuineClaims(credentials), iss: 'someone-else' }, signingKey.privateKey, { alg: 'RS256', kid: signingKey.kid })}`;
    }],
    ['a wrong audience', async () => {
      return `Bearer ${await sign({ ...genuineClaims(credentials), aud: 'another-api' }, signingKey.privateKey, { alg: 'RS256', kid: signingKey.kid })}`;
    }],
    ['no jti', async () => {
      const { jti: _drop, ...claims } = genuineClaims(credentials);
      return `Bearer ${await sign(claims, signingKey.privateKey, { alg: 'RS256', kid: signingKey.kid })}`;
    }],
    ['an unknown apiKey as subject', async () => {
      return `Bearer ${await sign({ ...genuineClaims(credentials), sub: `sk_sdbx_${'1'.repeat(40)}` }, signingKey.privateKey, { alg: 'RS256', kid: signingKey.kid })}`;
    }],
    ['another server’s key, claiming this server’s kid', async () => {
      const { privateKey } = await generateKeyPair('RS256');
      return `Bearer ${await sign(genuineClaims(credentials), privateKey, { alg: 'RS256', kid: signingKey.kid })}`;
    }],
    ['another server’s key with its own kid', async () => {
      const { privateKey } = await generateKeyPair('RS256');
      return `Bearer ${await sign(genuineClaims(credentials), privateKey, { alg: 'RS256', kid: 'sig_elsewhere' })}`;
    }],
  ];

  it('accepts the genuine token and the control tokens signed like it (so each refusal below is about one defect)', async () => {
    expect((await listWith(`Bearer ${genuine}`)).status).toBe(200);
    const control = await sign(genuineClaims(credentials), signingKey.privateKey, { alg: 'RS256', kid: signingKey.kid });
    expect((await listWith(`Bearer ${control}`)).status).toBe(200);
  });

  it.each(badTokens)('refuses %s with 401 unauthorized', async (_name, make) => {
    const res = await listWith(await make());
    expectError(res, 401, 'unauthorized');
    expect(res.raw).not.toContain('"data"');
  });

  it.each(badTokens)('writes nothing for a POST with %s', async (_name, make) => {
    const authorization = await make();
    const before = { customers: await countCustomers(), keys: await countIdempotencyKeys(), events: await countEvents() };
    const res = await t.anonymous.post('/v0.9/customers', { externalId: `bad-token-${randomUUID()}` }, { headers: authorization === undefined ? {} : { authorization } });
    expectError(res, 401, 'unauthorized');
    expect({ customers: await countCustomers(), keys: await countIdempotencyKeys(), events: await countEvents() }).toEqual(before);
  });

  it('stops honouring a revoked key’s existing token within 5 seconds', async () => {
    const key = await t.createKey('sandbox');
    const token = await tokenFor(key);
    expect((await listWith(`Bearer ${token}`)).status).toBe(200);
    await createKeysService(t.db, t.keyring, '').revoke(key.apiKey);
    const revokedAt = Date.now();
    let last: ApiResponse;
    do {
      last = await listWith(`Bearer ${token}`);
      if (last.status === 401) break;
      await new Promise((r) => setTimeout(r, 100));
    } while (Date.now() - revokedAt < 5_000);
    expectError(last, 401, 'unauthorized');
    expect(Date.now() - revokedAt).toBeLessThan(5_000);
    expectError(await issue(key.apiKey, key.apiSecret), 401, 'invalid_credentials');
  });
});

describe('modes and projects', () => {
  it('keeps sandbox and live apart: an object made in one mode is 404 in the other', async () => {
    const projectId = t.api.credentials.projectId;
    const sandbox = t.api;
    const live = await t.client('live', projectId);

    const inSandbox = await sandbox.post('/v0.9/customers', { externalId: 'mode-sandbox' });
    expect(inSandbox.status).toBe(201);
    const inLive = await live.post('/v0.9/customers', { externalId: 'mode-live' });
    expect(inLive.status).toBe(201);

    expectError(await live.get(`/v0.9/customers/${inSandbox.body.id}`), 404, 'not_found');
    expectError(await sandbox.get(`/v0.9/customers/${inLive.body.id}`), 404, 'not_found');
    expectError(await live.patch(`/v0.9/customers/${inSandbox.body.id}`, { firstName: 'X' }), 404, 'not_found');
    expectError(await sandbox.patch(`/v0.9/customers/${inLive.body.id}`, { firstName: 'X' }), 404, 'not_found');

    const liveIds = (await live.get('/v0.9/customers?limit=100')).body.data.map((c: { id: string }) => c.id);
    const sandboxIds = (await sandbox.get('/v0.9/customers?limit=100')).body.data.map((c: { id: string }) => c.id);
    expect(liveIds).toContain(inLive.body.id);
    expect(liveIds).not.toContain(inSandbox.body.id);
    expect(sandboxIds).toContain(inSandbox.body.id);
    expect(sandboxIds).not.toContain(inLive.body.id);

    // The same externalId may exist once per mode: the modes are separate universes.
    expect((await live.post('/v0.9/customers', { externalId: 'mode-sandbox' })).status).toBe(201);

    // Untouched by the refused PATCHes.
    expect((await sandbox.get(`/v0.9/customers/${inSandbox.body.id}`)).body.firstName).toBeNull();
  });

  it('answers another project’s object with 404', async () => {
    const other = await t.client('sandbox');
    const mine = await t.api.post('/v0.9/customers', {});
    expectError(await other.get(`/v0.9/customers/${mine.body.id}`), 404, 'not_found');
  });
});

describe('signing-key rotation', () => {
  it('keeps old tokens valid, publishes both keys, and signs new tokens with the new kid', async () => {
    const credentials = await t.createKey('sandbox');
    const oldToken = await tokenFor(credentials);
    const oldKid = decodeProtectedHeader(oldToken).kid;

    const newKid = await rotateSigningKey(t.db, t.keyring);
    expect(newKid).not.toBe(oldKid);

    expect((await listWith(`Bearer ${oldToken}`)).status).toBe(200);
    const published = (await jwks()).keys.map((k) => k.kid);
    expect(published).toEqual(expect.arrayContaining([oldKid, newKid]));

    // The running app may keep signing with its cached key for up to 60 s (a rotation made by
    // another process is picked up lazily), so its kid may be either one; both must verify.
    const fromRunningApp = await tokenFor(credentials);
    expect([oldKid, newKid]).toContain(decodeProtectedHeader(fromRunningApp).kid);
    expect((await listWith(`Bearer ${fromRunningApp}`)).status).toBe(200);

    // A process started after the rotation has no cache, so it must sign with the new kid:
    // that is the observable proof that rotation changes the signing key.
    const fresh = await buildApp({ config: t.config, db: t.db, keyring: t.keyring, custody: t.custody, fastify: { logger: false } });
    try {
      const issued = await fresh.inject({ method: 'POST', url: '/v0.9/auth/token', payload: { apiKey: credentials.apiKey, apiSecret: credentials.apiSecret } });
      expect(issued.statusCode).toBe(200);
      const newToken = (issued.json() as { accessToken: string }).accessToken;
      expect(decodeProtectedHeader(newToken).kid).toBe(newKid);

      await jwtVerify(newToken, createLocalJWKSet(await jwks(fresh)), { algorithms: ['RS256'], issuer: t.config.tokenIssuer });
      await jwtVerify(oldToken, createLocalJWKSet(await jwks(fresh)), { algorithms: ['RS256'], issuer: t.config.tokenIssuer });

      const onFresh = await fresh.inject({ method: 'GET', url: '/v0.9/customers', headers: { authorization: `Bearer ${oldToken}` } });
      expect(onFresh.statusCode).toBe(200);

      // The running app learns the new kid on first sight; its unknown-kid reload is throttled
      // to once a second, so allow it a little over that rather than demanding instant success.
      const deadline = Date.now() + 2_500;
      let status: number;
      do {
        status = (await listWith(`Bearer ${newToken}`)).status;
        if (status === 200) break;
        await new Promise((r) => setTimeout(r, 200));
      } while (Date.now() < deadline);
      expect(status).toBe(200);
    } finally {
      await fresh.close();
    }
  });
});

describe('per-key rate limit', () => {
  let limited: TestApp;
  beforeAll(async () => {
    // A slow refill makes the outcome independent of how fast this machine runs the requests.
    limited = await startTestApp({ OMS_RATE_LIMIT_PER_SECOND: '0.2', OMS_RATE_LIMIT_BURST: '5' });
  });
  afterAll(() => limited.close());

  it('answers a burst beyond the limit with 429 rate_limited and Retry-After, and leaves other keys alone', async () => {
    const busy = limited.api;
    const statuses: number[] = [];
    let refused: ApiResponse | undefined;
    for (let i = 0; i < 8; i++) {
      const res = await busy.get('/v0.9/customers');
      statuses.push(res.status);
      if (res.status === 429) refused ??= res;
    }
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.slice(5)).toEqual([429, 429, 429]);
    expect(refused!.body.error.code).toBe('rate_limited');
    const retryAfter = Number(refused!.headers['retry-after']);
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(5);

    const quiet = await limited.client('sandbox');
    for (let i = 0; i < 5; i++) expect((await quiet.get('/v0.9/customers')).status).toBe(200);

    // Same project, different key: the limit is per API key, not per project.
    const sibling = await limited.client('sandbox', busy.credentials.projectId);
    expect((await sibling.get('/v0.9/customers')).status).toBe(200);
  });

  it('rate-limits writes too, and a refused write creates nothing', async () => {
    const writer = await limited.client('sandbox');
    for (let i = 0; i < 5; i++) expect((await writer.post('/v0.9/customers', {})).status).toBe(201);
    const refused = await writer.post('/v0.9/customers', { externalId: 'over-the-limit' });
    expect(refused.status).toBe(429);
    expect(refused.body.error.code).toBe('rate_limited');
    const row = await limited.db.selectFrom('customers').select('id').where('external_id', '=', 'over-the-limit').executeTakeFirst();
    expect(row).toBeUndefined();
  });
});
