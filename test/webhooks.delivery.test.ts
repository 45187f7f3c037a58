import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PII_VALUES, fullCustomer } from './support/fixtures.js';
import { startTestApp, type TestApp } from './support/harness.js';

/**
 * Webhook delivery (spec 6.2) end to end: a change commits, its event fans out, the dispatcher
 * signs and POSTs it to a real local receiver, and the `standardwebhooks` package (not our
 * code) verifies every delivery. The server runs with OMS_WEBHOOK_ALLOW_HTTP_LOOPBACK=1.
 */

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A receiver whose answers a test scripts: the next status codes in order, then 200. */
class Receiver {
  readonly received: Received[] = [];
  private script: { status: number; headers?: Record<string, string> }[] = [];
  private server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      this.received.push({ headers: req.headers, body });
      const next = this.script.shift() ?? { status: 200 };
      res.writeHead(next.status, next.headers).end('ok');
    });
  });

  answer(...statuses: (number | { status: number; headers?: Record<string, string> })[]) {
    this.script = statuses.map((s) => (typeof s === 'number' ? { status: s } : s));
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

let t: TestApp;
let receiver: Receiver;
let url: string;

beforeAll(async () => {
  t = await startTestApp({ OMS_WEBHOOK_ALLOW_HTTP_LOOPBACK: '1', OMS_WEBHOOK_POLL_MS: '20' });
  receiver = new Receiver();
  url = await receiver.listen();
});
// One receiver serves every test: each starts with no endpoint, so only its own receive.
beforeEach(async () => {
  await t.pool.query('delete from webhook_endpoints');
});
afterAll(async () => {
  await t.close();
  await receiver.close();
});

async function until<T>(probe: () => T | Promise<T>, ok: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last value: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function register(events?: string[]) {
  const res = await t.api.post('/v0.9/webhooks', { url, ...(events ? { events } : {}) });
  expect(res.status, res.raw).toBe(201);
  return res.body as { id: string; secret: string };
}

const deliveryRows = async (endpointId: string) =>
  (await t.pool.query(`select event_id, status, attempts, last_status_code from webhook_deliveries where endpoint_id = $1 order by created_at, event_id`, [endpointId])).rows;

describe('signed deliveries', () => {
  it('delivers each event once, signed so that the standardwebhooks verifier accepts it, with the documented body', async () => {
    receiver.answer();
    const endpoint = await register(['customer.created']);
    const before = receiver.received.length;
    const created = await t.api.post('/v0.9/customers', fullCustomer());
    expect(created.status).toBe(201);

    const [delivery] = await until(
      () => receiver.received.slice(before),
      (r) => r.length >= 1,
    );
    const verified = new Webhook(endpoint.secret.slice('whsec_'.length)).verify(delivery!.body, {
      'webhook-id': delivery!.headers['webhook-id'] as string,
      'webhook-timestamp': delivery!.headers['webhook-timestamp'] as string,
      'webhook-signature': delivery!.headers['webhook-signature'] as string,
    }) as any;
    expect(verified).toMatchObject({ object: 'event', type: 'customer.created', data: { object: { id: created.body.id, object: 'customer' } } });
    expect(verified.id).toMatch(/^evt_/);
    expect(delivery!.headers['webhook-id']).toBe(verified.id);
    expect(delivery!.headers['content-type']).toBe('application/json');
    for (const value of PII_VALUES) expect(delivery!.body).not.toContain(value);
    await until(() => deliveryRows(endpoint.id), (rows) => rows[0]?.status === 'delivered');
    expect(await deliveryRows(endpoint.id)).toEqual([{ event_id: verified.id, status: 'delivered', attempts: 1, last_status_code: 200 }]);
  });

  it('rejects every single-byte change of body, id or timestamp', async () => {
    receiver.answer();
    const endpoint = await register(['customer.created']);
    const before = receiver.received.length;
    expect((await t.api.post('/v0.9/customers', {})).status).toBe(201);
    const [delivery] = await until(() => receiver.received.slice(before), (r) => r.length >= 1);
    const verifier = new Webhook(endpoint.secret.slice('whsec_'.length));
    const headers = {
      'webhook-id': delivery!.headers['webhook-id'] as string,
      'webhook-timestamp': delivery!.headers['webhook-timestamp'] as string,
      'webhook-signature': delivery!.headers['webhook-signature'] as string,
    };
    const flip = (text: string, i: number) => `${text.slice(0, i)}${String.fromCharCode(text.charCodeAt(i) ^ 1)}${text.slice(i + 1)}`;
    let refused = 0;
    for (let i = 0; i < delivery!.body.length; i += Math.max(1, Math.floor(delivery!.body.length / 200))) {
      expect(() => verifier.verify(flip(delivery!.body, i), headers)).toThrow();
      refused++;
    }
    for (let i = 0; i < headers['webhook-id'].length; i++) expect(() => verifier.verify(delivery!.body, { ...headers, 'webhook-id': flip(headers['webhook-id'], i) })).toThrow();
    expect(() => verifier.verify(delivery!.body, { ...headers, 'webhook-timestamp': String(Number(headers['webhook-timestamp']) + 1) })).toThrow();
    expect(refused).toBeGreaterThan(100);
  });
});

describe('failures', () => {
  it('tries again after a 500, with the same webhook-id, and records each attempt', async () => {
    const endpoint = await register(['customer.created']);
    receiver.answer(500);
    const before = receiver.received.length;
    expect((await t.api.post('/v0.9/customers', {})).status).toBe(201);
    await until(() => deliveryRows(endpoint.id), (rows) => rows[0]?.attempts === 1 && rows[0]?.status === 'pending');
    // The first retry comes after about 5 s: bring it forward rather than wait.
    await t.pool.query(`update webhook_deliveries set next_attempt_at = now() where endpoint_id = $1`, [endpoint.id]);
    const rows = await until(() => deliveryRows(endpoint.id), (r) => r[0]?.status === 'delivered');
    expect(rows[0]).toMatchObject({ attempts: 2, last_status_code: 200 });
    const sent = receiver.received.slice(before);
    expect(sent.map((r) => r.headers['webhook-id'])).toEqual([rows[0].event_id, rows[0].event_id]);
    const attempts = await t.pool.query(`select a.attempt, a.status_code from webhook_attempts a join webhook_deliveries d on d.id = a.delivery_id where d.endpoint_id = $1 order by a.attempt`, [endpoint.id]);
    expect(attempts.rows).toEqual([
      { attempt: 1, status_code: 500 },
      { attempt: 2, status_code: 200 },
    ]);
  });

  it('disables the endpoint at once on 410 Gone', async () => {
    const endpoint = await register(['customer.created']);
    receiver.answer(410);
    expect((await t.api.post('/v0.9/customers', {})).status).toBe(201);
    await until(() => t.api.get(`/v0.9/webhooks/${endpoint.id}`), (res) => res.body.status === 'disabled');
    expect(await deliveryRows(endpoint.id)).toEqual([expect.objectContaining({ status: 'failed', attempts: 1, last_status_code: 410 })]);
    // A disabled endpoint gets no new delivery.
    expect((await t.api.post('/v0.9/customers', {})).status).toBe(201);
    expect(await deliveryRows(endpoint.id)).toHaveLength(1);
  });
});
