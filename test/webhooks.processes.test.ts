import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/harness.js';
import { cleanUp, spawnCli } from './support/processes.js';
import { Receiver, until, verified } from './support/webhook-receiver.js';

/**
 * The webhook tools that run as their own processes (issue 5): `oms worker`, the dispatcher
 * without the API, and `oms listen`, which forwards a project's events to a local URL.
 */

let t: TestApp;
let receiver: Receiver;
let url: string;

beforeAll(async () => {
  t = await startTestApp({ OMS_WEBHOOK_ALLOW_HTTP_LOOPBACK: '1' });
  // Only the processes under test deliver.
  await t.dispatcher.stop();
  receiver = new Receiver();
  url = await receiver.listen();
});
afterAll(async () => {
  await cleanUp();
  await receiver.close();
  await t.close();
});

function cli(args: string[]) {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: t.databaseUrl,
    OMS_MASTER_KEY: t.config.masterKey!,
    OMS_WEBHOOK_ALLOW_HTTP_LOOPBACK: '1',
    OMS_WEBHOOK_POLL_MS: '50',
    OMS_LOG_LEVEL: 'warn',
  };
  delete env.OMS_MASTER_KEY_PREVIOUS;
  return spawnCli(env, args);
}

function output(child: ChildProcess): () => string {
  let text = '';
  child.stdout!.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return () => text;
}

describe('oms worker', () => {
  it('delivers every event of the API, signed, and stops cleanly on SIGTERM', async () => {
    const endpoint = await t.api.post('/v0.9/webhooks', { url, events: ['customer.created'] });
    expect(endpoint.status).toBe(201);
    const worker = cli(['worker']);
    const before = receiver.received.length;
    const ids = await Promise.all(Array.from({ length: 20 }, async () => (await t.api.post('/v0.9/customers', {})).body.id as string));
    const received = await until(() => receiver.received.slice(before), (r) => r.length >= 20, 20_000);
    expect(received.map((r) => verified(r, endpoint.body.secret).data.object.id).sort()).toEqual([...ids].sort());
    worker.child.kill('SIGTERM');
    expect((await worker.result).code).toBe(0);
    await t.pool.query('delete from webhook_endpoints');
  }, 60_000);
});

describe('oms listen', () => {
  it("forwards the project's new events to a local URL, signed with the secret it prints", async () => {
    const listen = cli(['listen', '--forward-to', url, '--project', t.api.credentials.projectId, '--events', 'customer.created']);
    const stdout = output(listen.child);
    const secret = (await until(stdout, (text) => /Signing secret: whsec_/.test(text), 30_000)).match(/Signing secret: (whsec_[0-9a-f]{64})/)![1]!;
    const before = receiver.received.length;
    const created = await t.api.post('/v0.9/customers', {});
    const [forwarded] = await until(() => receiver.received.slice(before), (r) => r.length >= 1);
    expect(verified(forwarded!, secret)).toMatchObject({ type: 'customer.created', data: { object: { id: created.body.id } } });
    await until(stdout, (text) => text.includes(`customer.created ${forwarded!.headers['webhook-id']} [200]`));
    // Another project's events never reach it.
    const other = await t.client('sandbox');
    expect((await other.post('/v0.9/customers', {})).status).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(receiver.received.slice(before)).toHaveLength(1);
    listen.child.kill('SIGINT');
    expect((await listen.result).code).toBe(0);
  }, 60_000);
});
