import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, openSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { Result } from 'autocannon';
import { embeddedDatabaseUrl } from '../src/db/embedded.js';
import { freePort } from '../src/net/free-port.js';
import { childEnv } from '../test/support/processes.js';
import type { LoadJob } from './load-worker.js';
import { runBench } from './run-bench.js';
import { settleDatabase } from './settle-database.js';

/**
 * `npm run bench`: the real server against a floor server (bench/floor-server.ts) on the same
 * database, route by route (a customer's GET and PATCH, a sandbox deposit, a wallet balance),
 * plus cold and warm start times. Every party is its own process: the server, the
 * floor, and each autocannon run (bench/load-worker.ts), so none steals the others' event loop.
 *
 * Environment: BENCH_DURATION (seconds per measured run, default 10), BENCH_ROUNDS (default 5),
 * BENCH_LOG_LEVEL (the server's OMS_LOG_LEVEL; default unset, i.e. the server's own default),
 * BENCH_ONLY (comma-separated scenario names, e.g. "POST deposit"; default all).
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CONNECTIONS = 32;
const DURATION_S = Number(process.env.BENCH_DURATION ?? 10);
/** Rounds of server-then-floor runs, interleaved so drift in the machine hits both sides alike. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const WARMUP_S = 2;
const CUSTOMERS = 256;
const WALLETS = 100;
const START_RUNS = 3;
const TARGETS = { coldMs: 3_000, warmMs: 1_500 };
const ONLY = process.env.BENCH_ONLY?.split(',').map((name) => name.trim());

/** One measured route: what the server and the floor are asked, and what is expected of the ratio. */
interface Scenario {
  name: string;
  method: 'GET' | 'PATCH' | 'POST';
  server: string[];
  floor: string[];
  /** Targets of the issue that set them; a route without targets is reported only. */
  target?: { ratio: number; p99Factor: number };
}

const children = new Set<ChildProcess>();
const dataDirs = new Set<string>();
let tmp = '';

// ---------------------------------------------------------------------------------------------
// processes

/** What `npm start` runs; `npm run bench` builds dist/ first, so it is the current code. */
const SERVER_ARGS = ['dist/src/server.js'];

function serverEnv(dataDir: string, port: number): NodeJS.ProcessEnv {
  return childEnv(dataDir, {
    PORT: String(port),
    HOST: '127.0.0.1',
    // The bench drives one API key far past the per-key limit; 429s would measure the limiter.
    OMS_RATE_LIMIT_PER_SECOND: '10000000',
    OMS_RATE_LIMIT_BURST: '10000000',
    ...(process.env.BENCH_LOG_LEVEL ? { OMS_LOG_LEVEL: process.env.BENCH_LOG_LEVEL } : {}),
  });
}

interface Proc {
  child: ChildProcess;
  exited: Promise<number | null>;
  stderr(): string;
}

function track(child: ChildProcess): Proc {
  children.add(child);
  let err = '';
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  return { child, exited, stderr: () => err };
}

function startServer(dataDir: string, port: number, logFile?: string): Proc {
  dataDirs.add(dataDir);
  const out = logFile ? openSync(logFile, 'w') : 'ignore';
  const child = spawn(process.execPath, SERVER_ARGS, {
    cwd: ROOT,
    env: serverEnv(dataDir, port),
    stdio: ['ignore', out, logFile ? out : 'pipe'],
  });
  if (typeof out === 'number') closeSync(out);
  return track(child);
}

async function stopGracefully(proc: Proc, timeoutMs = 30_000): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  proc.child.kill('SIGTERM');
  const code = await Promise.race([proc.exited, sleep(timeoutMs, undefined, { ref: false }).then(() => 'timeout' as const)]);
  if (code !== 0) throw new Error(`process ${proc.child.pid} did not stop cleanly (${code})`);
}

async function waitReady(proc: Proc, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.child.exitCode !== null) throw new Error(`process exited (${proc.child.exitCode}) before ready:\n${proc.stderr()}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`not ready within ${timeoutMs} ms:\n${proc.stderr()}`);
    await sleep(10);
  }
}

function postmaster(dataDir: string): { pid: number; port: number } | undefined {
  try {
    const lines = readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n');
    return { pid: Number.parseInt(lines[0] ?? '', 10), port: Number.parseInt(lines[3] ?? '', 10) };
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function cleanUp(): Promise<void> {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of dataDirs) {
    const pm = postmaster(dir);
    if (!pm || !alive(pm.pid)) continue;
    // PostgreSQL's immediate shutdown, for a postmaster whose server could not stop it.
    process.kill(pm.pid, 'SIGQUIT');
    for (let i = 0; i < 100 && alive(pm.pid); i++) await sleep(50);
  }
  if (tmp) await fs.rm(tmp, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// start times

async function timeStart(dataDir: string): Promise<number> {
  const port = await freePort();
  const started = performance.now();
  const proc = startServer(dataDir, port);
  await waitReady(proc, port, 60_000);
  const elapsed = performance.now() - started;
  await stopGracefully(proc);
  return elapsed;
}

async function measureStarts(): Promise<{ cold: number[]; warm: number[] }> {
  const cold: number[] = [];
  const warm: number[] = [];
  for (let i = 0; i < START_RUNS; i++) cold.push(await timeStart(path.join(tmp, `start-${i}`)));
  // Each warm start finds an initialised, cleanly stopped cluster: PostgreSQL must be started.
  for (let i = 0; i < START_RUNS; i++) warm.push(await timeStart(path.join(tmp, `start-${i}`)));
  return { cold, warm };
}

// ---------------------------------------------------------------------------------------------
// load

interface Side {
  label: string;
  port: number;
}

async function api(port: number, method: string, url: string, bearer: string | undefined, body?: unknown) {
  const headers: Record<string, string> = {};
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method === 'POST' && url !== '/v0.9/auth/token') headers['idempotency-key'] = randomUUID();
  const res = await fetch(`http://127.0.0.1:${port}${url}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function firstStartCredentials(logFile: string) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const text = await fs.readFile(logFile, 'utf8');
    const projectId = /created project (prj_\w+)/.exec(text)?.[1];
    const apiKey = /apiKey:\s+(\S+)/.exec(text)?.[1];
    const apiSecret = /apiSecret:\s+(\S+)/.exec(text)?.[1];
    if (projectId && apiKey && apiSecret) return { projectId, apiKey, apiSecret };
    if (Date.now() > deadline) throw new Error('the server printed no first-start key');
    await sleep(20);
  }
}

function runLoad(job: LoadJob): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/load-worker.ts', JSON.stringify(job)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const proc = track(child);
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), (job.duration + 60) * 1000);
    void proc.exited.then((code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`load worker failed (${code}):\n${proc.stderr()}`));
      else resolve(JSON.parse(out) as Result);
    });
  });
}

interface Measured {
  reqPerSec: number;
  p50: number;
  p99: number;
  total: number;
}

interface Round {
  server: Measured;
  floor: Measured;
}

async function measure(side: Side, method: Scenario['method'], paths: string[], bearer: string, databaseUrl: string): Promise<Measured> {
  const job: LoadJob = {
    url: `http://127.0.0.1:${side.port}`,
    method,
    paths,
    headers: { authorization: `Bearer ${bearer}` },
    connections: CONNECTIONS,
    duration: WARMUP_S,
  };
  await runLoad(job);
  // After the warm-up, whose rows the statistics then cover: see settleDatabase.
  await settleDatabase(databaseUrl);
  const result = await runLoad({ ...job, duration: DURATION_S });
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(`${side.label} ${method}: ${result.non2xx} non-2xx, ${result.errors} errors, ${result.timeouts} timeouts`);
  }
  return { reqPerSec: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, total: result.requests.total };
}

async function measureLoad() {
  const dataDir = path.join(tmp, 'load');
  const logFile = path.join(tmp, 'server.log');
  const serverPort = await freePort();
  const server = startServer(dataDir, serverPort, logFile);
  await waitReady(server, serverPort, 60_000);
  const creds = await firstStartCredentials(logFile);
  const token = await api(serverPort, 'POST', '/v0.9/auth/token', undefined, { apiKey: creds.apiKey, apiSecret: creds.apiSecret });
  if (token.status !== 200) throw new Error(`token: ${token.status}`);
  const bearer = token.body.accessToken as string;

  const ids: string[] = [];
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (ids.length < CUSTOMERS) {
        const res = await api(serverPort, 'POST', '/v0.9/customers', bearer, { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com' });
        if (res.status !== 201) throw new Error(`create customer: ${res.status} ${JSON.stringify(res.body)}`);
        ids.push(res.body.id as string);
      }
    }),
  );
  const paths = ids.map((id) => `/v0.9/customers/${id}`);
  const wallets: string[] = [];
  for (const id of ids.slice(0, WALLETS)) {
    const res = await api(serverPort, 'POST', `/v0.9/customers/${id}/wallets`, bearer, { asset: 'usdc', chain: 'polygon' });
    if (res.status !== 201) throw new Error(`open wallet: ${res.status} ${JSON.stringify(res.body)}`);
    wallets.push(res.body.id as string);
  }
  const allScenarios: Scenario[] = [
    { name: 'GET customer', method: 'GET', server: paths, floor: paths, target: { ratio: 0.6, p99Factor: 2 } },
    { name: 'PATCH customer', method: 'PATCH', server: paths, floor: paths, target: { ratio: 0.5, p99Factor: 2 } },
    {
      name: 'POST deposit',
      method: 'POST',
      server: wallets.map((id) => `/v0.9/sandbox/wallets/${id}/deposit`),
      floor: wallets.map((id) => `/floor/wallets/${id}/deposit`),
      target: { ratio: 0.4, p99Factor: 3 },
    },
    { name: 'GET balance', method: 'GET', server: wallets.map((id) => `/v0.9/wallets/${id}/balance`), floor: wallets.map((id) => `/floor/wallets/${id}/balance`) },
  ];
  const scenarios = allScenarios.filter((scenario) => !ONLY || ONLY.includes(scenario.name));
  if (scenarios.length === 0) throw new Error(`BENCH_ONLY names no scenario; there are: ${allScenarios.map((s) => s.name).join(', ')}`);

  const databaseUrl = await embeddedDatabaseUrl(dataDir);
  const floorPort = await freePort();
  const floor = track(
    spawn(process.execPath, ['--import', 'tsx', 'bench/floor-server.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        PORT: String(floorPort),
        FLOOR_DATABASE_URL: databaseUrl,
        FLOOR_PROJECT_ID: creds.projectId,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    }),
  );
  await waitReady(floor, floorPort, 30_000);

  // Both sides must be reading the same rows, or the comparison means nothing.
  for (const port of [serverPort, floorPort]) {
    const res = await api(port, 'GET', paths[0]!, bearer);
    if (res.status !== 200 || res.body.id !== ids[0]) throw new Error(`GET on port ${port}: ${res.status}`);
  }

  const real: Side = { label: 'server', port: serverPort };
  const bare: Side = { label: 'floor', port: floorPort };
  const rounds = new Map<Scenario, Round[]>(scenarios.map((scenario) => [scenario, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const scenario of scenarios) {
      rounds.get(scenario)!.push({
        server: await measure(real, scenario.method, scenario.server, bearer, databaseUrl),
        floor: await measure(bare, scenario.method, scenario.floor, bearer, databaseUrl),
      });
    }
  }
  await stopGracefully(floor);
  await stopGracefully(server);
  return rounds;
}

// ---------------------------------------------------------------------------------------------
// report

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

async function main(): Promise<void> {
  const began = performance.now();
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'oms-bench-'));
  // As root the postmaster runs as `postgres`, which must be able to traverse down to its data.
  await fs.chmod(tmp, 0o711);
  console.log(`oms-server bench: node ${process.version}, ${os.cpus().length} CPUs, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`server: node ${SERVER_ARGS.join(' ')}, OMS_LOG_LEVEL=${process.env.BENCH_LOG_LEVEL ?? '(server default)'}`);

  const misses: string[] = [];
  const starts = await measureStarts();
  const cold = median(starts.cold);
  const warm = median(starts.warm);
  const ms = (xs: number[]) => xs.map((x) => Math.round(x)).join(', ');
  console.log(`\nstart, spawn to first 200 on /readyz (median of ${START_RUNS}):`);
  console.log(`  cold (fresh data dir)    ${Math.round(cold)} ms  [${ms(starts.cold)}]  target < ${TARGETS.coldMs} ms  ${verdict(cold < TARGETS.coldMs)}`);
  console.log(`  warm (existing data dir) ${Math.round(warm)} ms  [${ms(starts.warm)}]  target < ${TARGETS.warmMs} ms  ${verdict(warm < TARGETS.warmMs)}`);
  if (cold >= TARGETS.coldMs) misses.push('cold start');
  if (warm >= TARGETS.warmMs) misses.push('warm start');

  const load = await measureLoad();
  console.log(`\nload: autocannon, ${CONNECTIONS} connections, ${DURATION_S} s after ${WARMUP_S} s warm-up, loopback, over ${CUSTOMERS} customers and ${WALLETS} wallets;`);
  console.log(`${ROUNDS} rounds of server then floor, medians (each round's figure in brackets)`);
  for (const [scenario, rounds] of load) {
    const ratios = rounds.map((r) => r.server.reqPerSec / r.floor.reqPerSec);
    const p99Factors = rounds.map((r) => r.server.p99 / r.floor.p99);
    const ratio = median(ratios);
    const p99Factor = median(p99Factors);
    const label = scenario.name.padEnd(14);
    const line = (side: string, measured: Measured[]) =>
      `  ${label} ${side.padEnd(6)} ${median(measured.map((m) => m.reqPerSec)).toFixed(0).padStart(7)} req/s  ` +
      `p50 ${String(median(measured.map((m) => m.p50))).padStart(4)} ms  p99 ${String(median(measured.map((m) => m.p99))).padStart(4)} ms  ` +
      `[p99 ${measured.map((m) => m.p99).join(', ')}]`;
    const figures = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(', ');
    console.log(line('server', rounds.map((r) => r.server)));
    console.log(line('floor', rounds.map((r) => r.floor)));
    const target = scenario.target;
    console.log(
      `  ${label} ratio  ${ratio.toFixed(2)} [${figures(ratios)}]${target ? ` (target ≥ ${target.ratio}) ${verdict(ratio >= target.ratio)}` : ''};  ` +
        `p99 ${p99Factor.toFixed(2)}× floor [${figures(p99Factors)}]${target ? ` (target ≤ ${target.p99Factor}×) ${verdict(p99Factor <= target.p99Factor)}` : ''}`,
    );
    if (target && ratio < target.ratio) misses.push(`${scenario.name} throughput ratio`);
    if (target && p99Factor > target.p99Factor) misses.push(`${scenario.name} p99`);
  }
  console.log(`\n${misses.length === 0 ? 'all targets met' : `targets missed: ${misses.join(', ')}`}; bench took ${((performance.now() - began) / 1000).toFixed(0)} s`);
}

await runBench(main, cleanUp);
