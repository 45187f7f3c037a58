import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { isProcessAlive } from '../src/db/file-lock.js';
import {
  cleanUp,
  firstKey,
  postmasterPid,
  sigterm,
  spawnLoadedServer,
  tempRoot,
  tokenResponse,
  untilDead,
  waitReady,
  type ServerProcess,
} from './support/processes.js';

/**
 * Process-level durability: real server processes on a real embedded PostgreSQL, killed
 * with SIGKILL in the middle of a write load. A 201 is a promise that the write is durable,
 * so every id answered with 201 must survive whatever happens to the processes afterwards.
 */

const WRITERS = 16;
const WRITES_BEFORE_KILL = 150;

// Runs on failure too: whatever a test left behind (Node or postmaster) must not outlive it.
afterEach(cleanUp);

const startServer = (dataDir: string): Promise<ServerProcess> => spawnLoadedServer(dataDir);

async function token(port: number, creds: { apiKey: string; apiSecret: string }): Promise<string> {
  const res = await tokenResponse(port, creds);
  expect(res.status).toBe(200);
  return res.accessToken!;
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

/** A first server on a fresh data dir, under a write load that has had WRITES_BEFORE_KILL 201s. */
async function firstServerUnderLoad() {
  const dataDir = path.join(await tempRoot('oms-crash-'), 'data');
  const first = await startServer(dataDir);
  await waitReady(first, 30_000);
  const creds = await firstKey(first);
  const load = writeLoad(first.port, await token(first.port, creds));
  await load.untilWritten(WRITES_BEFORE_KILL, 30_000);
  return { dataDir, first, creds, load };
}

/** SIGTERM stops the server with exit 0, and it takes its postmaster down. */
async function expectCleanStop(server: ServerProcess, postmaster: number): Promise<void> {
  const exit = await sigterm(server, 30_000);
  expect(exit).toEqual({ code: 0, signal: null });
  expect(await untilDead(postmaster, 10_000)).toBe(true);
}

describe('crash safety of the server process', () => {
  it('kill -9 of Node mid-write: the restart comes up on the same data and every 201 is there; SIGTERM then stops everything', async () => {
    const { dataDir, first, creds, load } = await firstServerUnderLoad();

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
    if (orphan !== undefined && current !== orphan) expect(isProcessAlive(orphan)).toBe(false);
    expect(await missing(second.port, await token(second.port, creds), written)).toEqual([]);

    await expectCleanStop(second, current!);
  }, 150_000);

  it('kill -9 of Node and the postmaster together mid-write: the next start recovers with no 201 lost', async () => {
    const { dataDir, first, creds, load } = await firstServerUnderLoad();

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
    await expectCleanStop(second, current!);
  }, 150_000);
});
