import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { embeddedDatabaseUrl } from '../src/db/embedded.js';
import { callApi, cleanUp, firstKey, ROOT, spawnLoadedServer, tempRoot, tokenResponse, trackChild, waitReady } from '../test/support/processes.js';
import type { Pair, PairRun } from './pair-loops.js';
import type { PairJob } from './transactions-load.js';
import { runBench } from './run-bench.js';

/**
 * `npm run bench:transactions` (also run by `npm run bench`): quote + transaction pairs per
 * second, internal sends of 1 usdc between 100 funded wallets over 32 connections, against
 * the floor (bench/transactions-floor.ts: the same SQL sent directly, one database
 * transaction per pair, no HTTP), in interleaved rounds on the same embedded database. The
 * server settles in-process, as `npm start` does; time from POST to completed is read from
 * the rows (completed_at − created_at, both the server's clock).
 *
 * Environment: BENCH_DURATION (seconds per measured run, default 10), BENCH_ROUNDS (default 5).
 */

const CONNECTIONS = 32;
const WALLETS = 100;
const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const WARMUP_S = 2;
const TARGETS = { completedPerSecond: 300, ratio: 0.4, sendP99Ms: 50 };
/** The offered rate at which POST latency is measured: half the throughput target, in an open loop. */
const STEADY_PER_SECOND = Number(process.env.BENCH_STEADY_PER_SECOND ?? 150);


const percentile = (xs: number[], p: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
};
const median = (xs: number[]) => percentile(xs, 50);
const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

function runChild(script: string, job: unknown): Promise<PairRun> {
  return new Promise((resolve, reject) => {
    const child = trackChild(spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(job)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] }));
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as PairRun) : reject(new Error(`${script} failed (${code}):\n${err}`))));
  });
}

async function setUp(port: number, bearer: string): Promise<Pair[]> {
  const call = async (url: string, body: unknown) => {
    const res = await callApi(port, bearer, 'POST', url, body, crypto.randomUUID());
    if (res.status >= 300) throw new Error(`${url}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  };
  const senders: { customerId: string; walletId: string }[] = [];
  for (let i = 0; i < WALLETS; i++) {
    const customer = await call('/v0.9/customers', {});
    const wallet = await call(`/v0.9/customers/${customer.id}/wallets`, { asset: 'usdc', chain: 'polygon' });
    await call(`/v0.9/sandbox/wallets/${wallet.id}/deposit`, { amount: '1000000' });
    senders.push({ customerId: customer.id, walletId: wallet.id });
  }
  return senders.map((s, i) => ({ customerId: s.customerId, from: s.walletId, to: senders[(i + 1) % senders.length]!.walletId }));
}

interface Settled {
  completed: number;
  perSecond: number;
  p50: number;
  p99: number;
}

/** Waits until every transaction the run created is final, then reads how fast they completed. */
async function settledSince(db: pg.Pool, since: Date): Promise<Settled> {
  for (;;) {
    const { rows } = await db.query(`select count(*)::int as n from transactions where created_at >= $1 and status = 'processing' and settle_after < '9000-01-01'`, [since]);
    if (rows[0].n === 0) break;
    await sleep(100);
  }
  const { rows } = await db.query(
    `select count(*)::int as completed,
            extract(epoch from max(completed_at) - min(created_at)) as span_s,
            percentile_disc(0.5) within group (order by extract(epoch from completed_at - created_at) * 1000) as p50,
            percentile_disc(0.99) within group (order by extract(epoch from completed_at - created_at) * 1000) as p99
       from transactions where created_at >= $1 and status = 'completed' and settle_after < '9000-01-01'`,
    [since],
  );
  const r = rows[0];
  return { completed: r.completed, perSecond: r.completed / Number(r.span_s), p50: Number(r.p50), p99: Number(r.p99) };
}

async function main(): Promise<void> {
  const began = performance.now();
  console.log(`oms-server transactions bench: node ${process.version}, ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  const dataDir = path.join(await tempRoot('oms-bench-tx-'), 'data');
  const server = await spawnLoadedServer(dataDir);
  await waitReady(server, 60_000);
  const creds = await firstKey(server);
  const bearer = (await tokenResponse(server.port, creds)).accessToken!;
  const pairs = await setUp(server.port, bearer);
  const projectId = /created project (prj_\w+)/.exec(server.stdout() + server.stderr())?.[1];
  const databaseUrl = await embeddedDatabaseUrl(dataDir);
  const db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const project = projectId ?? (await db.query(`select project_id from wallets limit 1`)).rows[0].project_id;

  const serverJob = (duration: number): PairJob => ({ port: server.port, bearer, pairs, connections: CONNECTIONS, duration });
  const floorJob = (duration: number) => ({ databaseUrl, projectId: project, pairs, connections: CONNECTIONS, duration });
  await runChild('bench/transactions-load.ts', serverJob(WARMUP_S));
  await runChild('bench/transactions-floor.ts', floorJob(WARMUP_S));
  // The steady state, not a database's first minute: with no statistics yet, the planner
  // cannot tell a primary key from any other index on (project_id, mode, …) and may walk
  // every account of the project per posting. Autovacuum analyzes within a minute of traffic.
  await db.query('analyze');

  const rounds: { server: PairRun; settled: Settled; floor: PairRun; steady: PairRun; steadySettled: Settled }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const since = new Date();
    const served = await runChild('bench/transactions-load.ts', serverJob(DURATION_S));
    const settled = await settledSince(db, since);
    const floor = await runChild('bench/transactions-floor.ts', floorJob(DURATION_S));
    const steadySince = new Date();
    const steady = await runChild('bench/transactions-load.ts', { ...serverJob(DURATION_S), perSecond: STEADY_PER_SECOND });
    const steadySettled = await settledSince(db, steadySince);
    for (const [side, run] of [['server', served], ['floor', floor], ['steady server', steady]] as const) {
      if (run.failureCount > 0) throw new Error(`${side}: ${run.failureCount} failures, e.g. ${run.failures.join('; ')}`);
    }
    rounds.push({ server: served, settled, floor, steady, steadySettled });
  }
  await db.end();

  const pairsPerSecond = (run: PairRun) => run.pairs / DURATION_S;
  const ratios = rounds.map((r) => pairsPerSecond(r.server) / pairsPerSecond(r.floor));
  const completed = median(rounds.map((r) => r.settled.perSecond));
  const ratio = median(ratios);
  const sendP99 = median(rounds.map((r) => percentile(r.steady.sendLatencies, 99)));
  const list = (xs: number[], digits = 0) => xs.map((x) => x.toFixed(digits)).join(', ');
  const ms = (runs: PairRun[], p: number) => median(runs.map((r) => percentile(r.sendLatencies, p))).toFixed(1);
  console.log(`\n${CONNECTIONS} connections, ${DURATION_S} s per run after ${WARMUP_S} s warm-up, ${WALLETS} funded wallets, ${ROUNDS} rounds of server then floor; medians [each round]`);
  console.log(`  server  ${median(rounds.map((r) => pairsPerSecond(r.server))).toFixed(0)} pairs/s [${list(rounds.map((r) => pairsPerSecond(r.server)))}]`);
  console.log(`  floor   ${median(rounds.map((r) => pairsPerSecond(r.floor))).toFixed(0)} pairs/s [${list(rounds.map((r) => pairsPerSecond(r.floor)))}]`);
  console.log(`  ratio   ${ratio.toFixed(2)} [${list(ratios, 2)}] (target ≥ ${TARGETS.ratio}) ${verdict(ratio >= TARGETS.ratio)}`);
  console.log(`  completed ${completed.toFixed(0)} transactions/s [${list(rounds.map((r) => r.settled.perSecond))}] (target ≥ ${TARGETS.completedPerSecond}) ${verdict(completed >= TARGETS.completedPerSecond)}`);
  console.log(
    `  POST /transactions in the closed loop: p50 ${ms(rounds.map((r) => r.server), 50)} ms, p99 ${ms(rounds.map((r) => r.server), 99)} ms; ` +
      `the floor's transaction: p50 ${ms(rounds.map((r) => r.floor), 50)} ms, p99 ${ms(rounds.map((r) => r.floor), 99)} ms`,
  );
  console.log(`  POST to completed in the closed loop: p50 ${median(rounds.map((r) => r.settled.p50)).toFixed(0)} ms, p99 ${median(rounds.map((r) => r.settled.p99)).toFixed(0)} ms`);
  console.log(
    `  at a steady ${STEADY_PER_SECOND} pairs/s (open loop): POST /transactions p50 ${ms(rounds.map((r) => r.steady), 50)} ms, p99 ${sendP99.toFixed(1)} ms ` +
      `[${list(rounds.map((r) => percentile(r.steady.sendLatencies, 99)), 1)}] (target < ${TARGETS.sendP99Ms} ms) ${verdict(sendP99 < TARGETS.sendP99Ms)}; ` +
      `POST to completed p50 ${median(rounds.map((r) => r.steadySettled.p50)).toFixed(0)} ms, p99 ${median(rounds.map((r) => r.steadySettled.p99)).toFixed(0)} ms`,
  );
  console.log(`\nbench took ${((performance.now() - began) / 1000).toFixed(0)} s`);
}

await runBench(main, cleanUp);
