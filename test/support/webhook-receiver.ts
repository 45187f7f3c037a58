import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** A local webhook receiver for tests, and the waiting they need. No vitest import: the bench uses it too. */

export interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

/** Answers with the scripted status codes in order, then 200; records every request. */
export class Receiver {
  readonly received: Received[] = [];
  private script: { status: number; headers?: Record<string, string> }[] = [];
  /** Set by listen(). */
  url = '';
  private server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      this.received.push({ headers: req.headers, body, at: Date.now() });
      const next = this.script.shift() ?? { status: 200 };
      res.writeHead(next.status, next.headers).end('ok');
    });
  });

  answer(...statuses: (number | { status: number; headers?: Record<string, string> })[]) {
    this.script = statuses.map((s) => (typeof s === 'number' ? { status: s } : s));
  }

  /** Listens on 127.0.0.1 and returns the URL to register. */
  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
    return this.url;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** The event a delivery carries, verified by the standardwebhooks package with `secret` (throws if forged). */
export function verified(received: Received, secret: string): { id: string; type: string; data: { object: { id: string } } } {
  return new Webhook(secret.slice('whsec_'.length)).verify(received.body, {
    'webhook-id': received.headers['webhook-id'] as string,
    'webhook-timestamp': received.headers['webhook-timestamp'] as string,
    'webhook-signature': received.headers['webhook-signature'] as string,
  }) as { id: string; type: string; data: { object: { id: string } } };
}

export async function until<T>(probe: () => T | Promise<T>, ok: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out; last value: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
