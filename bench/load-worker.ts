import autocannon from 'autocannon';

/**
 * The load generator, run as its own process so that its CPU is never counted against the
 * server it measures. Reads a job from argv[2] (JSON) and prints the autocannon result as JSON.
 *
 * Requests rotate over many customers: hammering one row would measure row-lock queueing,
 * not the server. PATCH sends a different firstName every time, since an unchanged PATCH
 * is answered without a write.
 */
export interface LoadJob {
  url: string;
  method: 'GET' | 'PATCH';
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
      headers: job.method === 'PATCH' ? { ...job.headers, 'content-type': 'application/json' } : job.headers,
      setupRequest(request) {
        const i = n++;
        const path = job.paths[i % job.paths.length]!;
        return job.method === 'PATCH' ? { ...request, path, body: JSON.stringify({ firstName: `Ada${i}` }) } : { ...request, path };
      },
    },
  ],
});
process.stdout.write(`${JSON.stringify(result)}\n`);
