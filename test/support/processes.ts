import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { isProcessAlive } from '../../src/db/file-lock.js';
import { freePort } from '../../src/net/free-port.js';

/**
 * Real server processes on a real embedded PostgreSQL, for the process-level tests (and the
 * bench). No vitest import here, so that the bench, a plain Node script, can use it too.
 *
 * What is spawned or created through trackChild/tempRoot is recorded per test file (each file
 * runs in its own module instance), so that cleanUp can take it all down, on failure too.
 */

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  dataDir: string;
  stdout(): string;
  stderr(): string;
  exited: Promise<Exit>;
}

const children = new Set<ChildProcess>();
const dirs = new Set<string>();

/** Records a child for cleanUp; it is forgotten once it has exited. */
export function trackChild<T extends ChildProcess>(child: T): T {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** A fresh directory under the OS temp dir, removed (with the postmaster of its `data`) by cleanUp. */
export async function tempRoot(prefix: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  // As root the postmaster runs as `postgres`, which must be able to traverse down to its data.
  await fs.chmod(dir, 0o711);
  dirs.add(dir);
  return dir;
}

/** Whatever a test left behind (Node or postmaster) must not outlive it. */
export async function cleanUp(): Promise<void> {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  children.clear();
  for (const dir of dirs) {
    await stopPostmaster(path.join(dir, 'data'));
    await fs.rm(dir, { recursive: true, force: true });
  }
  dirs.clear();
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

const CLI_TIMEOUT_MS = 60_000;

/** `node --import tsx src/cli/main.ts …` with this environment: its output once it exits. */
export function spawnCli(env: NodeJS.ProcessEnv, args: string[]): { child: ChildProcess; result: Promise<CliResult> } {
  const child = trackChild(spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }));
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const result = new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`oms ${args.join(' ')} did not exit within ${CLI_TIMEOUT_MS} ms:\n${stderr}`));
    }, CLI_TIMEOUT_MS);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
  return { child, result };
}

/** The environment of a server or CLI child on the embedded cluster in dataDir. */
export function childEnv(dataDir: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, OMS_DATA_DIR: dataDir, ...extra };
  // The caller may run with DATABASE_URL set; these processes must use the embedded cluster.
  delete env.DATABASE_URL;
  delete env.OMS_MASTER_KEY;
  delete env.OMS_MASTER_KEY_PREVIOUS;
  return env;
}

/** A database the child uses instead of the embedded one in its data directory. */
export interface ExternalDatabase {
  url: string;
  masterKey: string;
}

/**
 * `node --import tsx src/server.ts` on a free loopback port; output is collected, not printed.
 * On the embedded cluster in dataDir, unless `database` names another.
 */
export async function spawnServer(dataDir: string, extraEnv: Record<string, string> = {}, database?: ExternalDatabase): Promise<ServerProcess> {
  const port = await freePort();
  const env = childEnv(dataDir, { ...extraEnv, PORT: String(port), HOST: '127.0.0.1' });
  if (database) Object.assign(env, { DATABASE_URL: database.url, OMS_MASTER_KEY: database.masterKey });
  // node itself, not npx or a shell, so that a signal hits the process that serves.
  const child = trackChild(
    spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<Exit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, port, dataDir, stdout: () => out, stderr: () => err, exited };
}

/**
 * A server for load and crash tests: quiet (warnings only), and without a per-key rate limit,
 * which the load deliberately exceeds (a 429 would only hide writes).
 */
export function spawnLoadedServer(dataDir: string, extraEnv: Record<string, string> = {}): Promise<ServerProcess> {
  return spawnServer(dataDir, { OMS_LOG_LEVEL: 'warn', OMS_RATE_LIMIT_PER_SECOND: '1000000', OMS_RATE_LIMIT_BURST: '1000000', ...extraEnv });
}

/** Polls /readyz until 200; fails early if the server exits first. */
export async function waitReady(server: ServerProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (server.child.exitCode !== null || server.child.signalCode !== null) {
      throw new Error(`server exited (${server.child.exitCode ?? server.child.signalCode}) before ready:\n${server.stderr()}`);
    }
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/readyz`, { signal: AbortSignal.timeout(1_000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`server not ready within ${timeoutMs} ms:\n${server.stderr().slice(-2_000)}`);
    await sleep(50);
  }
}

/** The key a first start prints to stdout. */
export async function firstKey(server: ServerProcess): Promise<{ apiKey: string; apiSecret: string }> {
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

export async function tokenResponse(port: number, creds: { apiKey: string; apiSecret: string }): Promise<{ status: number; accessToken?: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/v0.9/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ apiKey: creds.apiKey, apiSecret: creds.apiSecret }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as { accessToken?: string };
  return { status: res.status, accessToken: body.accessToken };
}

/** One API request to a spawned server, with an Idempotency-Key when given. */
export async function callApi(port: number, bearer: string, method: string, url: string, body?: unknown, key?: string) {
  const res = await fetch(`http://127.0.0.1:${port}${url}`, {
    method,
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, retryAfter: Number(res.headers.get('retry-after') ?? '1'), body: (await res.json()) as Record<string, any> };
}

/** SIGTERM, then the exit, or signal 'timeout' if there is none within timeoutMs. */
export async function sigterm(server: ServerProcess, timeoutMs: number): Promise<Exit | { code: null; signal: 'timeout' }> {
  server.child.kill('SIGTERM');
  return Promise.race([server.exited, sleep(timeoutMs, undefined, { ref: false }).then(() => ({ code: null, signal: 'timeout' as const }))]);
}

/** The postmaster of the cluster in dataDir, as its postmaster.pid names it. */
export function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0] ?? '', 10);
    return Number.isInteger(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Whether pid was gone (or a zombie) within timeoutMs. */
export async function untilDead(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isProcessAlive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

export async function stopPostmaster(dataDir: string): Promise<void> {
  const pid = postmasterPid(dataDir);
  if (pid === undefined || !isProcessAlive(pid)) return;
  // SIGQUIT is PostgreSQL's immediate shutdown: it also takes its backends down.
  process.kill(pid, 'SIGQUIT');
  if (!(await untilDead(pid, 10_000))) process.kill(pid, 'SIGKILL');
}
