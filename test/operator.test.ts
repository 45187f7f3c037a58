import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fullCustomer, PII, PII_VALUES } from './support/fixtures.js';
import { startTestApp, type ApiClient, type TestApp } from './support/harness.js';

/**
 * The operator API under /admin/v1 (spec 3.3, 3.4, 6.3), black box: requests through
 * t.app.inject with the admin bearer token, and SQL reads of what each request leaves behind
 * (operator_audit, endorsement_history, events) to prove what must, and must not, happen.
 *
 * `t` runs live mode with OMS_KYC_DECISION=manual, so a clean live customer waits PENDING
 * (requirements.pending: manualReview) for an operator. `q` is the same on its own database,
 * so the review queue can be asserted exactly. `bare` has no admin token configured.
 */

const TOKEN = 'op-admin-token-7f3c9a1e5b2d4c68';
const OPERATOR = 'alice@compliance.example';

/** An IP in the documentation range the bundled ip-country table maps to US (clean). */
const CLEAN_IP = '192.0.2.77';
/** fullCustomer's own IP (203.0.113.77) maps to IR, a blocked jurisdiction: basic ends in ISSUES. */
const SENT_PII = { ...PII, ipAddress: CLEAN_IP };
/** Every write-only value any customer of this file was created with, plus the bare tax id. */
const PATCHED_IP = '192.0.2.78';
const SECRETS = [...PII_VALUES, CLEAN_IP, PATCHED_IP, PII.identifyingInformation[0]!.number.replaceAll('-', '')];

let t: TestApp;
let q: TestApp;
let bare: TestApp;
let live: ApiClient;
let seq = 0;

beforeAll(async () => {
  [t, q, bare] = await Promise.all([
    startTestApp({ OMS_ADMIN_TOKEN: TOKEN, OMS_KYC_DECISION: 'manual' }),
    startTestApp({ OMS_ADMIN_TOKEN: TOKEN, OMS_KYC_DECISION: 'manual' }),
    startTestApp({ OMS_KYC_DECISION: 'manual' }),
  ]);
  live = await t.client('live');
});
afterAll(async () => {
  await Promise.all([t?.close(), q?.close(), bare?.close()]);
});

interface Res {
  status: number;
  body: any;
  raw: string;
}

async function adminCall(
  app: TestApp,
  method: 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH',
  url: string,
  options: { body?: unknown; headers?: Record<string, string>; token?: string | null; operator?: string | null } = {},
): Promise<Res> {
  const headers: Record<string, string> = {};
  const token = options.token === undefined ? TOKEN : options.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const operator = options.operator === undefined ? OPERATOR : options.operator;
  if (operator !== null) headers['x-operator'] = operator;
  Object.assign(headers, options.headers);
  const res = await app.app.inject({
    method,
    url,
    headers: { ...headers, ...(options.body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(options.body === undefined ? {} : { payload: JSON.stringify(options.body) }),
  });
  const isJson = String(res.headers['content-type'] ?? '').startsWith('application/json');
  return { status: res.statusCode, body: isJson ? res.json() : res.body, raw: res.body };
}

const admin = {
  queue: (query = '', app = t) => adminCall(app, 'GET', `/admin/v1/review-queue${query}`),
  record: (id: string, operator: string | null = OPERATOR) => adminCall(t, 'GET', `/admin/v1/customers/${id}/compliance`, { operator }),
  decide: (id: string, name: string, body: unknown, operator: string | null = OPERATOR) =>
    adminCall(t, 'POST', `/admin/v1/customers/${id}/endorsements/${name}/decisions`, { body, operator }),
  offboard: (id: string, body: unknown = { reason: 'closed at the customer request' }, operator: string | null = OPERATOR) =>
    adminCall(t, 'POST', `/admin/v1/customers/${id}/offboard`, { body, operator }),
};

const uniqueExternalId = () => `op_${process.pid}_${++seq}`;

/** A complete, clean live customer: PENDING on all three endorsements, awaiting an operator. */
async function pendingLive(client: ApiClient = live, app: TestApp = t, overrides: Record<string, unknown> = {}): Promise<string> {
  const created = await client.post('/v0.9/customers', fullCustomer({ ipAddress: CLEAN_IP, externalId: uniqueExternalId(), ...overrides }));
  expect(created.status, created.raw).toBe(201);
  const customer = await untilEvaluated(app, client, created.body.id, (c) => endorsementOf(c, 'basic').requirements.pending.includes('manualReview'));
  expect(statusesOf(customer)).toEqual({ basic: 'PENDING', cryptoCustody: 'PENDING', usd: 'PENDING' });
  expect(endorsementOf(customer, 'basic').requirements.pending).toEqual(['manualReview']);
  return created.body.id as string;
}

/** fullCustomer as is: its IP is in a blocked jurisdiction, so the checks leave it in ISSUES. */
async function issuesLive(client: ApiClient = live, app: TestApp = t): Promise<string> {
  const created = await client.post('/v0.9/customers', fullCustomer({ externalId: uniqueExternalId() }));
  expect(created.status, created.raw).toBe(201);
  const customer = await untilEvaluated(app, client, created.body.id, (c) => endorsementOf(c, 'basic').status !== 'PENDING');
  expect(statusesOf(customer)).toEqual({ basic: 'ISSUES', cryptoCustody: 'ISSUES', usd: 'ISSUES' });
  expect(endorsementOf(customer, 'basic').requirements.issues).toEqual(['blockedJurisdiction']);
  return created.body.id as string;
}

/**
 * Runs the due checks now (t.worker.drain) and waits until `done` holds: the worker also runs
 * in the background, so drain() may return while a job it did not claim is still in flight.
 */
async function untilEvaluated(app: TestApp, client: ApiClient, id: string, done: (customer: any) => boolean): Promise<any> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    await app.worker.drain();
    const customer = await getCustomer(client, id);
    if (done(customer)) return customer;
    if (Date.now() > deadline) throw new Error(`${id} was not evaluated in time: ${JSON.stringify(customer.endorsements)}`);
    await sleep(20);
  }
}

async function getCustomer(client: ApiClient, id: string): Promise<any> {
  const res = await client.get(`/v0.9/customers/${id}`);
  expect(res.status, res.raw).toBe(200);
  return res.body;
}

function statusesOf(customer: { endorsements: { name: string; status: string }[] }): Record<string, string> {
  return Object.fromEntries(customer.endorsements.map((e) => [e.name, e.status]));
}

function endorsementOf(customer: { endorsements: { name: string }[] }, name: string): any {
  const found = customer.endorsements.find((e) => e.name === name);
  if (!found) throw new Error(`no ${name} in ${JSON.stringify(customer.endorsements)}`);
  return found;
}

interface AuditRow {
  operator: string;
  action: string;
  endorsement: string | null;
  reason: string | null;
  detail: Record<string, unknown>;
  at: Date;
  project_id: string;
  mode: string;
  customer_id: string;
}
interface HistoryRow {
  name: string;
  seq: number;
  from_status: string | null;
  to_status: string;
  cause: string;
}
interface EventRow {
  id: string;
  type: string;
  data: any;
}
interface Trail {
  audit: AuditRow[];
  history: HistoryRow[];
  events: EventRow[];
}

/** Everything a request may leave behind about one customer. */
async function trailOf(id: string, app: TestApp = t): Promise<Trail> {
  const [audit, history, events] = await Promise.all([
    app.pool.query<AuditRow>('select * from operator_audit where customer_id = $1 order by at, id', [id]),
    app.pool.query<HistoryRow>('select name, seq, from_status, to_status, cause from endorsement_history where customer_id = $1 order by name, seq', [id]),
    app.pool.query<EventRow>(`select id, type, data from events where data->'object'->>'id' = $1 order by created_at, id`, [id]),
  ]);
  return { audit: audit.rows, history: history.rows, events: events.rows };
}

/** What was added to a trail since `before` (rows are only ever appended). */
function added(before: Trail, after: Trail): Trail {
  const seenHistory = new Set(before.history.map((h) => `${h.name}#${h.seq}`));
  const seenEvents = new Set(before.events.map((e) => e.id));
  expect(after.audit.slice(0, before.audit.length)).toEqual(before.audit);
  return {
    audit: after.audit.slice(before.audit.length),
    history: after.history.filter((h) => !seenHistory.has(`${h.name}#${h.seq}`)),
    events: after.events.filter((e) => !seenEvents.has(e.id)),
  };
}

const eventMoves = (events: EventRow[]) =>
  events.map((e) => (e.data.endorsement ? `${e.type} ${e.data.endorsement.name}:${e.data.endorsement.previousStatus}>${e.data.endorsement.status}` : e.type));

function expectNoSecrets(what: string, text: string): void {
  const leaked = SECRETS.filter((value) => text.includes(value));
  expect(leaked, `${what} holds PII`).toEqual([]);
}

/** Runs a refused request and proves it changed nothing: no audit row, history row or event, same customer. */
async function expectNothingWritten(id: string, request: () => Promise<Res>, status: number, code: string): Promise<Res> {
  const before = await trailOf(id);
  const customerBefore = (await t.pool.query('select * from customer_endorsements where customer_id = $1 order by name', [id])).rows;
  const res = await request();
  expect(res.status, res.raw).toBe(status);
  expect(res.body.error.code).toBe(code);
  expect(await trailOf(id)).toEqual(before);
  expect((await t.pool.query('select * from customer_endorsements where customer_id = $1 order by name', [id])).rows).toEqual(customerBefore);
  return res;
}

const WELL_FORMED_UNKNOWN = 'cst_01h455vb4pex5vsknk084sn02q';

describe('authentication of /admin/v1', () => {
  const routes = (id: string) =>
    [
      ['GET', '/admin/v1/review-queue', undefined],
      ['GET', `/admin/v1/customers/${id}/compliance`, undefined],
      ['POST', `/admin/v1/customers/${id}/endorsements/basic/decisions`, { action: 'approve', reason: 'looks fine' }],
      ['POST', `/admin/v1/customers/${id}/offboard`, { reason: 'bye' }],
    ] as const;

  it('answers 404 not_found on every admin route when no admin token is configured, whatever is sent', async () => {
    const sandbox = await bare.client('sandbox');
    const id = (await sandbox.post('/v0.9/customers', { firstName: 'Olga', lastName: 'Nobody' })).body.id as string;
    for (const [method, url, body] of routes(id)) {
      for (const token of [TOKEN, null, 'anything-at-all-long-enough']) {
        const res = await adminCall(bare, method, url, { body, token });
        expect(res.status, `${method} ${url}`).toBe(404);
        expect(res.body.error.code).toBe('not_found');
      }
    }
    expect((await bare.pool.query('select count(*)::int as n from operator_audit')).rows[0].n).toBe(0);
    expect(statusesOf(await getCustomer(sandbox, id))).toEqual({ basic: 'ACTIVE', cryptoCustody: 'ACTIVE', usd: 'ACTIVE' });
  });

  it('answers 401 unauthorized to a missing, wrong or malformed bearer, before validating anything, and writes nothing', async () => {
    const id = await pendingLive();
    const before = await trailOf(id);
    const wrongs: (string | null)[] = [null, `${TOKEN}x`, TOKEN.slice(0, -1), TOKEN.toUpperCase(), ''];
    for (const [method, url, body] of routes(id)) {
      for (const token of wrongs) {
        const res = await adminCall(t, method, url, { body, token });
        expect(res.status, `${method} ${url} with ${String(token)}`).toBe(401);
        expect(res.body.error.code).toBe('unauthorized');
      }
      // Not "Bearer": basic auth with the right token, and the token bare.
      for (const authorization of [`Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`, TOKEN]) {
        const res = await adminCall(t, method, url, { body, token: null, headers: { authorization } });
        expect(res.status, `${method} ${url} with ${authorization}`).toBe(401);
      }
      // A wrong token with no x-operator is still 401, not 400: nothing is validated for a stranger.
      const res = await adminCall(t, method, url, { body, token: 'wrong-token-wrong-token', operator: null });
      expect(res.status).toBe(401);
    }
    expect(await trailOf(id)).toEqual(before);
  });

  it('never opens admin routes to API-key credentials: access tokens, key ids and secrets are 401', async () => {
    const id = await pendingLive();
    const creds = live.credentials;
    const issued = await t.app.inject({ method: 'POST', url: '/v0.9/auth/token', payload: { apiKey: creds.apiKey, apiSecret: creds.apiSecret } });
    const accessToken = (issued.json() as { accessToken: string }).accessToken;
    expect(accessToken).toMatch(/^eyJ/);
    for (const [method, url, body] of routes(id)) {
      for (const token of [accessToken, creds.apiKey, creds.apiSecret]) {
        const res = await adminCall(t, method, url, { body, token });
        expect(res.status, `${method} ${url}`).toBe(401);
        expect(res.body.error.code).toBe('unauthorized');
      }
    }
    expect((await trailOf(id)).audit).toEqual([]);
    // And the admin token does not open the public API.
    const res = await t.app.inject({ method: 'GET', url: '/v0.9/customers', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.statusCode).toBe(401);
  });

  it('requires x-operator on every admin route: 400 validation_error, nothing written', async () => {
    const id = await pendingLive();
    for (const [method, url, body] of routes(id)) {
      for (const operator of [null, '']) {
        const res = await expectNothingWritten(id, () => adminCall(t, method, url, { body, operator }), 400, 'validation_error');
        expect(res.body.error.message).toContain('x-operator');
      }
    }
    // The bearer scheme name is case-insensitive; the right token with x-operator works.
    const ok = await adminCall(t, 'GET', '/admin/v1/review-queue', { token: null, headers: { authorization: `bearer ${TOKEN}` } });
    expect(ok.status).toBe(200);
  });

  // BUG: with no admin token configured the admin routes are meant to be absent (404), but a
  // wrong method on them answers 405 method_not_allowed with "use GET, HEAD", which tells a
  // stranger the operator API exists. Same with a token configured and no credentials.
  it('a wrong method on an admin route is 404 when no admin token is configured (is 405, revealing the route)', async () => {
    const res = await adminCall(bare, 'DELETE', '/admin/v1/review-queue', { token: null, operator: null });
    expect(res.status).toBe(404);
  });
});

describe('review queue', () => {
  interface Made {
    id: string;
    projectId: string;
    mode: string;
  }
  let a: Made, s1: Made, b: Made, s2: Made, x: Made, s3: Made;
  const NAMES3 = ['basic', 'cryptoCustody', 'usd'];
  const entries = (made: Made, names: string[] = NAMES3) => names.map((name) => `${made.mode} ${made.projectId} ${made.id} ${name}`);
  const keyOf = (e: any) => `${e.mode} ${e.projectId} ${e.customerId} ${e.endorsement}`;

  beforeAll(async () => {
    // q is otherwise empty, so the queue holds exactly these. Each step waits a few ms so the
    // endorsements' `since` differ between customers.
    const live1 = await q.client('live');
    const sandbox1 = await q.client('sandbox', live1.credentials.projectId);
    const live2 = await q.client('live');
    const sandbox2 = await q.client('sandbox', live2.credentials.projectId);
    const pendingSandbox = async (client: ApiClient) => {
      const res = await client.post('/v0.9/customers', { firstName: 'Quinn', lastName: 'Pending', endorsements: ['basic'] });
      expect(statusesOf(res.body)).toEqual({ basic: 'PENDING' });
      return res.body.id as string;
    };
    a = { id: await pendingLive(live1, q), projectId: live1.credentials.projectId, mode: 'live' };
    await sleep(5);
    s1 = { id: await pendingSandbox(sandbox1), projectId: live1.credentials.projectId, mode: 'sandbox' };
    await sleep(5);
    b = { id: await pendingLive(live2, q), projectId: live2.credentials.projectId, mode: 'live' };
    await sleep(5);
    s2 = { id: await pendingSandbox(sandbox2), projectId: live2.credentials.projectId, mode: 'sandbox' };
    await sleep(5);
    x = { id: await issuesLive(live2, q), projectId: live2.credentials.projectId, mode: 'live' };
    // Granted at once: never in the PENDING queue.
    const granted = await sandbox1.post('/v0.9/customers', { firstName: 'Gus', lastName: 'Granted' });
    s3 = { id: granted.body.id, projectId: live1.credentials.projectId, mode: 'sandbox' };
    expect(statusesOf(granted.body)).toEqual({ basic: 'ACTIVE', cryptoCustody: 'ACTIVE', usd: 'ACTIVE' });
  });

  it('lists PENDING endorsements across projects and modes, longest waiting first, with what they wait for', async () => {
    const res = await admin.queue('', q);
    expect(res.status, res.raw).toBe(200);
    expect(res.body.object).toBe('list');
    expect(res.body.data.map(keyOf)).toEqual([...entries(a), ...entries(s1, ['basic']), ...entries(b), ...entries(s2, ['basic'])]);
    const since = res.body.data.map((e: any) => e.since as string);
    expect([...since].sort()).toEqual(since);
    for (const e of res.body.data) {
      expect(e.status).toBe('PENDING');
      expect(e.since).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
      expect(e.requirements.pending).toContain('manualReview');
    }
    const first = res.body.data[0];
    expect(first.requirements).toEqual({
      complete: ['firstName', 'lastName', 'email', 'birthDate', 'residentialAddress', 'ipAddress', 'signedAgreement', 'identifyingInformation'],
      pending: ['manualReview'],
      missing: [],
      issues: [],
    });
    // The same as asking for status=PENDING explicitly; the queue shows no PII.
    expect((await admin.queue('?status=PENDING', q)).body).toEqual(res.body);
    expectNoSecrets('review queue', res.raw);
  });

  it('filters by mode and by status, and honours limit', async () => {
    const liveOnly = await admin.queue('?mode=live', q);
    expect(liveOnly.body.data.map(keyOf)).toEqual([...entries(a), ...entries(b)]);
    const sandboxOnly = await admin.queue('?mode=sandbox', q);
    expect(sandboxOnly.body.data.map(keyOf)).toEqual([...entries(s1, ['basic']), ...entries(s2, ['basic'])]);

    const issues = await admin.queue('?status=ISSUES', q);
    expect(issues.body.data.map(keyOf)).toEqual(entries(x));
    expect(issues.body.data.every((e: any) => e.requirements.issues.includes('blockedJurisdiction'))).toBe(true);
    expect((await admin.queue('?status=ISSUES&mode=sandbox', q)).body.data).toEqual([]);

    const active = await admin.queue('?status=ACTIVE', q);
    expect(active.body.data.map(keyOf)).toEqual(entries(s3));

    const two = await admin.queue('?limit=2', q);
    expect(two.body.data.map(keyOf)).toEqual(entries(a).slice(0, 2));
    const four = await admin.queue('?limit=4&mode=live', q);
    expect(four.body.data.map(keyOf)).toEqual([...entries(a), entries(b)[0]]);
  });

  it('refuses bad query values with 400', async () => {
    for (const query of ['?status=pending', '?status=NOPE', '?mode=production', '?limit=0', '?limit=501', '?limit=ten', '?cursor=abc']) {
      const res = await admin.queue(query, q);
      expect(res.status, query).toBe(400);
      expect(res.body.error.code).toBe('validation_error');
    }
  });

  it('a decision takes the endorsement out of the PENDING queue', async () => {
    const before = (await admin.queue('', q)).body.data.map(keyOf);
    const res = await adminCall(q, 'POST', `/admin/v1/customers/${s1.id}/endorsements/basic/decisions`, {
      body: { action: 'approve', reason: 'documents reviewed' },
    });
    expect(res.status, res.raw).toBe(200);
    const after = (await admin.queue('', q)).body.data.map(keyOf);
    expect(after).toEqual(before.filter((k: string) => !k.includes(s1.id)));
  });
});

describe('compliance record', () => {
  it('returns the PII exactly as sent, the customer as the API shows it, the history and the audit; each read is audited without PII', async () => {
    const id = await pendingLive();
    const first = await admin.record(id);
    expect(first.status, first.raw).toBe(200);
    const record = first.body;
    expect(record.projectId).toBe(live.credentials.projectId);
    expect(record.mode).toBe('live');
    expect(record.pii).toEqual({
      birthDate: SENT_PII.birthDate,
      ipAddress: SENT_PII.ipAddress,
      residentialAddress: SENT_PII.residentialAddress,
      identifyingInformation: SENT_PII.identifyingInformation,
    });
    expect(record.customer).toEqual(await getCustomer(live, id));
    expect(record.history.map((h: any) => `${h.endorsement}#${h.seq} ${h.from}>${h.to}:${h.cause}`)).toEqual([
      'basic#1 null>INACTIVE:customer_update',
      'basic#2 INACTIVE>PENDING:customer_update',
      'cryptoCustody#1 null>INACTIVE:customer_update',
      'cryptoCustody#2 INACTIVE>PENDING:customer_update',
      'usd#1 null>INACTIVE:customer_update',
      'usd#2 INACTIVE>PENDING:customer_update',
    ]);
    // The read is audited before it is served, so the record already shows it.
    expect(record.audit).toHaveLength(1);
    expect(record.audit[0]).toMatchObject({ operator: OPERATOR, action: 'readComplianceRecord', endorsement: null, reason: null });

    const rows = (await trailOf(id)).audit;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      operator: OPERATOR,
      action: 'readComplianceRecord',
      customer_id: id,
      project_id: live.credentials.projectId,
      mode: 'live',
      endorsement: null,
      reason: null,
      detail: { fields: ['birthDate', 'identifyingInformation', 'ipAddress', 'residentialAddress'] },
    });
    expect(Math.abs(rows[0]!.at.getTime() - Date.now())).toBeLessThan(60_000);
    expectNoSecrets('the audit row of a read', JSON.stringify(rows));

    // Every read is one more row, with the operator who read.
    const second = await admin.record(id, 'bob@compliance.example');
    expect(second.status).toBe(200);
    expect(second.body.audit.map((a: any) => `${a.operator} ${a.action}`)).toEqual([
      `${OPERATOR} readComplianceRecord`,
      'bob@compliance.example readComplianceRecord',
    ]);
    expect((await trailOf(id)).audit).toHaveLength(2);
    // Reading changes nothing else.
    expect((await trailOf(id)).events.map((e) => e.type)).not.toContain('customer.updated');
  });

  it('reads sandbox customers too, and customers with no PII', async () => {
    const res = await t.api.post('/v0.9/customers', {});
    expect(res.status).toBe(201);
    const record = await admin.record(res.body.id);
    expect(record.status, record.raw).toBe(200);
    expect(record.body).toMatchObject({ projectId: t.api.credentials.projectId, mode: 'sandbox', pii: {} });
    expect(record.body.customer).toEqual(await getCustomer(t.api, res.body.id));
    expect((await trailOf(res.body.id)).audit).toMatchObject([{ action: 'readComplianceRecord', detail: { fields: [] } }]);
  });

  it('answers 404 for an unknown or malformed id, and audits nothing', async () => {
    for (const id of [WELL_FORMED_UNKNOWN, 'cst_nope', 'wlt_01h455vb4pex5vsknk084sn02q', 'CST_01H455VB4PEX5VSKNK084SN02Q', '1']) {
      const res = await admin.record(id);
      expect(res.status, id).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
    expect((await t.pool.query('select count(*)::int as n from operator_audit where customer_id = $1', [WELL_FORMED_UNKNOWN])).rows[0].n).toBe(0);
  });
});

describe('decisions on a manual-mode live customer', () => {
  const approve = (reason = 'documents reviewed') => ({ action: 'approve', reason });

  it('approving cryptoCustody before basic is 409 conflict and writes nothing; basic then cryptoCustody are granted, each audited, historied and announced once', async () => {
    const id = await pendingLive();
    const refused = await expectNothingWritten(id, () => admin.decide(id, 'cryptoCustody', approve()), 409, 'conflict');
    expect(refused.body.error.message).toContain('basic');
    await expectNothingWritten(id, () => admin.decide(id, 'usd', approve()), 409, 'conflict');

    let before = await trailOf(id);
    const basic = await admin.decide(id, 'basic', approve('identity documents match'));
    expect(basic.status, basic.raw).toBe(200);
    expect(basic.body.object).toBe('customer');
    expect(statusesOf(basic.body)).toEqual({ basic: 'ACTIVE', cryptoCustody: 'PENDING', usd: 'PENDING' });
    expect(endorsementOf(basic.body, 'basic').requirements.pending).toEqual([]);
    expect(basic.body).toEqual(await getCustomer(live, id));
    let delta = added(before, await trailOf(id));
    expect(delta.audit).toHaveLength(1);
    expect(delta.audit[0]).toMatchObject({
      operator: OPERATOR,
      action: 'approve',
      endorsement: 'basic',
      reason: 'identity documents match',
      customer_id: id,
      project_id: live.credentials.projectId,
      mode: 'live',
      detail: { from: 'PENDING', to: 'ACTIVE' },
    });
    expect(delta.history).toEqual([{ name: 'basic', seq: 3, from_status: 'PENDING', to_status: 'ACTIVE', cause: 'operator' }]);
    expect(eventMoves(delta.events)).toEqual(['customer.endorsement.updated basic:PENDING>ACTIVE', 'customer.endorsement.granted basic:PENDING>ACTIVE']);
    for (const e of delta.events) expect(statusesOf(e.data.object)).toMatchObject({ basic: 'ACTIVE' });

    before = await trailOf(id);
    const crypto = await admin.decide(id, 'cryptoCustody', approve('custody approved'));
    expect(crypto.status, crypto.raw).toBe(200);
    expect(statusesOf(crypto.body)).toEqual({ basic: 'ACTIVE', cryptoCustody: 'ACTIVE', usd: 'PENDING' });
    expect(endorsementOf(crypto.body, 'cryptoCustody').requirements).toMatchObject({ pending: [], missing: [], issues: [] });
    expect(endorsementOf(crypto.body, 'cryptoCustody').requirements.complete).toContain('basic');
    delta = added(before, await trailOf(id));
    expect(delta.audit).toMatchObject([{ action: 'approve', endorsement: 'cryptoCustody', reason: 'custody approved', detail: { from: 'PENDING', to: 'ACTIVE' } }]);
    expect(delta.history).toEqual([{ name: 'cryptoCustody', seq: 3, from_status: 'PENDING', to_status: 'ACTIVE', cause: 'operator' }]);
    expect(eventMoves(delta.events)).toEqual([
      'customer.endorsement.updated cryptoCustody:PENDING>ACTIVE',
      'customer.endorsement.granted cryptoCustody:PENDING>ACTIVE',
    ]);
  });

  // BUG: approving basic leaves cryptoCustody/usd reading requirements.pending ["basic",
  // "manualReview"] although basic is now ACTIVE: their requirements are not recomputed.
  it('once basic is approved, the dependent endorsements no longer list basic as pending', async () => {
    const id = await pendingLive();
    const res = await admin.decide(id, 'basic', approve());
    expect(res.status).toBe(200);
    for (const name of ['cryptoCustody', 'usd']) {
      const { requirements } = endorsementOf(res.body, name);
      expect(requirements.pending).not.toContain('basic');
      expect(requirements.complete).toContain('basic');
    }
  });

  it('approves an endorsement in ISSUES, overriding the issues', async () => {
    const id = await issuesLive();
    const before = await trailOf(id);
    const res = await admin.decide(id, 'basic', approve('IP is a corporate VPN exit; address verified'));
    expect(res.status, res.raw).toBe(200);
    expect(endorsementOf(res.body, 'basic')).toMatchObject({ status: 'ACTIVE', requirements: { issues: [], pending: [], missing: [] } });
    const delta = added(before, await trailOf(id));
    expect(delta.audit).toMatchObject([{ action: 'approve', endorsement: 'basic', detail: { from: 'ISSUES', to: 'ACTIVE' } }]);
    expect(delta.history).toEqual([{ name: 'basic', seq: 4, from_status: 'ISSUES', to_status: 'ACTIVE', cause: 'operator' }]);
    expect(eventMoves(delta.events)).toEqual(['customer.endorsement.updated basic:ISSUES>ACTIVE', 'customer.endorsement.granted basic:ISSUES>ACTIVE']);
  });

  it('marks issues on a PENDING endorsement, which the customer then sees', async () => {
    const id = await pendingLive();
    const before = await trailOf(id);
    const res = await admin.decide(id, 'basic', { action: 'markIssues', reason: 'passport photo unreadable', issues: ['identityMismatch', 'documentExpired'] });
    expect(res.status, res.raw).toBe(200);
    const basic = endorsementOf(await getCustomer(live, id), 'basic');
    expect(basic.status).toBe('ISSUES');
    expect(basic.requirements.issues).toEqual(['identityMismatch', 'documentExpired']);
    expect(basic.requirements.pending).toEqual([]);
    const delta = added(before, await trailOf(id));
    expect(delta.audit).toHaveLength(1);
    expect(delta.audit[0]).toMatchObject({
      operator: OPERATOR,
      action: 'markIssues',
      endorsement: 'basic',
      reason: 'passport photo unreadable',
      detail: { from: 'PENDING', to: 'ISSUES', issues: ['identityMismatch', 'documentExpired'] },
    });
    expect(delta.history).toEqual([{ name: 'basic', seq: 3, from_status: 'PENDING', to_status: 'ISSUES', cause: 'operator' }]);
    expect(eventMoves(delta.events)).toEqual(['customer.endorsement.updated basic:PENDING>ISSUES']);
  });

  it('revokes an ACTIVE endorsement with issues; revoking a PENDING one is 409', async () => {
    const id = await pendingLive();
    await expectNothingWritten(id, () => admin.decide(id, 'basic', { action: 'revoke', reason: 'r', issues: ['sanctionsMatch'] }), 409, 'conflict');
    expect((await admin.decide(id, 'basic', approve())).status).toBe(200);
    // markIssues is for PENDING ones: on an ACTIVE endorsement it is refused (revoke is the move).
    await expectNothingWritten(id, () => admin.decide(id, 'basic', { action: 'markIssues', reason: 'r', issues: ['underAge'] }), 409, 'conflict');

    const before = await trailOf(id);
    const res = await admin.decide(id, 'basic', { action: 'revoke', reason: 'watchlist update matched', issues: ['sanctionsMatch'] });
    expect(res.status, res.raw).toBe(200);
    expect(endorsementOf(res.body, 'basic')).toMatchObject({ status: 'REVOKED_ISSUES', requirements: { issues: ['sanctionsMatch'] } });
    const delta = added(before, await trailOf(id));
    expect(delta.audit).toMatchObject([
      { operator: OPERATOR, action: 'revoke', endorsement: 'basic', reason: 'watchlist update matched', detail: { from: 'ACTIVE', to: 'REVOKED_ISSUES', issues: ['sanctionsMatch'] } },
    ]);
    expect(delta.history).toEqual([{ name: 'basic', seq: 4, from_status: 'ACTIVE', to_status: 'REVOKED_ISSUES', cause: 'operator' }]);
    expect(eventMoves(delta.events)).toEqual(['customer.endorsement.updated basic:ACTIVE>REVOKED_ISSUES']);

    // A revoked endorsement can be granted again.
    const again = await admin.decide(id, 'basic', approve('cleared: false positive'));
    expect(again.status).toBe(200);
    expect(endorsementOf(again.body, 'basic').status).toBe('ACTIVE');
  });

  it('rejects with rejectionReasons the customer endorsement shows; without them it is 400; a REJECTED endorsement cannot be approved (409)', async () => {
    const id = await pendingLive();
    for (const body of [
      { action: 'reject', reason: 'fraud ring' },
      { action: 'reject', reason: 'fraud ring', rejectionReasons: [] },
      { action: 'reject', reason: 'fraud ring', rejectionReasons: [{ developerReason: 'only one half' }] },
      { action: 'reject', reason: 'fraud ring', rejectionReasons: [{ developerReason: '', reason: 'x' }] },
    ]) {
      const res = await expectNothingWritten(id, () => admin.decide(id, 'usd', body), 400, 'validation_error');
      expect(res.raw).toContain('rejectionReasons');
    }

    const rejectionReasons = [{ developerReason: 'Document forged: hologram missing (case 4411).', reason: 'We could not verify your identity.' }];
    const before = await trailOf(id);
    const res = await admin.decide(id, 'usd', { action: 'reject', reason: 'forged document', rejectionReasons });
    expect(res.status, res.raw).toBe(200);
    const usd = endorsementOf(await getCustomer(live, id), 'usd');
    expect(usd.status).toBe('REJECTED');
    expect(usd.rejectionReasons).toEqual(rejectionReasons);
    const delta = added(before, await trailOf(id));
    expect(delta.audit).toMatchObject([
      { operator: OPERATOR, action: 'reject', endorsement: 'usd', reason: 'forged document', detail: { from: 'PENDING', to: 'REJECTED', rejectionReasons } },
    ]);
    expect(delta.history).toEqual([{ name: 'usd', seq: 3, from_status: 'PENDING', to_status: 'REJECTED', cause: 'operator' }]);
    expect(eventMoves(delta.events)).toEqual(['customer.endorsement.updated usd:PENDING>REJECTED', 'customer.endorsement.rejected usd:PENDING>REJECTED']);
    const rejectedEvent = delta.events.find((e) => e.type === 'customer.endorsement.rejected')!;
    expect(endorsementOf(rejectedEvent.data.object, 'usd').rejectionReasons).toEqual(rejectionReasons);

    // Final: approve, revoke, markIssues are illegal moves from REJECTED; basic must still be approvable first.
    expect((await admin.decide(id, 'basic', approve())).status).toBe(200);
    for (const body of [approve(), { action: 'revoke', reason: 'r', issues: ['underAge'] }, { action: 'markIssues', reason: 'r', issues: ['underAge'] }]) {
      const refused = await expectNothingWritten(id, () => admin.decide(id, 'usd', body), 409, 'conflict');
      expect(refused.body.error.message).toContain('REJECTED');
    }
  });

  it('refuses malformed decisions with 400 and writes nothing', async () => {
    const id = await pendingLive();
    const bodies: unknown[] = [
      {},
      { action: 'approve' },
      { action: 'approve', reason: '' },
      { action: 'approve', reason: 'x'.repeat(1001) },
      { action: 'grant', reason: 'r' },
      { action: 'APPROVE', reason: 'r' },
      { action: 'approve', reason: 'r', extra: 1 },
      { action: 'markIssues', reason: 'r' },
      { action: 'markIssues', reason: 'r', issues: [] },
      { action: 'markIssues', reason: 'r', issues: ['notACode'] },
      { action: 'markIssues', reason: 'r', issues: ['underAge', 'underAge'] },
      { action: 'revoke', reason: 'r' },
      // Details that do not belong to the action.
      { action: 'approve', reason: 'r', issues: ['underAge'] },
      { action: 'approve', reason: 'r', rejectionReasons: [{ developerReason: 'a', reason: 'b' }] },
      { action: 'reject', reason: 'r', issues: ['underAge'], rejectionReasons: [{ developerReason: 'a', reason: 'b' }] },
    ];
    for (const body of bodies) {
      await expectNothingWritten(id, () => admin.decide(id, 'basic', body), 400, 'validation_error');
    }
    // An unknown endorsement name in the path is a validation error too.
    await expectNothingWritten(id, () => admin.decide(id, 'eur', approve()), 400, 'validation_error');
    expect(statusesOf(await getCustomer(live, id))).toEqual({ basic: 'PENDING', cryptoCustody: 'PENDING', usd: 'PENDING' });
  });

  it('answers 404 for an unknown customer, a malformed id, and an endorsement the customer never requested', async () => {
    for (const id of [WELL_FORMED_UNKNOWN, 'cst_nope']) {
      const res = await admin.decide(id, 'basic', approve());
      expect(res.status, id).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
    const onlyBasic = await live.post('/v0.9/customers', fullCustomer({ ipAddress: CLEAN_IP, externalId: uniqueExternalId(), endorsements: ['basic'] }));
    const id = onlyBasic.body.id as string;
    await untilEvaluated(t, live, id, (c) => endorsementOf(c, 'basic').requirements.pending.includes('manualReview'));
    await expectNothingWritten(id, () => admin.decide(id, 'usd', { action: 'markIssues', reason: 'r', issues: ['underAge'] }), 404, 'not_found');
    expect((await admin.decide(id, 'basic', approve())).status).toBe(200);
    await expectNothingWritten(id, () => admin.decide(id, 'cryptoCustody', approve()), 404, 'not_found');
  });

  it('a decision that changes nothing (approve an ACTIVE one) is 200 with no history or event, but is still audited', async () => {
    const id = await pendingLive();
    expect((await admin.decide(id, 'basic', approve())).status).toBe(200);
    const before = await trailOf(id);
    const res = await admin.decide(id, 'basic', approve('double click'));
    expect(res.status, res.raw).toBe(200);
    expect(endorsementOf(res.body, 'basic').status).toBe('ACTIVE');
    const delta = added(before, await trailOf(id));
    expect(delta.history).toEqual([]);
    expect(delta.events).toEqual([]);
    expect(delta.audit).toMatchObject([{ action: 'approve', endorsement: 'basic', reason: 'double click', detail: { from: 'ACTIVE', to: 'ACTIVE' } }]);
  });

  // BUG: markIssues on an endorsement already in ISSUES (or reject on a REJECTED one) is a
  // same-status "move": forceStatus returns early, so the new codes (reasons) are NOT applied,
  // yet the request answers 200 and the audit row records codes the customer never sees.
  it('markIssues with new codes on an ISSUES endorsement applies them, as its audit row says', async () => {
    const id = await pendingLive();
    expect((await admin.decide(id, 'basic', { action: 'markIssues', reason: 'first look', issues: ['documentExpired'] })).status).toBe(200);
    const res = await admin.decide(id, 'basic', { action: 'markIssues', reason: 'second look', issues: ['identityMismatch'] });
    const audited = (await trailOf(id)).audit.at(-1)!;
    expect(audited.detail).toMatchObject({ issues: ['identityMismatch'] });
    // Either refused (and then not audited as done), or applied.
    expect(res.status).toBe(200);
    expect(endorsementOf(await getCustomer(live, id), 'basic').requirements.issues).toEqual(['identityMismatch']);
  });

  // BUG, same cause: reject on a REJECTED endorsement with new rejectionReasons answers 200,
  // keeps the old reasons, and audits the new ones as if they had been given to the customer.
  it('reject with new rejectionReasons on a REJECTED endorsement applies them, as its audit row says', async () => {
    const id = await pendingLive();
    const first = [{ developerReason: 'first developer reason', reason: 'first reason' }];
    const second = [{ developerReason: 'second developer reason', reason: 'second reason' }];
    expect((await admin.decide(id, 'usd', { action: 'reject', reason: 'one', rejectionReasons: first })).status).toBe(200);
    const res = await admin.decide(id, 'usd', { action: 'reject', reason: 'two', rejectionReasons: second });
    expect((await trailOf(id)).audit.at(-1)!.detail).toMatchObject({ rejectionReasons: second });
    expect(res.status).toBe(200);
    expect(endorsementOf(await getCustomer(live, id), 'usd').rejectionReasons).toEqual(second);
  });

  it('concurrent contradicting decisions: exactly one wins, the loser writes nothing', async () => {
    const id = await pendingLive();
    const [approved, rejected] = await Promise.all([
      admin.decide(id, 'basic', approve()),
      admin.decide(id, 'basic', { action: 'reject', reason: 'r', rejectionReasons: [{ developerReason: 'd', reason: 'c' }] }),
    ]);
    expect([approved.status, rejected.status].sort()).toEqual([200, 409]);
    const trail = await trailOf(id);
    const decisions = trail.audit.filter((a) => a.action !== 'readComplianceRecord');
    expect(decisions).toHaveLength(1);
    const winner = decisions[0]!.action === 'approve' ? 'ACTIVE' : 'REJECTED';
    expect(statusesOf(await getCustomer(live, id)).basic).toBe(winner);
    expect(trail.history.filter((h) => h.name === 'basic' && h.cause === 'operator').map((h) => h.to_status)).toEqual([winner]);
  });
});

describe('offboarding', () => {
  it('moves every endorsement to OFFBOARDED, makes the customer inactive, emits customer.offboarded once, audited', async () => {
    const id = await pendingLive();
    expect((await admin.decide(id, 'basic', { action: 'approve', reason: 'ok' })).status).toBe(200);
    expect((await admin.decide(id, 'usd', { action: 'markIssues', reason: 'r', issues: ['invalidTaxId'] })).status).toBe(200);
    expect(statusesOf(await getCustomer(live, id))).toEqual({ basic: 'ACTIVE', cryptoCustody: 'PENDING', usd: 'ISSUES' });

    const before = await trailOf(id);
    const res = await admin.offboard(id, { reason: 'customer asked to close the account' });
    expect(res.status, res.raw).toBe(200);
    expect(res.body.status).toBe('inactive');
    expect(statusesOf(res.body)).toEqual({ basic: 'OFFBOARDED', cryptoCustody: 'OFFBOARDED', usd: 'OFFBOARDED' });
    for (const e of res.body.endorsements) expect(e.requirements.pending).toEqual([]);

    // As the developer sees it.
    const seen = await getCustomer(live, id);
    expect(seen).toEqual(res.body);
    const inactive = await live.get('/v0.9/customers?status=inactive&limit=100');
    expect(inactive.status).toBe(200);
    expect(inactive.body.data.map((c: any) => c.id)).toContain(id);
    const active = await live.get('/v0.9/customers?status=active&limit=100');
    expect(active.body.data.map((c: any) => c.id)).not.toContain(id);

    const delta = added(before, await trailOf(id));
    expect(delta.audit).toHaveLength(1);
    expect(delta.audit[0]).toMatchObject({
      operator: OPERATOR,
      action: 'offboard',
      customer_id: id,
      endorsement: null,
      reason: 'customer asked to close the account',
      project_id: live.credentials.projectId,
      mode: 'live',
    });
    expect(delta.history.map((h) => `${h.name} ${h.from_status}>${h.to_status}:${h.cause}`).sort()).toEqual([
      'basic ACTIVE>OFFBOARDED:operator',
      'cryptoCustody PENDING>OFFBOARDED:operator',
      'usd ISSUES>OFFBOARDED:operator',
    ]);
    expect(eventMoves(delta.events).sort()).toEqual([
      'customer.endorsement.updated basic:ACTIVE>OFFBOARDED',
      'customer.endorsement.updated cryptoCustody:PENDING>OFFBOARDED',
      'customer.endorsement.updated usd:ISSUES>OFFBOARDED',
      'customer.offboarded',
    ]);
    const offboarded = delta.events.find((e) => e.type === 'customer.offboarded')!;
    expect(offboarded.data.object).toEqual(seen);

    // Nothing more can be decided.
    for (const [name, body] of [
      ['basic', { action: 'approve', reason: 'r' }],
      ['usd', { action: 'reject', reason: 'r', rejectionReasons: [{ developerReason: 'd', reason: 'c' }] }],
      ['basic', { action: 'revoke', reason: 'r', issues: ['underAge'] }],
    ] as const) {
      await expectNothingWritten(id, () => admin.decide(id, name, body), 409, 'conflict');
    }
    // The checks cannot bring it back either: a PATCH that re-evaluates leaves it offboarded.
    const patched = await live.patch(`/v0.9/customers/${id}`, { ipAddress: PATCHED_IP, endorsements: ['basic'] });
    expect(patched.status, patched.raw).toBe(200);
    await t.worker.drain();
    expect(statusesOf(await getCustomer(live, id))).toEqual({ basic: 'OFFBOARDED', cryptoCustody: 'OFFBOARDED', usd: 'OFFBOARDED' });
    expect((await getCustomer(live, id)).status).toBe('inactive');
  });

  it('offboarding again changes nothing and emits nothing, but is audited again (current behaviour)', async () => {
    const id = await pendingLive();
    const first = await admin.offboard(id, { reason: 'first' });
    expect(first.status).toBe(200);
    const before = await trailOf(id);
    const again = await admin.offboard(id, { reason: 'second' }, 'bob@compliance.example');
    expect(again.status, again.raw).toBe(200);
    expect(again.body).toEqual(first.body);
    const delta = added(before, await trailOf(id));
    expect(delta.history).toEqual([]);
    expect(delta.events).toEqual([]);
    // The attempt is recorded, as every operator action is; detail does not say it was a no-op.
    expect(delta.audit).toMatchObject([{ operator: 'bob@compliance.example', action: 'offboard', reason: 'second', endorsement: null, detail: {} }]);
    expect((await trailOf(id)).events.filter((e) => e.type === 'customer.offboarded')).toHaveLength(1);
  });

  it('offboards a sandbox customer with no endorsements: inactive, one event', async () => {
    const created = await t.api.post('/v0.9/customers', { firstName: 'Nel', lastName: 'Empty', endorsements: [] });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const res = await admin.offboard(id);
    expect(res.status, res.raw).toBe(200);
    expect(res.body).toMatchObject({ status: 'inactive', endorsements: [] });
    const trail = await trailOf(id);
    expect(trail.events.map((e) => e.type)).toEqual(['customer.created', 'customer.offboarded']);
    expect(trail.audit).toMatchObject([{ action: 'offboard' }]);
  });

  it('refuses an offboard without a reason (400) and of an unknown customer (404), writing nothing', async () => {
    const id = await pendingLive();
    for (const body of [{}, { reason: '' }, { reason: 'r', extra: true }]) {
      await expectNothingWritten(id, () => admin.offboard(id, body), 400, 'validation_error');
    }
    for (const unknown of [WELL_FORMED_UNKNOWN, 'cst_nope']) {
      const res = await admin.offboard(unknown);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
    expect((await getCustomer(live, id)).status).toBe('active');
  });

  // Spec 3.3: OFFBOARDED is terminal and the customer keeps no ACTIVE endorsement, so a PATCH
  // cannot request a new one (in sandbox it would be granted at once). This failed on the
  // operator commit (the PATCH answered 200 with cryptoCustody ACTIVE).
  it('a PATCH cannot add an endorsement to an offboarded customer', async () => {
    const created = await t.api.post('/v0.9/customers', { firstName: 'Otto', lastName: 'Gone', endorsements: ['basic'] });
    const id = created.body.id as string;
    expect((await admin.offboard(id)).status).toBe(200);
    const before = await trailOf(id);
    const patched = await t.api.patch(`/v0.9/customers/${id}`, { endorsements: ['cryptoCustody'] });
    expect(patched.status, patched.raw).toBe(422);
    expect(patched.body.error.code).toBe('customer_inactive');
    const after = await getCustomer(t.api, id);
    expect(statusesOf(after)).toEqual({ basic: 'OFFBOARDED' });
    expect(await trailOf(id)).toEqual(before);
  });
});

describe('no PII outside the compliance record', () => {
  it('holds no PII value in operator_audit, events, endorsement_history, admin responses or the log', async () => {
    // One more customer through every kind of operator action, then everything is scanned.
    const id = await pendingLive();
    const responses = [
      await admin.queue(),
      await admin.decide(id, 'basic', { action: 'approve', reason: 'ok' }),
      await admin.decide(id, 'usd', { action: 'markIssues', reason: 'r', issues: ['identityMismatch'] }),
      await admin.decide(id, 'cryptoCustody', { action: 'reject', reason: 'r', rejectionReasons: [{ developerReason: 'd', reason: 'c' }] }),
      await admin.decide(id, 'basic', { action: 'revoke', reason: 'r', issues: ['documentExpired'] }),
      await admin.offboard(id),
    ];
    for (const res of responses) expectNoSecrets('an admin response', res.raw);
    expect((await admin.record(id)).raw).toContain(CLEAN_IP);

    const audit = await t.pool.query('select * from operator_audit');
    expect(audit.rows.length).toBeGreaterThan(20);
    expectNoSecrets('operator_audit', JSON.stringify(audit.rows));
    const events = await t.pool.query('select * from events');
    expectNoSecrets('events', JSON.stringify(events.rows));
    const history = await t.pool.query('select * from endorsement_history');
    expectNoSecrets('endorsement_history', JSON.stringify(history.rows));
    // The raw bytes too (jsonb text of every column, whatever the table).
    for (const table of ['operator_audit', 'events', 'endorsement_history']) {
      const raw = await t.pool.query(`select t::text as row from ${table} t`);
      expectNoSecrets(`${table} raw`, raw.rows.map((r) => r.row).join('\n'));
    }
    expect(t.logs()).toContain('/admin/v1/customers/');
    expectNoSecrets('the log', t.logs());
    expectNoSecrets('the log of q', q.logs());
  });
});
