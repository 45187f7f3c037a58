import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { callApi as call, cleanUp, firstKey, sigterm, spawnLoadedServer, tempRoot, tokenResponse, waitReady, type ServerProcess } from './support/processes.js';
import { Receiver, until, verified } from './support/webhook-receiver.js';

/**
 * Issue 5: the outbox loses nothing across crashes. kill -9 the server three times while 500
 * customers are created (each with its Idempotency-Key) and a receiver records deliveries;
 * restart each time, then retry every key. Every committed customer's event is delivered
 * (zero lost), and no event exists for a write that did not commit.
 */

const CHANGES = 500;
const WRITERS = 16;
const KILLS = 3;

let receiver: Receiver;
let url: string;
beforeAll(async () => {
  receiver = new Receiver();
  url = await receiver.listen();
});
afterEach(cleanUp);
afterAll(() => receiver.close());

function startServer(dataDir: string): Promise<ServerProcess> {
  return spawnLoadedServer(dataDir, {
    OMS_WEBHOOK_ALLOW_HTTP_LOOPBACK: '1',
    OMS_WEBHOOK_POLL_MS: '50',
  });
}


describe('webhooks across crashes', () => {
  it('kill -9 three times during 500 changes: every committed change is delivered, none that did not commit', async () => {
    const dataDir = path.join(await tempRoot('oms-webhook-crash-'), 'data');
    let server = await startServer(dataDir);
    await waitReady(server, 30_000);
    const creds = await firstKey(server);
    let bearer = (await tokenResponse(server.port, creds)).accessToken!;
    const endpoint = await call(server.port, bearer, 'POST', '/v0.9/webhooks', { url, events: ['customer.created'] }, 'crash-endpoint');
    expect(endpoint.status).toBe(201);
    const create = (i: number) => call(server.port, bearer, 'POST', '/v0.9/customers', { externalId: `crash-${i}` }, `customer-${i}`);

    let next = 0;
    let answered = 0;
    for (let kill = 1; kill <= KILLS; kill++) {
      let cutOff = 0;
      const load = Promise.all(
        Array.from({ length: WRITERS }, async () => {
          while (next < CHANGES) {
            const i = next++;
            try {
              const res = await create(i);
              expect(res.status).toBe(201);
              answered++;
            } catch {
              // The server is gone: this change may or may not have committed; the retry below will tell.
              cutOff++;
              return;
            }
          }
        }),
      );
      while (answered < (kill * CHANGES) / (KILLS + 1)) await sleep(5);
      server.child.kill('SIGKILL');
      await load;
      expect(cutOff, `kill ${kill} landed mid-load`).toBeGreaterThan(0);
      server = await startServer(dataDir);
      await waitReady(server, 30_000);
      bearer = (await tokenResponse(server.port, creds)).accessToken!;
    }

    // Every key again, honouring Retry-After for keys a dead process had claimed.
    const customers = new Map<number, string>();
    let retry = 0;
    await Promise.all(
      Array.from({ length: WRITERS }, async () => {
        while (retry < CHANGES) {
          const i = retry++;
          for (;;) {
            const res = await create(i);
            if (res.status === 201) {
              customers.set(i, res.body.id);
              break;
            }
            expect([res.status, res.body.error?.code]).toEqual([409, 'idempotency_key_in_use']);
            await sleep(res.retryAfter * 1000);
          }
        }
      }),
    );
    expect(new Set(customers.values()).size).toBe(CHANGES);

    // The event log holds exactly one customer.created per committed customer, and nothing else.
    const events: { id: string; data: { object: { id: string } } }[] = [];
    for (let cursor: string | null = null; ; ) {
      const page = await call(server.port, bearer, 'GET', `/v0.9/events?type=customer.created&limit=100${cursor ? `&startingAfter=${cursor}` : ''}`);
      events.push(...page.body.data);
      cursor = page.body.nextCursor;
      if (!cursor) break;
    }
    expect(events.map((e) => e.data.object.id).sort()).toEqual([...customers.values()].sort());

    // Every one of them reaches the receiver (some more than once: at least once), signed.
    const wanted = new Set(events.map((e) => e.id));
    await until(
      () => new Set(receiver.received.map((r) => r.headers['webhook-id'] as string)),
      (got) => [...wanted].every((id) => got.has(id)),
      120_000,
    );
    for (const r of receiver.received) expect(wanted.has(verified(r, endpoint.body.secret).id)).toBe(true);
    expect((await sigterm(server, 30_000)).code).toBe(0);
  }, 300_000);
});
