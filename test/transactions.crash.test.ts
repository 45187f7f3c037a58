import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { quoteBody } from './support/money.js';
import { callApi as call, childEnv, cleanUp, firstKey, sigterm, spawnCli, spawnLoadedServer, tempRoot, tokenResponse, waitReady, type ServerProcess } from './support/processes.js';

/**
 * Issue 6: sends survive crashes. kill -9 the server five times while 500 keyed sends run (a
 * keyed quote, then a keyed transaction, each), restart on the same data each time and carry
 * on; then retry every one of the 500 with its keys. Zero lost, zero duplicated: each send key
 * names one transaction, the same one it was first answered with. The settlement worker picks
 * up what the dead processes left processing, so every transaction ends; every hold is settled
 * or returned, the balances are exactly what the outcomes say and the ledger reconciles.
 */

const SENDS = 500;
const WRITERS = 16;
const KILLS = 5;
const SENDERS = 20;
const RECIPIENTS = 20;
const DEPOSIT = '1000';
const OUTSIDE = '0x52908400098527886E0F7030069857D2E4169EE7';

afterEach(cleanUp);

function startServer(dataDir: string): Promise<ServerProcess> {
  return spawnLoadedServer(dataDir, {
    // A retry after the last restart must still find its quote open.
    OMS_QUOTE_TTL_SECONDS: '3600',
    OMS_SIMULATED_CHAIN_CONFIRMATION_MS: '200',
    OMS_SETTLEMENT_POLL_MS: '50',
  });
}

/** Decimal strings as integer micro-units (usdc has 6 decimals), so that no sum rounds. */
const DECIMALS = 6;
function units(amount: string): bigint {
  expect(amount).toMatch(/^\d+(\.\d+)?$/);
  const [whole, fraction = ''] = amount.split('.');
  expect(fraction.length).toBeLessThanOrEqual(DECIMALS);
  return BigInt(whole!) * 10n ** BigInt(DECIMALS) + BigInt(fraction.padEnd(DECIMALS, '0'));
}
function decimal(micro: bigint): string {
  const text = micro.toString().padStart(DECIMALS + 1, '0');
  return `${text.slice(0, -DECIMALS)}.${text.slice(-DECIMALS)}`;
}

/** What send i is: from which sender, to which wallet or address, how much, and whether the chain refuses it. */
interface Plan {
  sender: number;
  recipient: number | null;
  amount: string;
  fails: boolean;
}
function plan(i: number): Plan {
  const external = i % 10 === 3; // 50 to an outside address…
  const fails = i % 20 === 3; // …half of them for 13.13, which the simulated chain refuses
  return {
    sender: i % SENDERS,
    recipient: external ? null : (i * 7) % RECIPIENTS,
    amount: fails ? '13.13' : `${1 + (i % 9)}.${String((i * 37) % 100).padStart(2, '0')}`,
    fails,
  };
}

/** The embedded cluster the servers share, read directly: what the API cannot show (the hold accounts). */
async function openDatabase(dataDir: string): Promise<pg.Client> {
  const password = (await readFile(path.join(dataDir, 'pg.password'), 'utf8')).trim();
  const port = Number.parseInt((await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[3] ?? '', 10);
  const client = new pg.Client({ connectionString: `postgres://oms:${encodeURIComponent(password)}@127.0.0.1:${port}/oms` });
  await client.connect();
  return client;
}

type Response = Awaited<ReturnType<typeof call>>;

describe('sends across crashes', () => {
  it('kill -9 five times during 500 keyed sends; retrying all 500 with their keys: none lost, none doubled, all ended, books exact', async () => {
    const dataDir = path.join(await tempRoot('oms-send-crash-'), 'data');
    let server = await startServer(dataDir);
    await waitReady(server, 30_000);
    const creds = await firstKey(server);
    let bearer = (await tokenResponse(server.port, creds)).accessToken!;

    // A funded wallet per sender and an empty one per recipient, each customer on its own.
    const openWallet = async (role: string, n: number, amount: string | null) => {
      const customer = await call(server.port, bearer, 'POST', '/v0.9/customers', {}, `${role}-customer-${n}`);
      expect(customer.status, JSON.stringify(customer.body)).toBe(201);
      const wallet = await call(server.port, bearer, 'POST', `/v0.9/customers/${customer.body.id}/wallets`, { asset: 'usdc', chain: 'polygon' }, `${role}-wallet-${n}`);
      expect(wallet.status, JSON.stringify(wallet.body)).toBe(201);
      if (amount !== null) {
        const deposit = await call(server.port, bearer, 'POST', `/v0.9/sandbox/wallets/${wallet.body.id}/deposit`, { amount }, `${role}-deposit-${n}`);
        expect(deposit.status, JSON.stringify(deposit.body)).toBe(200);
      }
      return { customerId: customer.body.id as string, walletId: wallet.body.id as string };
    };
    const senders = await Promise.all(Array.from({ length: SENDERS }, (_, n) => openWallet('sender', n, DEPOSIT)));
    const recipients = await Promise.all(Array.from({ length: RECIPIENTS }, (_, n) => openWallet('recipient', n, null)));

    const quoteOf = (i: number) => {
      const p = plan(i);
      const from = senders[p.sender]!;
      return quoteBody({
        customerId: from.customerId,
        walletId: from.walletId,
        to: p.recipient === null ? { blockchainAddress: OUTSIDE } : { id: recipients[p.recipient]!.walletId },
        sourceAmount: p.amount,
      });
    };
    // Whichever server is up now; a request to a dead one rejects.
    const requestQuote = (i: number) => call(server.port, bearer, 'POST', '/v0.9/quotes', quoteOf(i), `quote-${i}`);
    const requestSend = (i: number, quoteId: string) => call(server.port, bearer, 'POST', '/v0.9/transactions', { quoteId }, `send-${i}`);
    const cutOffIsUndefined = (request: Promise<Response>) => request.catch(() => undefined);

    // What each key was first answered with, before any crash could hide it.
    const quoteAnswers = new Map<number, string>();
    const sendAnswers = new Map<number, string>();

    let next = 0;
    let sent = 0;
    for (let kill = 1; kill <= KILLS + 1; kill++) {
      let cutOff = 0;
      let finished = false;
      const load = Promise.all(
        Array.from({ length: WRITERS }, async () => {
          while (next < SENDS) {
            const i = next++;
            let quoteId = quoteAnswers.get(i);
            if (quoteId === undefined) {
              const quote = await cutOffIsUndefined(requestQuote(i));
              if (!quote) {
                // The server is gone: the quote may or may not exist; the retry with its key will tell.
                cutOff++;
                return;
              }
              expect(quote.status, JSON.stringify(quote.body)).toBe(201);
              quoteId = quote.body.id as string;
              quoteAnswers.set(i, quoteId);
            }
            const send = await cutOffIsUndefined(requestSend(i, quoteId));
            if (!send) {
              cutOff++;
              return;
            }
            expect(send.status, JSON.stringify(send.body)).toBe(201);
            expect(send.body).toMatchObject({ object: 'transaction', status: 'processing', quoteId });
            sendAnswers.set(i, send.body.id);
            sent++;
          }
        }),
      ).finally(() => (finished = true));
      if (kill > KILLS) {
        await load;
        break;
      }
      while (sent < (kill * SENDS) / (KILLS + 1) && !finished) await sleep(5);
      server.child.kill('SIGKILL');
      await load;
      await server.exited;
      expect(cutOff, `kill ${kill} landed mid-load`).toBeGreaterThan(0);
      server = await startServer(dataDir);
      await waitReady(server, 30_000);
      bearer = (await tokenResponse(server.port, creds)).accessToken!;
    }
    expect(next).toBe(SENDS);

    // Every send again, with both its keys. A key a dead process had claimed answers 409 with
    // Retry-After until its lease runs out; a client honouring Retry-After then gets its one effect.
    const deadline = Date.now() + 100_000;
    const honouringRetryAfter = async (request: () => Promise<Response>): Promise<Response> => {
      for (;;) {
        const res = await request();
        if (res.status !== 409) return res;
        expect(res.body.error?.code).toBe('idempotency_key_in_use');
        expect(Date.now(), 'a claimed key was freed in time').toBeLessThan(deadline);
        await sleep(res.retryAfter * 1000);
      }
    };
    const transactionOf = new Map<number, Record<string, any>>();
    let retry = 0;
    await Promise.all(
      Array.from({ length: WRITERS }, async () => {
        while (retry < SENDS) {
          const i = retry++;
          const quote = await honouringRetryAfter(() => requestQuote(i));
          expect(quote.status, JSON.stringify(quote.body)).toBe(201);
          if (quoteAnswers.has(i)) expect(quote.body.id, `quote-${i} names the quote it was answered with`).toBe(quoteAnswers.get(i));
          const send = await honouringRetryAfter(() => requestSend(i, quote.body.id));
          expect(send.status, `send-${i}: ${JSON.stringify(send.body)}`).toBe(201);
          expect(send.body.quoteId).toBe(quote.body.id);
          if (sendAnswers.has(i)) expect(send.body.id, `send-${i} names the transaction it was answered with`).toBe(sendAnswers.get(i));
          transactionOf.set(i, send.body);
        }
      }),
    );
    const ids = [...transactionOf.values()].map((t) => t.id as string);
    expect(new Set(ids).size, 'each send key names its own transaction').toBe(SENDS);

    // The worker of the last server finishes what every server left processing.
    for (;;) {
      const processing = await call(server.port, bearer, 'GET', '/v0.9/transactions?status=processing&limit=100');
      expect(processing.status).toBe(200);
      if (processing.body.data.length === 0) break;
      expect(Date.now(), `still processing: ${processing.body.data.map((t: any) => `${t.id} (${t.subStatus})`).join(', ')}`).toBeLessThan(deadline + 30_000);
      await sleep(200);
    }

    // Exactly the 500 transactions the keys name: none lost, none extra.
    const listed: Record<string, any>[] = [];
    for (let cursor: string | null = null; ; ) {
      const page = await call(server.port, bearer, 'GET', `/v0.9/transactions?limit=100${cursor ? `&startingAfter=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      listed.push(...page.body.data);
      cursor = page.body.nextCursor;
      if (!cursor) break;
    }
    expect(listed.map((t) => t.id).sort()).toEqual([...ids].sort());

    // Each ended as its plan says, and the balances are exactly what the outcomes make them.
    const byId = new Map(listed.map((t) => [t.id as string, t]));
    const senderBalance = senders.map(() => units(DEPOSIT));
    const recipientBalance = recipients.map(() => 0n);
    for (const [i, answered] of transactionOf) {
      const p = plan(i);
      const t = byId.get(answered.id)!;
      expect(t.source.amountGross).toBe(decimal(units(p.amount)));
      expect(t.senderCustomerId).toBe(senders[p.sender]!.customerId);
      if (p.fails) {
        expect([t.status, t.failure?.code], `send-${i}`).toEqual(['failed', 'simulated_failure']);
        continue;
      }
      expect([t.status, t.subStatus], `send-${i}`).toEqual(['completed', null]);
      senderBalance[p.sender]! -= units(t.source.amountGross);
      if (p.recipient === null) {
        expect(t.recipientCustomerId).toBeNull();
        expect(t.destination.txHash).toMatch(/^0x[0-9a-f]{64}$/);
      } else {
        expect(t.recipientCustomerId).toBe(recipients[p.recipient]!.customerId);
        recipientBalance[p.recipient]! += units(t.destination.amountNet);
      }
    }
    const balanceOf = async (walletId: string) => {
      const res = await call(server.port, bearer, 'GET', `/v0.9/wallets/${walletId}/balance`);
      expect(res.status).toBe(200);
      return res.body.balance as string;
    };
    for (const [n, s] of senders.entries()) expect(await balanceOf(s.walletId), `sender ${n}`).toBe(decimal(senderBalance[n]!));
    for (const [n, r] of recipients.entries()) expect(await balanceOf(r.walletId), `recipient ${n}`).toBe(decimal(recipientBalance[n]!));

    // Behind the API: one quote per quote key, each accepted once; each transaction held once
    // and then settled or returned once; nothing left in any hold account.
    const db = await openDatabase(dataDir);
    try {
      const quotes = await db.query(`select status, count(*)::int as n from quotes group by status`);
      expect(quotes.rows).toEqual([{ status: 'accepted', n: SENDS }]);
      const entries = await db.query(`
        select t.id, t.status,
               count(e.id) filter (where e.kind = 'transaction.hold')::int as holds,
               count(e.id) filter (where e.kind = 'transaction.settle')::int as settlements,
               count(e.id) filter (where e.kind = 'transaction.refund')::int as refunds
          from transactions t left join journal_entries e on e.project_id = t.project_id and e.mode = t.mode and e.reference = t.id
         group by t.id, t.status`);
      expect(entries.rows).toHaveLength(SENDS);
      for (const row of entries.rows) {
        expect(row, `the entries of ${row.id}`).toEqual({
          id: row.id,
          status: row.status,
          holds: 1,
          settlements: row.status === 'completed' ? 1 : 0,
          refunds: row.status === 'failed' ? 1 : 0,
        });
      }
      const held = await db.query(`select id, wallet_id, balance from ledger_accounts where kind = 'in_flight' and balance <> 0`);
      expect(held.rows, 'every hold settled or released').toEqual([]);
    } finally {
      await db.end();
    }

    const verify = await spawnCli(childEnv(dataDir, { OMS_LOG_LEVEL: 'warn' }), ['ledger', 'verify']).result;
    expect([verify.code, verify.stdout]).toEqual([0, 'ledger verified: every balance equals its postings, every entry balances\n']);
    expect((await sigterm(server, 30_000)).code).toBe(0);
  }, 240_000);
});
