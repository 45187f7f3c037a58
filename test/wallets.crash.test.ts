import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { callApi as call, childEnv, cleanUp, firstKey, sigterm, spawnCli, spawnLoadedServer, tempRoot, tokenResponse, waitReady, type ServerProcess } from './support/processes.js';

/**
 * Issue 4: a deposit that was answered is durable, and one that was cut off by a crash can be
 * retried with its key to exactly one effect. kill -9 the server in the middle of 500 keyed
 * sandbox deposits, restart on the same data, retry all 500 with the same keys: the wallet
 * holds exactly 500 deposits and the books reconcile.
 */

const DEPOSITS = 500;
const WRITERS = 16;
const KILL_AFTER = 150;

afterEach(cleanUp);

const startServer = (dataDir: string): Promise<ServerProcess> => spawnLoadedServer(dataDir);


describe('sandbox deposits across a crash', () => {
  it('kill -9 mid-way through 500 keyed deposits; retrying all 500 with their keys leaves exactly 500', async () => {
    const dataDir = path.join(await tempRoot('oms-deposit-crash-'), 'data');
    const first = await startServer(dataDir);
    await waitReady(first, 30_000);
    const creds = await firstKey(first);
    const bearer = (await tokenResponse(first.port, creds)).accessToken!;
    const customer = await call(first.port, bearer, 'POST', '/v0.9/customers', {}, 'crash-customer');
    const wallet = await call(first.port, bearer, 'POST', `/v0.9/customers/${customer.body.id}/wallets`, { asset: 'usdc', chain: 'polygon' }, 'crash-wallet');
    expect(wallet.status).toBe(201);
    const deposit = (port: number, token: string, i: number) =>
      call(port, token, 'POST', `/v0.9/sandbox/wallets/${wallet.body.id}/deposit`, { amount: '1' }, `deposit-${i}`);

    let next = 0;
    let answered = 0;
    let cutOff = 0;
    const load = Promise.all(
      Array.from({ length: WRITERS }, async () => {
        while (next < DEPOSITS) {
          const i = next++;
          let res: Awaited<ReturnType<typeof deposit>>;
          try {
            res = await deposit(first.port, bearer, i);
          } catch {
            // The server is gone: this deposit may or may not have committed; the retry will tell.
            cutOff++;
            return;
          }
          expect(res.status).toBe(200);
          answered++;
        }
      }),
    );
    while (answered < KILL_AFTER) await sleep(5);
    first.child.kill('SIGKILL');
    await load;
    expect(cutOff, 'the kill landed mid-load').toBeGreaterThan(0);

    const second = await startServer(dataDir);
    await waitReady(second, 30_000);
    const token = (await tokenResponse(second.port, creds)).accessToken!;
    // Every key again. A key the dead process had claimed answers 409 with Retry-After until
    // its lease runs out; a client honouring Retry-After then gets its one effect.
    let retry = 0;
    const deadline = Date.now() + 90_000;
    await Promise.all(
      Array.from({ length: WRITERS }, async () => {
        while (retry < DEPOSITS) {
          const i = retry++;
          for (;;) {
            const res = await deposit(second.port, token, i);
            if (res.status === 200) break;
            expect([res.status, res.body.error?.code]).toEqual([409, 'idempotency_key_in_use']);
            expect(Date.now()).toBeLessThan(deadline);
            await sleep(res.retryAfter * 1000);
          }
        }
      }),
    );

    const balance = await call(second.port, token, 'GET', `/v0.9/wallets/${wallet.body.id}/balance`);
    expect(balance.body.balance).toBe('500.000000');
    const verify = await spawnCli(childEnv(dataDir, { OMS_LOG_LEVEL: 'warn' }), ['ledger', 'verify']).result;
    expect([verify.code, verify.stdout]).toEqual([0, 'ledger verified: every balance equals its postings, every entry balances\n']);
    expect((await sigterm(second, 30_000)).code).toBe(0);
  }, 180_000);
});
