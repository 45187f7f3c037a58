import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/harness.js';
import { cleanUsCustomer, evaluationsLogged, until } from './support/live-customers.js';
import { cleanUp, sigterm, spawnServer, tempRoot, tokenResponse, waitReady, type ServerProcess } from './support/processes.js';

/**
 * Issue 3: two server processes on one database never evaluate the same job twice. Each
 * process runs its own evaluation worker; the jobs are claimed with SKIP LOCKED and a lease,
 * and a job's outcome is stored only while it is still the current job.
 */

const CUSTOMERS = 60;
let t: TestApp;
const servers: ServerProcess[] = [];

beforeAll(async () => {
  t = await startTestApp();
  const database = { url: t.databaseUrl, masterKey: t.config.masterKey! };
  for (let i = 0; i < 2; i++) {
    const dataDir = path.join(await tempRoot('oms-eval-procs-'), 'data');
    servers.push(await spawnServer(dataDir, { OMS_RATE_LIMIT_PER_SECOND: '100000', OMS_RATE_LIMIT_BURST: '100000' }, database));
  }
  await Promise.all(servers.map((server) => waitReady(server, 60_000)));
}, 120_000);

afterAll(async () => {
  await cleanUp();
  await t?.close();
});

describe('two server processes on one database', () => {
  it('share the evaluations, and none is run twice', async () => {
    // Only the two processes evaluate: the test app's own worker stands aside.
    await t.worker.stop();
    const credentials = await t.createKey('live');
    const tokens = await Promise.all(servers.map((server) => tokenResponse(server.port, credentials)));
    const ids: string[] = [];
    await Promise.all(
      Array.from({ length: CUSTOMERS }, async (_, i) => {
        // Writes go to both processes, as behind a load balancer.
        const server = servers[i % 2]!;
        const res = await fetch(`http://127.0.0.1:${server.port}/v0.9/customers`, {
          method: 'POST',
          headers: { authorization: `Bearer ${tokens[i % 2]!.accessToken}`, 'content-type': 'application/json', 'idempotency-key': `procs-${i}` },
          body: JSON.stringify(cleanUsCustomer({ lastName: `Oakhurst${i}`, email: `maren${i}@example.com` })),
        });
        expect(res.status).toBe(201);
        ids.push(((await res.json()) as { id: string }).id);
      }),
    );

    await until(
      async () => (await t.pool.query(`select count(*)::int as n from customer_endorsements where mode = 'live' and status = 'ACTIVE'`)).rows[0].n as number,
      (n) => n === CUSTOMERS * 3,
      'every endorsement ACTIVE',
      30_000,
    );
    // Stopping flushes each process's buffered log.
    for (const server of servers) expect((await sigterm(server, 30_000)).code).toBe(0);

    const perProcess = servers.map((server) => evaluationsLogged(server.stdout()).filter((line) => ids.includes(line.customerId)));
    const all = perProcess.flat();
    const jobIds = all.map((line) => line.jobId as string);
    expect(new Set(jobIds).size, 'a job evaluated twice').toBe(jobIds.length);
    for (const lines of perProcess) expect(lines.length, 'each process evaluated some').toBeGreaterThan(0);
    // One evaluation per customer, stored: no job was superseded, none is left.
    expect(all.filter((line) => line.moves !== 'superseded')).toHaveLength(CUSTOMERS);
    expect((await t.pool.query(`select count(*)::int as n from evaluation_jobs`)).rows[0].n).toBe(0);
    const grants = await t.pool.query(
      `select customer_id, name, count(*)::int as n from endorsement_history where mode = 'live' and to_status = 'ACTIVE' group by 1, 2`,
    );
    expect(grants.rows).toHaveLength(CUSTOMERS * 3);
    for (const row of grants.rows) expect(row.n).toBe(1);
  }, 90_000);
});
