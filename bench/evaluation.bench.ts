import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { embeddedDatabaseUrl } from '../src/db/embedded.js';
import { childEnv, cleanUp, firstKey, ROOT, sigterm, spawnServer, tempRoot, tokenResponse, waitReady } from '../test/support/processes.js';
import { runBench } from './run-bench.js';

/**
 * `npm run bench:evaluation`: live-mode evaluation latency, from a customer's write to its
 * final endorsement status, with the worker in the server process (OMS_KYC_DECISION=auto).
 * Latency is read from the database afterwards (customer created_at to the last ACTIVE in
 * endorsement_history), so no polling loads the server while it works. Baseline, same run:
 * the POST that creates the customer, as its client sees it.
 *
 * Environment: BENCH_CUSTOMERS (default 200), BENCH_IN_FLIGHT (concurrent POSTs, default 4).
 */

const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 200);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 4);
const run = promisify(execFile);

function completeCustomer(i: number) {
  return {
    firstName: 'Grace',
    lastName: `Hopper${i}`,
    email: `grace${i}@example.com`,
    phone: '+12125551234',
    nationality: 'US',
    birthDate: '1980-12-09',
    ipAddress: '192.0.2.10',
    signedAgreement: true,
    residentialAddress: { line1: '1 Main St', city: 'Arlington', state: 'VA', country: 'US', zipCode: '22201' },
    identifyingInformation: [{ type: 'ssn', issuingCountry: 'US', number: '123-45-6789' }],
  };
}

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

async function main(): Promise<void> {
  console.log(`oms-server evaluation bench: node ${process.version}, ${os.cpus().length} CPUs, ${CUSTOMERS} live customers, ${IN_FLIGHT} POSTs in flight`);
  const dataDir = path.join(await tempRoot('oms-eval-bench-'), 'data');
  const server = await spawnServer(dataDir, { OMS_KYC_DECISION: 'auto', OMS_RATE_LIMIT_PER_SECOND: '100000', OMS_RATE_LIMIT_BURST: '100000' });
  await waitReady(server, 60_000);
  await firstKey(server);
  const projectId = /created project (prj_\w+)/.exec(server.stdout())?.[1];
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'keys', 'create', '--mode', 'live', '--project', projectId!, '--json'], {
    cwd: ROOT,
    env: childEnv(dataDir),
  });
  const token = await tokenResponse(server.port, JSON.parse(stdout) as { apiKey: string; apiSecret: string });

  const postMs: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < CUSTOMERS) {
        const i = next++;
        const started = performance.now();
        const res = await fetch(`http://127.0.0.1:${server.port}/v0.9/customers`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token.accessToken}`, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
          body: JSON.stringify(completeCustomer(i)),
        });
        await res.arrayBuffer();
        postMs.push(performance.now() - started);
        if (res.status !== 201) throw new Error(`POST /v0.9/customers: ${res.status}`);
      }
    }),
  );

  const client = new pg.Client({ connectionString: await embeddedDatabaseUrl(dataDir) });
  await client.connect();
  const deadline = Date.now() + 120_000;
  let latencies: number[] = [];
  for (;;) {
    // A customer is final when all three endorsements are ACTIVE; its latency ends at the last grant.
    const { rows } = await client.query<{ ms: string }>(`
      select extract(epoch from (max(h.at) - c.created_at)) * 1000 as ms
        from customers c join endorsement_history h on (h.project_id, h.mode, h.customer_id) = (c.project_id, c.mode, c.id)
       where c.mode = 'live' and h.to_status = 'ACTIVE'
       group by c.project_id, c.mode, c.id, c.created_at
      having count(*) = 3`);
    latencies = rows.map((r) => Number(r.ms));
    if (latencies.length === CUSTOMERS) break;
    if (Date.now() > deadline) throw new Error(`only ${latencies.length} of ${CUSTOMERS} customers reached ACTIVE`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await client.end();
  await sigterm(server, 30_000);

  const fmt = (xs: number[]) => `median ${percentile(xs, 50).toFixed(1)} ms, p99 ${percentile(xs, 99).toFixed(1)} ms`;
  console.log(`baseline: POST /v0.9/customers (client side)          ${fmt(postMs)}`);
  console.log(`evaluation: write to all three endorsements ACTIVE    ${fmt(latencies)}`);
  console.log(`ratio to the POST: median ${(percentile(latencies, 50) / percentile(postMs, 50)).toFixed(2)}×, p99 ${(percentile(latencies, 99) / percentile(postMs, 99)).toFixed(2)}×`);
}

await runBench(main, cleanUp);
