import { randomUUID } from 'node:crypto';
import autocannon from 'autocannon';

/**
 * The load generator, run as its own process so that its CPU is never counted against the
 * server it measures. Reads a job from argv[2] (JSON) and prints the autocannon result as JSON.
 *
 * Requests rotate over many rows: hammering one would measure row-lock queueing, not the
 * server. PATCH sends a different firstName every time, since an unchanged PATCH is answered
 * without a write; POST (a deposit) sends a fresh Idempotency-Key every time.
 */
export interface LoadJob {
  url: string;
  method: 'GET' | 'PATCH' | 'POST';
  paths: string[];
  headers: Record<string, string>;
  connections: number;
  duration: number;
}

const job = JSON.parse(process.argv[2] ?? '') as LoadJob;
let n = 0;

const result = await autocannon({
  url: job.url,
  connections: job.connections,
  duration: job.duration,
  timeout: 10,
  requests: [
    {
      method: job.method,
      headers: job.method === 'GET' ? job.headers : { ...job.headers, 'content-type': 'application/json' },
      setupRequest(request) {
        const i = n++;
        const path = job.paths[i % job.paths.length]!;
        if (job.method === 'PATCH') return { ...request, path, body: JSON.stringify({ firstName: `Ada${i}` }) };
        if (job.method === 'POST') return { ...request, path, headers: { ...request.headers, 'idempotency-key': randomUUID() }, body: JSON.stringify({ amount: '1' }) };
        return { ...request, path };
      },
    },
  ],
});
process.stdout.write(`${JSON.stringify(result)}\n`);
