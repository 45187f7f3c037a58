import { randomUUID } from 'node:crypto';
import { runPairLoops, runPairsAtRate, type Pair } from './pair-loops.js';

/**
 * The load generator of the transactions bench, in its own process: `connections` loops (or
 * an open loop at `perSecond`), each pair asking a quote and accepting it (internal sends of
 * 1 usdc between the given wallets, every request with a fresh Idempotency-Key), for
 * `duration` seconds. Prints JSON: how many pairs,
 * the POST /transactions latencies (ms), and any failure.
 */
export interface PairJob {
  port: number;
  bearer: string;
  pairs: Pair[];
  connections: number;
  duration: number;
  /** When set, an open loop at this many pairs per second instead of `connections` closed loops. */
  perSecond?: number;
}

const job = JSON.parse(process.argv[2] ?? '') as PairJob;
const base = `http://127.0.0.1:${job.port}/v0.9`;
const headers = { authorization: `Bearer ${job.bearer}`, 'content-type': 'application/json' };

async function post(path: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${base}${path}`, { method: 'POST', headers: { ...headers, 'idempotency-key': randomUUID() }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

async function pair(pair: Pair): Promise<number> {
  const quote = await post('/quotes', {
    customerId: pair.customerId,
    source: { walletId: pair.from, asset: 'usdc', network: 'polygon', amount: '1' },
    destination: { asset: 'usdc', network: 'polygon', wallet: { id: pair.to } },
  });
  if (quote.status !== 201) throw new Error(`quote ${quote.status} ${JSON.stringify(quote.body)}`);
  const started = performance.now();
  const sent = await post('/transactions', { quoteId: quote.body.id });
  if (sent.status !== 201) throw new Error(`transaction ${sent.status} ${JSON.stringify(sent.body)}`);
  return performance.now() - started;
}

const run = job.perSecond ? await runPairsAtRate(job.pairs, job.perSecond, job.duration, pair) : await runPairLoops(job.pairs, job.connections, job.duration, pair);
process.stdout.write(`${JSON.stringify(run)}\n`);
