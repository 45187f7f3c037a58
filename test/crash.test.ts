import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * Process-level durability: real server processes on a real embedded PostgreSQL, killed
 * with SIGKILL in the middle of a write load. A 201 is a promise that the write is durable,
 * so every id answered with 201 must survive whatever happens to the processes afterwards.
 */

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WRITERS = 16;
const WRITES_BEFORE_KILL = 150;

interface Server {
  child: ChildProcess;
  port: number;
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ChildProcess>();
const dirs = new Set<string>();

afterEach(async () => {
  // Runs on failure too: whatever a test left behind (Node or postmaster) must not outlive it.
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  children.clear();
  for (const dir of dirs) {
    await stopPostmaster(path.join(dir, 'data'));
    await fs.rm(dir, { recursive: true, force: true });
  }
  dirs.clear();
});

async function tempRoot(): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'oms-crash-'));
  // As root the postmaster runs as `postgres`, which must be able to traverse down to its data.
  await fs.chmod(dir, 0o711);
  dirs.add(dir);
  return dir;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function serverEnv(dataDir: string, port: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    OMS_DATA_DIR: dataDir,
    PORT: String(port),
    HOST: '127.0.0.1',
    OMS_LOG_LEVEL: 'warn',
    // The load is deliberately far above the per-key limit; a 429 would only hide writes.
    OMS_RATE_LIMIT_PER_SECOND: '1000000',
    OMS_RATE_LIMIT_BURST: '1000000',
  };
  // The suite may run with DATABASE_URL set; these processes must use the embedded cluster.
  delete env.DATABASE_URL;
  delete env.OMS_MASTER_KEY;
  delete env.OMS_MASTER_KEY_PREVIOUS;
  return env;
}

async function startServer(dataDir: string): Promise<Server> {
  const port = await freePort();
  // node itself, not npx or a shell, so that SIGKILL hits the process that serves.
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    env: serverEnv(dataDir, port),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, port, stdout: () => out, stderr: () => err, exited };
}

async function waitReady(server: Server, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server.child.exitCode !== null || server.child.signalCode !== null) {
      throw new Error(`server exited (${server.child.exitCode ?? server.child.signalCode}) before ready:\n${server.stderr()}`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/readyz`, { signal: AbortSignal.timeout(1_000) });
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(50);
  }
  throw new Error(`server not ready within ${timeoutMs} ms:\n${server.stderr()}`);
}

async function firstKey(server: Server): Promise<{ apiKey: string; apiSecret: string }> {
  // The key lines are written just after listen(), so readiness can precede them by a moment.
  const deadline = Date.now() + 5_000;
  for (;;) {
    const apiKey = /apiKey:\s+(\S+)/.exec(server.stdout())?.[1];
    const apiSecret = /apiSecret:\s+(\S+)/.exec(server.stdout())?.[1];
    if (apiKey && apiSecret) return { apiKey, apiSecret };
    if (Date.now() > deadline) throw new Error(`no first-start key printed:\n${server.stdout()}`);
    await sleep(20);
  }
}

async function token(port: number, creds: { apiKey: string; apiSecret: string }): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/v0.9/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(creds),
    signal: AbortSignal.timeout(10_000),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { accessToken: string }).accessToken;
}

/** Concurrent POST /customers until stopped or the server goes away; keeps every id that got a 201. */
function writeLoad(port: number, bearer: string) {
  const ids: string[] = [];
  const otherStatuses: number[] = [];
  let inFlight = 0;
  let networkErrors = 0;
  let stopped = false;
  const worker = async () => {
    while (!stopped) {
      inFlight += 1;
      try {
        const res = await fetch(`http://127.0.0.1:${port}/v0.9/customers`, {
          method: 'POST',
          headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
          body: JSON.stringify({ metadata: { n: String(ids.length) } }),
          signal: AbortSignal.timeout(10_000),
        });
        const body = (await res.json()) as { id?: string };
        if (res.status === 201 && body.id) ids.push(body.id);
        else otherStatuses.push(res.status);
      } catch {
        networkErrors += 1;
        // The server is gone: a writer that keeps hammering a dead port proves nothing.
        return;
      } finally {
        inFlight -= 1;
      }
    }
  };
  const done = Promise.all(Array.from({ length: WRITERS }, worker));
  return {
    ids,
    otherStatuses,
    inFlight: () => inFlight,
    networkErrors: () => networkErrors,
    async untilWritten(n: number, timeoutMs: number) {
      const deadline = Date.now() + timeoutMs;
      while (ids.length < n) {
        if (Date.now() > deadline) throw new Error(`only ${ids.length} writes within ${timeoutMs} ms (other statuses: ${otherStatuses.join(',')})`);
        await sleep(10);
      }
    },
    async finish(timeoutMs: number) {
      stopped = true;
      await Promise.race([done, sleep(timeoutMs, undefined, { ref: false }).then(() => Promise.reject(new Error('writers did not finish')))]);
    },
  };
}

function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0] ?? '', 10);
    return Number.isInteger(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Alive and not a zombie: a dead postmaster re-parented to a non-reaping init still answers kill(0). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

async function untilDead(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

async function stopPostmaster(dataDir: string): Promise<void> {
  const pid = postmasterPid(dataDir);
  if (pid === undefined || !alive(pid)) return;
  // SIGQUIT is PostgreSQL's immediate shutdown: it also takes its backends down.
  process.kill(pid, 'SIGQUIT');
  if (!(await untilDead(pid, 10_000))) process.kill(pid, 'SIGKILL');
}

async function getCustomer(port: number, bearer: string, id: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/v0.9/customers/${id}`, {
    headers: { authorization: `Bearer ${bearer}` },
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { id?: string };
  return res.status === 200 && body.id === id ? 200 : res.status;
}

/** Every id, a few at a time; returns the ids that did not come back as themselves with 200. */
async function missing(port: number, bearer: string, ids: string[]): Promise<string[]> {
  const lost: string[] = [];
  let next = 0;
  const reader = async () => {
    while (next < ids.length) {
      const id = ids[next++]!;
      if ((await getCustomer(port, bearer, id)) !== 200) lost.push(id);
    }
  };
  await Promise.all(Array.from({ length: 8 }, reader));
  return lost;
}

async function sigterm(server: Server, timeoutMs: number) {
  server.child.kill('SIGTERM');
  return Promise.race([server.exited, sleep(timeoutMs, undefined, { ref: false }).then(() => ({ code: null, signal: 'timeout' as const }))]);
}

describe('crash safety of the server process', () => {
  it('kill -9 of Node mid-write: the restart comes up on the same data and every 201 is there; SIGTERM then stops everything', async () => {
    const dataDir = path.join(await tempRoot(), 'data');
    const first = await startServer(dataDir);
    await waitReady(first, 30_000);
    const creds = await firstKey(first);
    const load = writeLoad(first.port, await token(first.port, creds));
    await load.untilWritten(WRITES_BEFORE_KILL, 30_000);

    const inFlightAtKill = load.inFlight();
    const orphan = postmasterPid(dataDir);
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    await load.finish(15_000);
    // The kill must have landed in the middle of the load, not after it.
    expect(inFlightAtKill).toBeGreaterThan(0);
    expect(load.networkErrors()).toBeGreaterThan(0);
    expect(load.otherStatuses).toEqual([]);
    const written = [...load.ids];
    expect(written.length).toBeGreaterThanOrEqual(WRITES_BEFORE_KILL);

    const second = await startServer(dataDir);
    await waitReady(second, 20_000);
    const current = postmasterPid(dataDir);
    expect(current).toBeDefined();
    // Adopted (same postmaster) or replaced (old one gone): never two postmasters on one data dir.
    if (orphan !== undefined && current !== orphan) expect(alive(orphan)).toBe(false);
    expect(await missing(second.port, await token(second.port, creds), written)).toEqual([]);

    const exit = await sigterm(second, 30_000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(await untilDead(current!, 10_000)).toBe(true);
  }, 150_000);

  it('kill -9 of Node and the postmaster together mid-write: the next start recovers with no 201 lost', async () => {
    const dataDir = path.join(await tempRoot(), 'data');
    const first = await startServer(dataDir);
    await waitReady(first, 30_000);
    const creds = await firstKey(first);
    const load = writeLoad(first.port, await token(first.port, creds));
    await load.untilWritten(WRITES_BEFORE_KILL, 30_000);

    const postmaster = postmasterPid(dataDir);
    expect(postmaster).toBeDefined();
    const inFlightAtKill = load.inFlight();
    process.kill(postmaster!, 'SIGKILL');
    first.child.kill('SIGKILL');
    await first.exited;
    await load.finish(15_000);
    expect(inFlightAtKill).toBeGreaterThan(0);
    expect(await untilDead(postmaster!, 5_000)).toBe(true);
    const written = [...load.ids];
    expect(written.length).toBeGreaterThanOrEqual(WRITES_BEFORE_KILL);

    const second = await startServer(dataDir);
    await waitReady(second, 30_000);
    expect(await missing(second.port, await token(second.port, creds), written)).toEqual([]);

    const current = postmasterPid(dataDir);
    const exit = await sigterm(second, 30_000);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(await untilDead(current!, 10_000)).toBe(true);
  }, 150_000);
});
