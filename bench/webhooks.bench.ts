import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Result } from 'autocannon';
import { childEnv, cleanUp, firstKey, ROOT, sigterm, spawnServer, tokenResponse, trackChild, waitReady, type ServerProcess } from '../test/support/processes.js';
import { Receiver } from '../test/support/webhook-receiver.js';
import type { LoadJob } from './load-worker.js';
import { runBench } from './run-bench.js';

/**
 * `npm run bench:webhooks` (issue 5): deliveries per second to a receiver that answers 200 at
 * once, from one and from two `oms worker` processes draining the same backlog; the time from
 * commit to delivery under a steady 500 events/s; and whether a receiver that hangs 10 s on
 * every request moves the API's GET p99 (same process, in-process dispatcher), against the
 * same run with a receiver that answers at once.
 *
 * Environment: BENCH_BACKLOG (deliveries per drain, default 4000), BENCH_ROUNDS (default 3).
 */

const BACKLOG = Number(process.env.BENCH_BACKLOG ?? 4000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const STEADY_RATE = 500;
const STEADY_SECONDS = 10;
const TARGETS = { perSecond: 500, p99Ms: 1_000, getP99Factor: 1.2 };
const SERVER_ENV = {
  OMS_LOG_LEVEL: 'warn',
  OMS_RATE_LIMIT_PER_SECOND: '10000000',
  OMS_RATE_LIMIT_BURST: '10000000',
  OMS_WEBHOOK_ALLOW_HTTP_LOOPBACK: '1',
  OMS_WEBHOOK_POLL_MS: '50',
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

interface Api {
  port: number;
  bearer: string;
}

async function call(api: Api, method: string, target: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${api.port}${target}`, {
    method,
    headers: { authorization: `Bearer ${api.bearer}`, 'content-type': 'application/json', ...(method === 'POST' ? { 'idempotency-key': crypto.randomUUID() } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

/** Creates `count` customers with 16 writers; each is one customer.created delivery. */
async function createCustomers(api: Api, count: number): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next++ < count) {
        const res = await call(api, 'POST', '/v0.9/customers', {});
        if (res.status !== 201) throw new Error(`create customer: ${res.status} ${JSON.stringify(res.body)}`);
        ids.push(res.body.id);
      }
    }),
  );
  return ids;
}

/** Customers at a steady rate, in 20 ms ticks, for `seconds`; returns how many were created. */
async function createAtRate(api: Api, perSecond: number, seconds: number): Promise<number> {
  const tick = 20;
  const perTick = (perSecond * tick) / 1000;
  const end = Date.now() + seconds * 1000;
  const pending: Promise<{ status: number }>[] = [];
  let owed = 0;
  while (Date.now() < end) {
    owed += perTick;
    for (; owed >= 1; owed--) pending.push(call(api, 'POST', '/v0.9/customers', {}));
    await sleep(tick);
  }
  return (await Promise.all(pending)).filter((res) => res.status === 201).length;
}

function startWorkers(dataDir: string, count: number) {
  return Array.from({ length: count }, () =>
    trackChild(
      spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'worker'], { cwd: ROOT, env: childEnv(dataDir, SERVER_ENV), stdio: ['ignore', 'ignore', 'inherit'] }),
    ),
  );
}

async function stopWorkers(workers: ReturnType<typeof startWorkers>): Promise<void> {
  await Promise.all(workers.map((w) => new Promise((resolve) => (w.once('exit', resolve), w.kill('SIGTERM')))));
}

async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function connect(server: ServerProcess, creds: { apiKey: string; apiSecret: string }): Promise<Api> {
  return { port: server.port, bearer: (await tokenResponse(server.port, creds)).accessToken! };
}

function runLoad(job: LoadJob): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/load-worker.ts', JSON.stringify(job)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as Result) : reject(new Error(`load worker exited ${code}`))));
  });
}

async function main(): Promise<void> {
  const began = performance.now();
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'oms-bench-webhooks-'));
  await fs.chmod(tmp, 0o711);
  const dataDir = path.join(tmp, 'data');
  const misses: string[] = [];
  console.log(`oms-server webhooks bench: node ${process.version}, ${os.cpus().length} CPUs, ${ROUNDS} rounds, backlog ${BACKLOG}`);

  // ---- throughput and commit-to-delivery: the API alone, deliveries by `oms worker` processes
  let server = await spawnServer(dataDir, { ...SERVER_ENV, OMS_BACKGROUND_WORK: '0' });
  await waitReady(server, 60_000);
  const creds = await firstKey(server);
  let api = await connect(server, creds);
  const receiver = new Receiver();
  const endpoint = await call(api, 'POST', '/v0.9/webhooks', { url: await receiver.listen(), events: ['customer.created'] });
  if (endpoint.status !== 201) throw new Error(`register endpoint: ${endpoint.status}`);

  const rates = new Map<number, number[]>([
    [1, []],
    [2, []],
  ]);
  for (let round = 0; round < ROUNDS; round++) {
    for (const workers of [1, 2]) {
      await createCustomers(api, BACKLOG);
      const from = receiver.received.length;
      const running = startWorkers(dataDir, workers);
      await waitFor(() => receiver.received.length >= from + BACKLOG, 120_000, `${BACKLOG} deliveries`);
      const got = receiver.received.slice(from);
      const seconds = (got[got.length - 1]!.at - got[0]!.at) / 1000;
      rates.get(workers)!.push(BACKLOG / seconds);
      await stopWorkers(running);
    }
  }
  console.log(`\nbacklog of ${BACKLOG} deliveries drained by oms worker processes (first to last delivery):`);
  for (const [workers, figures] of rates) {
    const rate = median(figures);
    const target = workers === 1 ? `  target ≥ ${TARGETS.perSecond}/s ${verdict(rate >= TARGETS.perSecond)}` : '';
    console.log(`  ${workers} worker${workers > 1 ? 's' : ' '} ${rate.toFixed(0).padStart(6)} deliveries/s  [${figures.map((f) => f.toFixed(0)).join(', ')}]${target}`);
    if (workers === 1 && rate < TARGETS.perSecond) misses.push('deliveries per second');
  }

  const latencies: number[][] = [];
  /** What the API sustained of the asked rate: each customer is one event and one delivery. */
  const offered: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const running = startWorkers(dataDir, 1);
    await sleep(3_000);
    const from = receiver.received.length;
    const created = await createAtRate(api, STEADY_RATE, STEADY_SECONDS);
    await waitFor(() => receiver.received.length >= from + created, 60_000, `${created} steady deliveries (${receiver.received.length - from} so far)`);
    offered.push(created / STEADY_SECONDS);
    latencies.push(receiver.received.slice(from).map((r) => r.at - Date.parse((JSON.parse(r.body) as { createdAt: string }).createdAt)));
    await stopWorkers(running);
  }
  const p50s = latencies.map((l) => percentile(l, 0.5));
  const p99s = latencies.map((l) => percentile(l, 0.99));
  console.log(
    `\ncommit to delivery, one worker, events asked at ${STEADY_RATE}/s for ${STEADY_SECONDS} s (the API sustained ${median(offered).toFixed(0)}/s [${offered.map((o) => o.toFixed(0)).join(', ')}]):`,
  );
  console.log(`  p50 ${median(p50s)} ms [${p50s.join(', ')}]  p99 ${median(p99s)} ms [${p99s.join(', ')}]  target p99 < ${TARGETS.p99Ms} ms ${verdict(median(p99s) < TARGETS.p99Ms)}`);
  if (median(p99s) >= TARGETS.p99Ms) misses.push('commit-to-delivery p99');
  await sigterm(server, 30_000);

  // ---- a receiver that hangs 10 s, against one that answers at once: the API's GET p99
  server = await spawnServer(dataDir, SERVER_ENV);
  await waitReady(server, 60_000);
  api = await connect(server, creds);
  const hanging = http.createServer((_req, res) => setTimeout(() => res.writeHead(200).end(), 10_000));
  await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
  const urls = { prompt: receiver.url, hanging: `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/hook` };
  const customers = await createCustomers(api, 256);
  const gets = new Map<'prompt' | 'hanging', number[]>([
    ['prompt', []],
    ['hanging', []],
  ]);
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of ['prompt', 'hanging'] as const) {
      const patched = await call(api, 'PATCH', `/v0.9/webhooks/${endpoint.body.id}`, { url: urls[kind] });
      if (patched.status !== 200) throw new Error(`patch endpoint: ${patched.status}`);
      const job: LoadJob = {
        url: `http://127.0.0.1:${api.port}`,
        method: 'GET',
        paths: customers.map((id) => `/v0.9/customers/${id}`),
        headers: { authorization: `Bearer ${api.bearer}` },
        connections: 32,
        duration: 10,
      };
      const [result] = await Promise.all([runLoad(job), createAtRate(api, 50, 10)]);
      if (result.non2xx > 0 || result.errors > 0) throw new Error(`GET load: ${result.non2xx} non-2xx, ${result.errors} errors`);
      gets.get(kind)!.push(result.latency.p99);
    }
  }
  const prompt = median(gets.get('prompt')!);
  const hung = median(gets.get('hanging')!);
  console.log(`\nGET customer p99 at 32 connections while 50 customers/s are created and delivered, in-process dispatcher:`);
  console.log(`  receiver answers at once  ${prompt} ms [${gets.get('prompt')!.join(', ')}]`);
  console.log(`  receiver hangs 10 s       ${hung} ms [${gets.get('hanging')!.join(', ')}]  ${(hung / prompt).toFixed(2)}×  target ≤ ${TARGETS.getP99Factor}× ${verdict(hung / prompt <= TARGETS.getP99Factor)}`);
  if (hung / prompt > TARGETS.getP99Factor) misses.push('GET p99 with a hanging receiver');
  hanging.closeAllConnections();
  hanging.close();
  await sigterm(server, 30_000);
  await receiver.close();

  console.log(`\n${misses.length === 0 ? 'all targets met' : `targets missed: ${misses.join(', ')}`}; bench took ${((performance.now() - began) / 1000).toFixed(0)} s`);
  await fs.rm(tmp, { recursive: true, force: true });
}

await runBench(main, cleanUp);
