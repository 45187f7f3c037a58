import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../src/db/schema.js';
import { createLogger } from '../src/http/logging.js';
import type { GuardOptions, Resolver } from '../src/net/ssrf-guard.js';
import { createDispatcher, type Dispatcher } from '../src/webhooks/dispatcher.js';
import { startTestApp, testResolver, type TestApp } from './support/harness.js';
import { until } from './support/webhook-receiver.js';

/**
 * Webhook delivery when things go wrong (spec 6.2), end to end against real PostgreSQL and real
 * local HTTP receivers: non-2xx answers, redirects, Retry-After, a receiver that never answers,
 * the end of the schedule and the endpoint's health, DNS rebinding at delivery, and two
 * dispatchers sharing one database.
 */

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

type Answer = { status: number; headers?: Record<string, string> } | 'hold';

/** A local receiver answering every request with `answer` (200 unless told); 'hold' never answers. */
class Receiver {
  readonly received: Received[] = [];
  /** TCP connections, including ones that never became a complete HTTP request (a TLS hello). */
  connections = 0;
  answer: Answer = { status: 200 };
  private server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      this.received.push({ headers: req.headers, body });
      const answer = this.answer;
      if (answer !== 'hold') res.writeHead(answer.status, answer.headers).end(answer.status === 204 || answer.status === 304 ? undefined : 'ok');
    });
  });
  port = 0;

  constructor() {
    this.server.on('connection', () => this.connections++);
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return `http://127.0.0.1:${this.port}/hook`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const receivers: Receiver[] = [];
async function newReceiver(answer: Answer = { status: 200 }): Promise<{ receiver: Receiver; url: string }> {
  const receiver = new Receiver();
  receiver.answer = answer;
  receivers.push(receiver);
  return { receiver, url: await receiver.listen() };
}
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((r) => r.close()));
});


const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface DeliveryRow {
  id: string;
  event_id: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  locked: boolean;
  /** next_attempt_at - now(), in seconds; null when there is none. */
  due_in_s: number | null;
  /** next_attempt_at - the last attempt's start, in seconds. */
  wait_s: number | null;
}

function helpers(app: () => TestApp) {
  async function register(url: string, events: string[] = ['customer.created']) {
    const res = await app().api.post('/v0.9/webhooks', { url, events });
    expect(res.status, res.raw).toBe(201);
    return res.body as { id: string; secret: string };
  }

  async function createCustomer(): Promise<string> {
    const res = await app().api.post('/v0.9/customers', {});
    expect(res.status, res.raw).toBe(201);
    return (res.body as { id: string }).id;
  }

  async function deliveries(endpointId: string): Promise<DeliveryRow[]> {
    const { rows } = await app().pool.query<DeliveryRow>(
      `select d.id, d.event_id, d.status, d.attempts, d.last_status_code, d.last_error,
              d.locked_until is not null and d.locked_until > now() as locked,
              extract(epoch from d.next_attempt_at - now())::float8 as due_in_s,
              extract(epoch from d.next_attempt_at - a.started_at)::float8 as wait_s
         from webhook_deliveries d
         left join webhook_attempts a on (a.project_id, a.mode, a.delivery_id, a.attempt) = (d.project_id, d.mode, d.id, d.attempts)
        where d.endpoint_id = $1
        order by d.created_at, d.id`,
      [endpointId],
    );
    return rows;
  }

  async function attempts(deliveryId: string) {
    const { rows } = await app().pool.query<{ attempt: number; status_code: number | null; error: string | null; latency_ms: number }>(
      `select attempt, status_code, error, latency_ms from webhook_attempts where delivery_id = $1 order by attempt`,
      [deliveryId],
    );
    return rows;
  }

  /** Waits until attempt `n` of the endpoint's only (or `index`th) delivery has been recorded. */
  async function recorded(endpointId: string, n: number, index = 0, timeoutMs?: number): Promise<DeliveryRow> {
    const rows = await until(
      () => deliveries(endpointId),
      (r) => r[index] !== undefined && r[index]!.attempts >= n && !r[index]!.locked,
      timeoutMs,
    );
    return rows[index]!;
  }

  return { register, createCustomer, deliveries, attempts, recorded };
}

describe('answers that are not a 2xx, on the app dispatcher', () => {
  let t: TestApp;
  const { register, createCustomer, deliveries, attempts, recorded } = helpers(() => t);

  beforeAll(async () => {
    t = await startTestApp({ OMS_WEBHOOK_ALLOW_HTTP_LOOPBACK: '1', OMS_WEBHOOK_POLL_MS: '20' });
  });
  // Every test registers its own endpoint and receiver; no endpoint of an earlier test may remain.
  beforeEach(async () => {
    await t.pool.query('delete from webhook_endpoints');
  });
  afterAll(async () => {
    await t.close();
  });

  it('does not follow a redirect: a 302 is a failed attempt, and its Location never gets a request', async () => {
    const { receiver: elsewhere, url: elsewhereUrl } = await newReceiver();
    const { receiver, url } = await newReceiver({ status: 302, headers: { location: elsewhereUrl } });
    const endpoint = await register(url);
    await createCustomer();

    const row = await recorded(endpoint.id, 1);
    expect(row).toMatchObject({ status: 'pending', attempts: 1, last_status_code: 302 });
    expect(row.due_in_s).toBeGreaterThan(0);
    expect(receiver.received).toHaveLength(1);
    // Give a follower time it would have needed.
    await sleep(300);
    expect(elsewhere.received).toHaveLength(0);
    expect(elsewhere.connections).toBe(0);
  });

  it('honours a Retry-After longer than the schedule (3600 s)', async () => {
    const { url } = await newReceiver({ status: 503, headers: { 'retry-after': '3600' } });
    const endpoint = await register(url);
    await createCustomer();

    const row = await recorded(endpoint.id, 1);
    expect(row).toMatchObject({ status: 'pending', attempts: 1, last_status_code: 503 });
    expect(row.wait_s).toBeGreaterThanOrEqual(3_600);
    expect(row.wait_s).toBeLessThan(3_602);
    expect(row.due_in_s).toBeGreaterThan(3_590);
  });

  it('honours a Retry-After given as an HTTP date', async () => {
    const { url } = await newReceiver({ status: 503, headers: { 'retry-after': new Date(Date.now() + 7_200_000).toUTCString() } });
    const endpoint = await register(url);
    await createCustomer();

    const row = await recorded(endpoint.id, 1);
    expect(row).toMatchObject({ status: 'pending', last_status_code: 503 });
    expect(row.wait_s).toBeGreaterThan(7_190);
    expect(row.wait_s).toBeLessThan(7_202);
  });

  it('keeps the ~5 s schedule (±10 %) when Retry-After asks for less (1 s)', async () => {
    const { url } = await newReceiver({ status: 503, headers: { 'retry-after': '1' } });
    const endpoint = await register(url);
    await createCustomer();

    const row = await recorded(endpoint.id, 1);
    expect(row).toMatchObject({ status: 'pending', attempts: 1, last_status_code: 503 });
    expect(row.wait_s).toBeGreaterThanOrEqual(4.5);
    // 5.5 s at most, plus the attempt's own latency.
    expect(row.wait_s).toBeLessThan(5.5 + 0.5);
  });

  it(
    'records a receiver that never answers as a failed attempt after 10 s, and the API keeps answering meanwhile',
    async () => {
      const { receiver, url } = await newReceiver('hold');
      const endpoint = await register(url);
      const customerId = await createCustomer();

      await until(() => receiver.received.length, (n) => n === 1);
      const heldAt = Date.now();
      // While the dispatcher waits on the receiver, the server serves requests as usual.
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        const res = await t.api.get(`/v0.9/customers/${customerId}`);
        expect(res.status).toBe(200);
        expect(performance.now() - started).toBeLessThan(1_000);
        await sleep(200);
      }
      const [inFlight] = await deliveries(endpoint.id);
      expect(inFlight).toMatchObject({ status: 'pending', attempts: 1, locked: true, last_error: null });

      const row = await recorded(endpoint.id, 1, 0, 15_000);
      const waited = Date.now() - heldAt;
      expect(waited).toBeGreaterThan(9_000);
      expect(row).toMatchObject({ status: 'pending', attempts: 1, last_status_code: null });
      expect(row.last_error).toMatch(/no answer within 10 s/);
      expect(row.due_in_s).toBeGreaterThan(0);
      const [attempt] = await attempts(row.id);
      expect(attempt).toMatchObject({ attempt: 1, status_code: null, error: expect.stringMatching(/no answer within 10 s/) });
      expect(attempt!.latency_ms).toBeGreaterThanOrEqual(9_900);
      expect(attempt!.latency_ms).toBeLessThan(12_000);
      expect(receiver.received).toHaveLength(1);
    },
    20_000,
  );

  it.each([200, 201, 202, 204, 299])('counts %i as delivered', async (status) => {
    const { receiver, url } = await newReceiver({ status });
    const endpoint = await register(url);
    await createCustomer();

    const row = await until(() => deliveries(endpoint.id), (r) => r[0]?.status === 'delivered');
    expect(row[0]).toMatchObject({ attempts: 1, last_status_code: status, last_error: null, due_in_s: null });
    expect(receiver.received).toHaveLength(1);
  });

  it.each([400, 401, 403, 404, 409, 422, 429, 500, 502])('retries %i on the normal schedule, the endpoint staying active', async (status) => {
    const { url } = await newReceiver({ status });
    const endpoint = await register(url);
    await createCustomer();

    const row = await recorded(endpoint.id, 1);
    expect(row).toMatchObject({ status: 'pending', attempts: 1, last_status_code: status });
    expect(row.wait_s).toBeGreaterThanOrEqual(4.5);
    expect(row.wait_s).toBeLessThan(6);
    expect((await t.api.get(`/v0.9/webhooks/${endpoint.id}`)).body.status).toBe('active');
  });

  describe('the last attempt', () => {
    /** Makes the endpoint's next delivery fail on its 10th and last attempt; returns that delivery. */
    async function failLastAttempt(endpointId: string, index: number): Promise<DeliveryRow> {
      await createCustomer();
      const first = await recorded(endpointId, 1, index);
      expect(first).toMatchObject({ status: 'pending', attempts: 1, last_status_code: 500 });
      await t.pool.query(`update webhook_deliveries set attempts = 9, next_attempt_at = now() where id = $1`, [first.id]);
      const rows = await until(() => deliveries(endpointId), (r) => r[index]?.status !== 'pending');
      return rows[index]!;
    }

    const endpointStatus = async (id: string) => {
      const res = await t.api.get(`/v0.9/webhooks/${id}`);
      expect(res.status).toBe(200);
      return res.body.status as string;
    };
    const failingSince = async (id: string) =>
      (await t.pool.query<{ failing_since: Date | null }>(`select failing_since from webhook_endpoints where id = $1`, [id])).rows[0]!.failing_since;

    it('ends the delivery failed; the endpoint is disabled only once it has failed for longer than 72 h, and enabling resumes it', async () => {
      const { receiver, url } = await newReceiver({ status: 500 });
      const endpoint = await register(url);

      // Failing for seconds: the delivery gives up, the endpoint stays.
      const first = await failLastAttempt(endpoint.id, 0);
      expect(first).toMatchObject({ status: 'failed', attempts: 10, last_status_code: 500, due_in_s: null });
      expect((await attempts(first.id)).map((a) => a.attempt)).toEqual([1, 10]);
      expect(await endpointStatus(endpoint.id)).toBe('active');
      expect(await failingSince(endpoint.id)).not.toBeNull();

      // Failing for 71 h: still under OMS_WEBHOOK_DISABLE_AFTER_HOURS (72 by default).
      await t.pool.query(`update webhook_endpoints set failing_since = now() - interval '71 hours' where id = $1`, [endpoint.id]);
      const second = await failLastAttempt(endpoint.id, 1);
      expect(second).toMatchObject({ status: 'failed', attempts: 10, due_in_s: null });
      expect(await endpointStatus(endpoint.id)).toBe('active');

      // Failing for 4 days: the endpoint is disabled.
      await t.pool.query(`update webhook_endpoints set failing_since = now() - interval '4 days' where id = $1`, [endpoint.id]);
      const third = await failLastAttempt(endpoint.id, 2);
      expect(third).toMatchObject({ status: 'failed', attempts: 10, due_in_s: null });
      expect(await endpointStatus(endpoint.id)).toBe('disabled');
      // A disabled endpoint gets no new delivery.
      await createCustomer();
      expect(await deliveries(endpoint.id)).toHaveLength(3);

      // Its owner enables it again: active, its failure clock reset, deliveries flow.
      const patched = await t.api.patch(`/v0.9/webhooks/${endpoint.id}`, { enabled: true });
      expect(patched.status, patched.raw).toBe(200);
      expect(patched.body).toMatchObject({ status: 'active', enabled: true });
      expect(await endpointStatus(endpoint.id)).toBe('active');
      expect(await failingSince(endpoint.id)).toBeNull();
      receiver.answer = { status: 200 };
      await createCustomer();
      const rows = await until(() => deliveries(endpoint.id), (r) => r[3]?.status === 'delivered');
      expect(rows[3]).toMatchObject({ attempts: 1, last_status_code: 200 });
    });
  });
});

describe('DNS rebinding at delivery', () => {
  let t: TestApp;
  const { register, createCustomer, deliveries, attempts } = helpers(() => t);

  beforeAll(async () => {
    // Production-like: no loopback flag. The app's own dispatcher is stopped; each test drives its own.
    t = await startTestApp({ OMS_WEBHOOK_POLL_MS: '20' });
    await t.dispatcher.stop();
  });
  beforeEach(async () => {
    await t.pool.query('delete from webhook_endpoints');
  });
  afterAll(async () => {
    await t.close();
  });

  /** A dispatcher whose DNS has changed since registration: rebind.public.test now answers `addresses`. */
  function rebindingDispatcher(addresses: string[], guard: GuardOptions = { allowHttpLoopback: t.config.webhookAllowHttpLoopback }): Dispatcher {
    const resolver: Resolver = async (hostname) => (hostname === 'rebind.public.test' ? addresses : testResolver(hostname));
    return createDispatcher({
      db: t.db,
      listenTo: { connectionString: t.databaseUrl },
      keyring: t.keyring,
      resolver,
      guard,
      log: createLogger('silent'),
      pollMs: 20,
      disableAfterMs: 72 * 3_600_000,
    });
  }

  it.each<[string, string[]]>([
    ['loopback', ['127.0.0.1']],
    ['IPv6 loopback', ['::1']],
    ['private', ['10.0.0.7']],
    ['metadata', ['169.254.169.254']],
    ['public then loopback', ['93.184.216.34', '127.0.0.1']],
  ])('refuses a host now resolving to %s, and sends nothing', async (_name, addresses) => {
    const { receiver } = await newReceiver();
    // The port is the local receiver's: had the guard let the request through to 127.0.0.1, it would have got it.
    const endpoint = await register(`https://rebind.public.test:${receiver.port}/hook`);
    await createCustomer();
    expect(await deliveries(endpoint.id)).toMatchObject([{ status: 'pending', attempts: 0 }]);

    const dispatcher = rebindingDispatcher(addresses);
    expect(await dispatcher.drain()).toBe(1);

    const [row] = await deliveries(endpoint.id);
    expect(row).toMatchObject({ status: 'pending', attempts: 1, last_status_code: null, locked: false });
    expect(row!.last_error).toMatch(/^refused at delivery: /);
    // The reason is safe to show: it never names the address.
    for (const address of addresses) expect(row!.last_error).not.toContain(address);
    expect(await attempts(row!.id)).toEqual([{ attempt: 1, status_code: null, error: row!.last_error, latency_ms: 0 }]);
    await sleep(100);
    expect(receiver.connections).toBe(0);
    expect(receiver.received).toHaveLength(0);
  });

  it('control: the receiver does see a connection when loopback is allowed (development flag), so "nothing sent" above is not vacuous', async () => {
    const { receiver } = await newReceiver();
    const endpoint = await register(`https://rebind.public.test:${receiver.port}/hook`);
    await createCustomer();

    const dispatcher = rebindingDispatcher(['127.0.0.1'], { allowHttpLoopback: true });
    expect(await dispatcher.drain()).toBe(1);
    const [row] = await deliveries(endpoint.id);
    // A TLS hello to a plain-HTTP receiver: connected, then failed; not refused.
    expect(row!.last_error).not.toMatch(/refused at delivery/);
    expect(receiver.connections).toBe(1);
  });
});

describe('two dispatchers on one database', () => {
  let t: TestApp;
  let second: { dispatcher: Dispatcher; db: Kysely<Database>; log: () => string } | undefined;
  const { register, deliveries } = helpers(() => t);

  beforeAll(async () => {
    t = await startTestApp({ OMS_WEBHOOK_ALLOW_HTTP_LOOPBACK: '1', OMS_WEBHOOK_POLL_MS: '20' });
  });
  beforeEach(async () => {
    await t.pool.query('delete from webhook_endpoints');
  });
  afterEach(async () => {
    await second?.dispatcher.stop();
    await second?.db.destroy();
    second = undefined;
  });
  afterAll(async () => {
    await t.close();
  });

  function startSecond({ start = true } = {}) {
    let captured = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        captured += chunk.toString();
        done();
      },
    });
    // Its own pool and LISTEN connection, as another process would have.
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: t.databaseUrl, max: 10 }) }) });
    const dispatcher = createDispatcher({
      db,
      listenTo: { connectionString: t.databaseUrl },
      keyring: t.keyring,
      resolver: testResolver,
      guard: { allowHttpLoopback: true },
      log: createLogger('info', sink),
      pollMs: 20,
      disableAfterMs: 72 * 3_600_000,
    });
    if (start) dispatcher.start();
    second = { dispatcher, db, log: () => captured };
    return second;
  }

  it('delivers each of 200 concurrent events exactly once, on the first attempt', async () => {
    const { receiver, url } = await newReceiver();
    const endpoint = await register(url);
    const other = startSecond();

    const created = await Promise.all(Array.from({ length: 200 }, () => t.api.post('/v0.9/customers', {})));
    expect(created.map((r) => r.status)).toEqual(Array(200).fill(201));

    const rows = await until(
      () => deliveries(endpoint.id),
      (r) => r.length === 200 && r.every((d) => d.status === 'delivered'),
      20_000,
    );
    expect(rows.every((d) => d.attempts === 1 && d.last_status_code === 200)).toBe(true);
    // A double claim would send again at about the same time: give it the chance.
    await sleep(500);

    const sent = receiver.received.map((r) => r.headers['webhook-id'] as string);
    const eventIds = rows.map((d) => d.event_id);
    expect(new Set(eventIds).size).toBe(200);
    expect(sent).toHaveLength(200);
    expect([...sent].sort()).toEqual([...eventIds].sort());

    // Every attempt was made by exactly one of the two dispatchers.
    const deliveryIds = new Set(rows.map((d) => d.id));
    const attemptsIn = (log: string) =>
      log
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { msg?: string; deliveryId?: string })
        .filter((entry) => entry.msg === 'webhook attempt' && entry.deliveryId !== undefined && deliveryIds.has(entry.deliveryId)).length;
    const byApp = attemptsIn(t.logs());
    const bySecond = attemptsIn(other.log());
    expect(byApp + bySecond).toBe(200);
  });

  it('splits a backlog of 200 due deliveries between two dispatchers draining at the same moment, each sent once', async () => {
    const { receiver, url } = await newReceiver();
    const endpoint = await register(url);
    await t.dispatcher.stop();
    try {
      const created = await Promise.all(Array.from({ length: 200 }, () => t.api.post('/v0.9/customers', {})));
      expect(created.map((r) => r.status)).toEqual(Array(200).fill(201));
      expect((await deliveries(endpoint.id)).filter((d) => d.status === 'pending' && d.attempts === 0)).toHaveLength(200);

      // Neither loop runs: both drain the same backlog at once, so every claim races the other.
      const other = startSecond({ start: false });
      const [byApp, bySecond] = await Promise.all([t.dispatcher.drain(), other.dispatcher.drain()]);
      expect(byApp + bySecond).toBe(200);
      expect(byApp).toBeGreaterThan(0);
      expect(bySecond).toBeGreaterThan(0);

      const rows = await deliveries(endpoint.id);
      expect(rows.every((d) => d.status === 'delivered' && d.attempts === 1 && d.last_status_code === 200)).toBe(true);
      const sent = receiver.received.map((r) => r.headers['webhook-id'] as string);
      expect(sent).toHaveLength(200);
      expect([...sent].sort()).toEqual(rows.map((d) => d.event_id).sort());
    } finally {
      t.dispatcher.start();
    }
  });
});
