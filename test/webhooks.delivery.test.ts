import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PII_VALUES, fullCustomer } from './support/fixtures.js';
import { startTestApp, type TestApp } from './support/harness.js';
import { Receiver, until, verified } from './support/webhook-receiver.js';

/**
 * Webhook delivery (spec 6.2) end to end: a change commits, its event fans out, the dispatcher
 * signs and POSTs it to a real local receiver, and the `standardwebhooks` package (not our
 * code) verifies every delivery. The server runs with OMS_WEBHOOK_ALLOW_HTTP_LOOPBACK=1.
 */

const ADMIN_TOKEN = 'delivery-admin-token-5e2a9c71';

let t: TestApp;
let receiver: Receiver;
let url: string;

beforeAll(async () => {
  t = await startTestApp({ OMS_WEBHOOK_ALLOW_HTTP_LOOPBACK: '1', OMS_WEBHOOK_POLL_MS: '20', OMS_ADMIN_TOKEN: ADMIN_TOKEN });
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
    const event = verified(delivery!, endpoint.secret);
    expect(event).toMatchObject({ object: 'event', type: 'customer.created', data: { object: { id: created.body.id, object: 'customer' } } });
    expect(event.id).toMatch(/^evt_/);
    expect(delivery!.headers['webhook-id']).toBe(event.id);
    expect(delivery!.headers['content-type']).toBe('application/json');
    for (const value of PII_VALUES) expect(delivery!.body).not.toContain(value);
    await until(() => deliveryRows(endpoint.id), (rows) => rows[0]?.status === 'delivered');
    expect(await deliveryRows(endpoint.id)).toEqual([{ event_id: event.id, status: 'delivered', attempts: 1, last_status_code: 200 }]);
  });

  it('1,000 deliveries all verify, carry no PII, and 1,000 single-byte changes of body, id or timestamp are all rejected', async () => {
    receiver.answer();
    const endpoint = await register(['customer.created']);
    const before = receiver.received.length;
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < 1_000) expect((await t.api.post('/v0.9/customers', fullCustomer({ externalId: `bulk-${next++}` }))).status).toBe(201);
      }),
    );
    const deliveries = await until(() => receiver.received.slice(before), (r) => r.length >= 1_000, 60_000);
    expect(deliveries).toHaveLength(1_000);
    const verifier = new Webhook(endpoint.secret.slice('whsec_'.length));
    const flip = (text: string, i: number) => `${text.slice(0, i)}${String.fromCharCode(text.charCodeAt(i) ^ 1)}${text.slice(i + 1)}`;
    for (const [n, delivery] of deliveries.entries()) {
      const headers = {
        'webhook-id': delivery.headers['webhook-id'] as string,
        'webhook-timestamp': delivery.headers['webhook-timestamp'] as string,
        'webhook-signature': delivery.headers['webhook-signature'] as string,
      };
      expect(verifier.verify(delivery.body, headers)).toMatchObject({ type: 'customer.created' });
      for (const value of PII_VALUES) expect(delivery.body).not.toContain(value);
      // One mutation per delivery, each at another byte: of the body, the id or the timestamp.
      if (n % 3 === 0) expect(() => verifier.verify(flip(delivery.body, n % delivery.body.length), headers)).toThrow();
      if (n % 3 === 1) expect(() => verifier.verify(delivery.body, { ...headers, 'webhook-id': flip(headers['webhook-id'], n % headers['webhook-id'].length) })).toThrow();
      if (n % 3 === 2) {
        const stamp = headers['webhook-timestamp'];
        const i = n % stamp.length;
        const changed = `${stamp.slice(0, i)}${(Number(stamp[i]) + 1) % 10}${stamp.slice(i + 1)}`;
        expect(() => verifier.verify(delivery.body, { ...headers, 'webhook-timestamp': changed })).toThrow();
      }
    }
  }, 120_000);
});

describe('failures', () => {
  it('answered 500 twice then 200: three attempts, one webhook-id, each recorded', async () => {
    const endpoint = await register(['customer.created']);
    receiver.answer(500, 500);
    const before = receiver.received.length;
    expect((await t.api.post('/v0.9/customers', {})).status).toBe(201);
    for (const failed of [1, 2]) {
      // Recorded, not merely claimed (a claim counts the attempt before it is sent).
      const recorded = () => t.pool.query(`select count(*)::int as n from webhook_attempts a join webhook_deliveries d on d.id = a.delivery_id where d.endpoint_id = $1`, [endpoint.id]);
      await until(recorded, (res) => res.rows[0].n === failed);
      // Retries come after about 5 s and 5 min: bring each forward rather than wait.
      await t.pool.query(`update webhook_deliveries set next_attempt_at = now() where endpoint_id = $1`, [endpoint.id]);
    }
    const rows = await until(() => deliveryRows(endpoint.id), (r) => r[0]?.status === 'delivered');
    expect(rows[0]).toMatchObject({ attempts: 3, last_status_code: 200 });
    const sent = receiver.received.slice(before);
    expect(sent.map((r) => r.headers['webhook-id'])).toEqual([rows[0].event_id, rows[0].event_id, rows[0].event_id]);
    const attempts = await t.pool.query(`select a.attempt, a.status_code from webhook_attempts a join webhook_deliveries d on d.id = a.delivery_id where d.endpoint_id = $1 order by a.attempt`, [endpoint.id]);
    expect(attempts.rows).toEqual([
      { attempt: 1, status_code: 500 },
      { attempt: 2, status_code: 500 },
      { attempt: 3, status_code: 200 },
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

describe('developer tools', () => {
  it('logs every attempt of a delivery, with status code and latency, and retries one on request with the same webhook-id', async () => {
    const endpoint = await register(['customer.created']);
    receiver.answer(503);
    const before = receiver.received.length;
    expect((await t.api.post('/v0.9/customers', {})).status).toBe(201);
    // Recorded, not merely claimed: a claim counts the attempt before it is sent.
    await until(() => deliveryRows(endpoint.id), (rows) => rows[0]?.last_status_code === 503);

    const log = await t.api.get(`/v0.9/webhooks/${endpoint.id}/deliveries`);
    expect(log.status, log.raw).toBe(200);
    const [delivery] = log.body.data;
    expect(delivery).toMatchObject({ object: 'webhookDelivery', webhookId: endpoint.id, eventType: 'customer.created', status: 'pending', deliveredAt: null });
    expect(delivery.attempts).toEqual([{ attempt: 1, startedAt: expect.any(String), statusCode: 503, error: null, latencyMs: expect.any(Number) }]);
    expect(Date.parse(delivery.nextAttemptAt) - Date.now()).toBeGreaterThan(3_000);

    const retried = await t.api.post(`/v0.9/webhooks/${endpoint.id}/deliveries/${delivery.id}/retry`, undefined);
    expect(retried.status, retried.raw).toBe(200);
    await until(() => deliveryRows(endpoint.id), (rows) => rows[0]?.status === 'delivered');
    const after = (await t.api.get(`/v0.9/webhooks/${endpoint.id}/deliveries`)).body.data[0];
    expect(after.attempts.map((a: { statusCode: number }) => a.statusCode)).toEqual([503, 200]);
    expect(receiver.received.slice(before).map((r) => r.headers['webhook-id'])).toEqual([delivery.eventId, delivery.eventId]);

    expect((await t.api.post(`/v0.9/webhooks/${endpoint.id}/deliveries/0b7c8a52-4f7e-4d1e-9a39-2d1c1a3f9e10/retry`, undefined)).status).toBe(404);
    expect((await t.api.post(`/v0.9/webhooks/${endpoint.id}/deliveries/not-a-uuid/retry`, undefined)).status).toBe(404);
  });

  it('resends an event to every endpoint that matches it now, and lists events newest first by type', async () => {
    const created = await t.api.post('/v0.9/customers', {});
    expect((await t.api.patch(`/v0.9/customers/${created.body.id}`, { firstName: 'Later' })).status).toBe(200);
    const listed = await t.api.get('/v0.9/events?limit=100');
    const mine = listed.body.data.filter((e: any) => e.data.object.id === created.body.id).map((e: any) => e.type);
    expect(mine[0]).toBe('customer.updated');
    expect(mine[mine.length - 1]).toBe('customer.created');
    const onlyCreated = await t.api.get('/v0.9/events?type=customer.created&limit=1');
    const [event] = onlyCreated.body.data;
    expect(event).toMatchObject({ object: 'event', type: 'customer.created', data: { object: { id: created.body.id } } });
    expect((await t.api.get(`/v0.9/events/${event.id}`)).body).toEqual(event);

    // An endpoint registered after the event gets it on resend, once.
    receiver.answer();
    const endpoint = await register(['customer.created']);
    const before = receiver.received.length;
    const resent = await t.api.post(`/v0.9/events/${event.id}/resend`, undefined);
    expect(resent.status, resent.raw).toBe(200);
    expect(resent.body).toEqual({ object: 'eventResend', eventId: event.id, deliveries: 1 });
    await until(() => deliveryRows(endpoint.id), (rows) => rows[0]?.status === 'delivered');
    expect(receiver.received.slice(before).map((r) => r.headers['webhook-id'])).toEqual([event.id]);
  });

  it('never lists or resends a compliance-only event', async () => {
    const { rows } = await t.pool.query(
      `insert into events (project_id, mode, id, type, data, created_at) values ($1, 'sandbox', 'evt_01jd8x3mc6eskv4hzbmt9hdby7', 'underReview', '{"object":{}}', now()) returning id`,
      [t.api.credentials.projectId],
    );
    expect((await t.api.get('/v0.9/events?limit=100')).body.data.map((e: { id: string }) => e.id)).not.toContain(rows[0].id);
    expect((await t.api.get(`/v0.9/events/${rows[0].id}`)).status).toBe(404);
    expect((await t.api.post(`/v0.9/events/${rows[0].id}/resend`, undefined)).status).toBe(404);
  });
});

describe('the compliance-only channel', () => {
  it('brings underReview to compliance-only endpoints alone, which receive nothing else', async () => {
    receiver.answer();
    const ordinary = await register();
    const compliance = await register(['customer.created']);
    const asOperator = { authorization: `Bearer ${ADMIN_TOKEN}`, 'x-operator': 'carol@compliance.example' };
    const set = await t.anonymous.post(`/admin/v1/webhooks/${compliance.id}/compliance-only`, { complianceOnly: true, reason: 'sanctions desk' }, { headers: asOperator });
    expect(set.status, set.raw).toBe(200);
    expect(set.body).toMatchObject({ complianceOnly: true, events: [] });
    // An API key cannot set it: the field is not in the public PATCH.
    expect((await t.api.patch(`/v0.9/webhooks/${ordinary.id}`, { complianceOnly: true })).status).toBe(400);

    const { rows } = await t.pool.query(
      `insert into events (project_id, mode, id, type, data, created_at) values ($1, 'sandbox', 'evt_01jd8x3mc6eskv4hzbmt9hdbz8', 'underReview', '{"object":{"id":"cst_x"}}', now()) returning id`,
      [t.api.credentials.projectId],
    );
    expect((await t.api.post('/v0.9/customers', {})).status).toBe(201);
    await until(() => deliveryRows(compliance.id), (r) => r[0]?.status === 'delivered');
    await until(() => deliveryRows(ordinary.id), (r) => r.length > 0 && r.every((d) => d.status === 'delivered'));
    expect((await deliveryRows(compliance.id)).map((d) => d.event_id)).toEqual([rows[0].id]);
    expect((await deliveryRows(ordinary.id)).map((d) => d.event_id)).not.toContain(rows[0].id);
    const audit = await t.pool.query(`select action, customer_id, detail from operator_audit where detail->>'webhookId' = $1`, [compliance.id]);
    expect(audit.rows).toEqual([{ action: 'setWebhookComplianceOnly', customer_id: null, detail: { webhookId: compliance.id, complianceOnly: true } }]);
  });
});

describe('a receiver that hangs', () => {
  it('holds one send, not the dispatcher: a later event to another endpoint goes out at once', async () => {
    const held: http.ServerResponse[] = [];
    const hanging = http.createServer((_req, res) => held.push(res));
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    try {
      const slow = await t.api.post('/v0.9/webhooks', { url: `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/hook`, events: ['customer.created'] });
      expect(slow.status).toBe(201);
      expect((await t.api.post('/v0.9/customers', {})).status).toBe(201);
      await until(() => held.length, (n) => n === 1);
      // The slow send is in flight (for up to 10 s); a new event must not wait for it.
      receiver.answer();
      const fast = await register(['customer.created']);
      const began = Date.now();
      expect((await t.api.post('/v0.9/customers', {})).status).toBe(201);
      await until(() => deliveryRows(fast.id), (rows) => rows[0]?.status === 'delivered', 3_000);
      expect(Date.now() - began).toBeLessThan(3_000);
      expect((await deliveryRows(slow.body.id))[0]).toMatchObject({ status: 'pending', attempts: 1 });
    } finally {
      for (const res of held) res.destroy();
      await new Promise((resolve) => hanging.close(resolve));
    }
  });
});
