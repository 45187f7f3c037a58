import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isProcessAlive } from '../src/db/file-lock.js';
import {
  childEnv,
  type CliResult,
  cleanUp,
  firstKey,
  postmasterPid,
  sigterm,
  spawnCli as spawnCliProcess,
  spawnServer,
  tempRoot,
  tokenResponse,
  untilDead,
  waitReady,
  type ServerProcess,
} from './support/processes.js';

/**
 * The `oms keys` CLI as an operator runs it: its own process on the server's data directory,
 * with the server down (the CLI owns the embedded PostgreSQL for its run) or up (the CLI is a
 * guest of the server's PostgreSQL and must leave it running).
 */

const QUIET = { OMS_LOG_LEVEL: 'warn' };
const PROJECT_ID = /^prj_[0-9a-z]{26}$/;
// Well formed, never issued.
const UNKNOWN_PROJECT = 'prj_01h455vb4pex5vsknk084sn02q';

interface Credentials {
  projectId: string;
  apiKey: string;
  apiSecret: string;
}

// The `data` directory of a fresh temp root: cleanUp stops its postmaster and removes it.
async function tempDataDir(): Promise<string> {
  return path.join(await tempRoot('oms-cli-'), 'data');
}

function spawnCli(dataDir: string, ...args: string[]): { child: ChildProcess; result: Promise<CliResult> } {
  return spawnCliProcess(childEnv(dataDir, QUIET), args);
}

function cli(dataDir: string, ...args: string[]): Promise<CliResult> {
  return spawnCli(dataDir, ...args).result;
}

async function createKey(dataDir: string, ...args: string[]): Promise<Credentials> {
  const result = await cli(dataDir, 'keys', 'create', ...args, '--json');
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as Credentials;
}

async function startServer(dataDir: string): Promise<ServerProcess> {
  const server = await spawnServer(dataDir, QUIET);
  await waitReady(server, 30_000);
  return server;
}

async function stopServer(server: ServerProcess): Promise<void> {
  const { code } = await sigterm(server, 30_000);
  expect(code).toBe(0);
}

async function status(port: number, url: string, bearer?: string): Promise<number> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${url}`, {
      headers: bearer ? { authorization: `Bearer ${bearer}` } : {},
      signal: AbortSignal.timeout(5_000),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

async function token(port: number, creds: { apiKey: string; apiSecret: string }): Promise<string> {
  const res = await tokenResponse(port, creds);
  expect(res.status).toBe(200);
  return res.accessToken!;
}

/** What `pg_ctl status` reports: a server runs when postmaster.pid names a live process. */
function postgresRunning(dataDir: string): boolean {
  const pid = postmasterPid(dataDir);
  return pid !== undefined && isProcessAlive(pid);
}

describe('oms keys with no server running', () => {
  afterEach(cleanUp);

  it('creates a sandbox key in a new project, then a live key in it, each time stopping the PostgreSQL it started', async () => {
    const dataDir = await tempDataDir();
    const sandbox = await createKey(dataDir, '--mode', 'sandbox');
    expect(sandbox.projectId).toMatch(PROJECT_ID);
    expect(sandbox.apiKey).toMatch(/^sk_sdbx_[0-9a-f]{40}$/);
    expect(sandbox.apiSecret.length).toBeGreaterThanOrEqual(32);
    expect(postgresRunning(dataDir)).toBe(false);

    const live = await createKey(dataDir, '--mode', 'live', '--project', sandbox.projectId);
    expect(live.projectId).toBe(sandbox.projectId);
    expect(live.apiKey).toMatch(/^sk_live_[0-9a-f]{40}$/);
    expect(postgresRunning(dataDir)).toBe(false);

    // The keys are in the database the server opens later: both get tokens, scoped to their mode.
    const server = await startServer(dataDir);
    for (const creds of [sandbox, live]) {
      const bearer = await token(server.port, creds);
      expect(await status(server.port, '/v0.9/customers', bearer)).toBe(200);
    }
    // The CLI made a project, so the server has no first-start key to print.
    expect(server.stdout()).not.toMatch(/apiSecret:/);
    await stopServer(server);
  }, 120_000);

  it('refuses an unknown project with a clear message and still stops its PostgreSQL', async () => {
    const dataDir = await tempDataDir();
    const result = await cli(dataDir, 'keys', 'create', '--mode', 'sandbox', '--project', UNKNOWN_PROJECT, '--json');
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`no project ${UNKNOWN_PROJECT}`);
    expect(result.stdout).toBe('');
    expect(postgresRunning(dataDir)).toBe(false);
  }, 60_000);

  it('refuses a bad --mode and a malformed project id before touching the database', async () => {
    const dataDir = await tempDataDir();
    const badMode = await cli(dataDir, 'keys', 'create', '--mode', 'production', '--json');
    expect(badMode.code).not.toBe(0);
    expect(badMode.stderr).toMatch(/--mode.*must be sandbox or live/s);
    expect(badMode.stdout).toBe('');

    const badProject = await cli(dataDir, 'keys', 'create', '--mode', 'live', '--project', 'cst_01h455vb4pex5vsknk084sn02q', '--json');
    expect(badProject.code).not.toBe(0);
    expect(badProject.stderr).toMatch(/--project.*must be a project id/s);
    expect(badProject.stdout).toBe('');

    const missingMode = await cli(dataDir, 'keys', 'create', '--json');
    expect(missingMode.code).not.toBe(0);
    expect(missingMode.stderr).toContain('--mode');
    expect(postgresRunning(dataDir)).toBe(false);
  }, 60_000);

  it('a server started while the CLI owns the database still has it after the CLI exits', async () => {
    const dataDir = await tempDataDir();
    const { child: cliProcess, result: creating } = spawnCli(dataDir, 'keys', 'create', '--mode', 'sandbox', '--json');
    // The CLI owns PostgreSQL once owner.pid is written and embedded.lock released. It is then
    // paused there, standing for any slower command (a master-key rotation over a big
    // database), so that the server deterministically starts beside a CLI-owned PostgreSQL.
    const deadline = Date.now() + 30_000;
    while (!(existsSync(path.join(dataDir, 'owner.pid')) && !existsSync(path.join(dataDir, 'embedded.lock')))) {
      if (Date.now() > deadline || cliProcess.exitCode !== null) throw new Error('the CLI never owned the database');
      await sleep(2);
    }
    cliProcess.kill('SIGSTOP');
    try {
      const server = await spawnServer(dataDir, QUIET);
      await waitReady(server, 30_000);
      cliProcess.kill('SIGCONT');
      const created = await creating;
      expect(created.code, created.stderr).toBe(0);
      const key = JSON.parse(created.stdout) as Credentials;

      // Well after the CLI's exit, the server must still have a database.
      await sleep(1_000);
      expect(await status(server.port, '/readyz')).toBe(200);
      expect(await status(server.port, '/v0.9/customers', await token(server.port, key))).toBe(200);
      await stopServer(server);
      expect(postgresRunning(dataDir)).toBe(false);
    } finally {
      cliProcess.kill('SIGCONT');
    }
  }, 120_000);
});

describe('oms keys beside a running server', () => {
  let server: ServerProcess;
  let serverCreds: { apiKey: string; apiSecret: string };
  let postmaster: number;

  beforeAll(async () => {
    server = await startServer(await tempDataDir());
    serverCreds = await firstKey(server);
    postmaster = postmasterPid(server.dataDir)!;
    expect(postmaster).toBeDefined();
  }, 60_000);
  afterAll(cleanUp, 60_000);

  /** The CLI was a guest: the server's own PostgreSQL still runs and the server still serves. */
  async function expectServerUntouched(bearer: string): Promise<void> {
    expect(postmasterPid(server.dataDir)).toBe(postmaster);
    expect(isProcessAlive(postmaster)).toBe(true);
    expect(await status(server.port, '/readyz')).toBe(200);
    expect(await status(server.port, '/v0.9/customers', bearer)).toBe(200);
  }

  it('creates keys the server accepts at once, and leaves the server and its database running', async () => {
    const before = await token(server.port, serverCreds);

    const sandbox = await createKey(server.dataDir, '--mode', 'sandbox');
    expect(sandbox.projectId).toMatch(PROJECT_ID);
    await expectServerUntouched(before);
    expect(await status(server.port, '/v0.9/customers', await token(server.port, sandbox))).toBe(200);

    const live = await createKey(server.dataDir, '--mode', 'live', '--project', sandbox.projectId);
    expect(live).toMatchObject({ projectId: sandbox.projectId, apiKey: expect.stringMatching(/^sk_live_/) });
    await expectServerUntouched(before);
    expect(await status(server.port, '/v0.9/customers', await token(server.port, live))).toBe(200);
  }, 120_000);

  it('revokes a key: a token issued before answers 401 within 5 s, and no new token is issued', async () => {
    const key = await createKey(server.dataDir, '--mode', 'sandbox');
    const bearer = await token(server.port, key);
    // Used once first, so the server has the key's status cached as active.
    expect(await status(server.port, '/v0.9/customers', bearer)).toBe(200);

    const revoked = await cli(server.dataDir, 'keys', 'revoke', key.apiKey);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toContain(`revoked ${key.apiKey}`);
    const revokedAt = Date.now();
    let answer = await status(server.port, '/v0.9/customers', bearer);
    while (answer === 200 && Date.now() - revokedAt < 6_000) {
      await sleep(100);
      answer = await status(server.port, '/v0.9/customers', bearer);
    }
    expect(answer).toBe(401);
    expect(Date.now() - revokedAt).toBeLessThanOrEqual(5_000);
    expect((await tokenResponse(server.port, key)).status).toBe(401);

    const again = await cli(server.dataDir, 'keys', 'revoke', key.apiKey);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain(`no active API key ${key.apiKey}`);
    await expectServerUntouched(await token(server.port, serverCreds));
  }, 120_000);

  it('refuses bad arguments with a clear message and leaves the server running', async () => {
    const badMode = await cli(server.dataDir, 'keys', 'create', '--mode', 'LIVE', '--json');
    expect(badMode.code).not.toBe(0);
    expect(badMode.stderr).toMatch(/--mode.*must be sandbox or live/s);

    const malformed = await cli(server.dataDir, 'keys', 'create', '--mode', 'sandbox', '--project', 'prj_nope', '--json');
    expect(malformed.code).not.toBe(0);
    expect(malformed.stderr).toMatch(/--project.*must be a project id/s);

    const unknown = await cli(server.dataDir, 'keys', 'create', '--mode', 'sandbox', '--project', UNKNOWN_PROJECT, '--json');
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain(`no project ${UNKNOWN_PROJECT}`);
    expect(unknown.stdout).toBe('');
    await expectServerUntouched(await token(server.port, serverCreds));
  }, 120_000);

  it('stops cleanly after the CLI runs: SIGTERM exits 0 and takes its PostgreSQL down', async () => {
    await stopServer(server);
    await untilDead(postmaster, 10_000);
    expect(isProcessAlive(postmaster)).toBe(false);
  }, 60_000);
});
