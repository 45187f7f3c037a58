import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';

/** 2xx within this long is a delivery (spec 6.2); anything slower is a failed attempt. */
export const DELIVERY_TIMEOUT_MS = 10_000;
/** Enough of the receiver's answer to keep for the delivery log; the rest is discarded. */
const KEPT_RESPONSE_BYTES = 1_024;

export interface SendResult {
  /** Absent when no answer came (timeout, refused connection, TLS failure). */
  statusCode?: number;
  retryAfterSeconds?: number;
  error?: string;
  latencyMs: number;
}

/**
 * POSTs one delivery to `address`, the address the SSRF guard vetted for the URL's host, so a
 * DNS answer that changed since the check is never used. The URL's host still names the
 * server in the Host header and in TLS (SNI and certificate check). Redirects are not followed:
 * a 3xx is a failed attempt like any other non-2xx.
 */
export function sendDelivery(url: URL, target: { address: string; family: 4 | 6 }, headers: Record<string, string>, body: string): Promise<SendResult> {
  const started = performance.now();
  const latency = () => Math.round(performance.now() - started);
  const lookup: LookupFunction = (_hostname, options, callback) => {
    if (options.all) callback(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  };
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    const request = transport.request(
      url,
      {
        method: 'POST',
        lookup,
        agent: false,
        headers: { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'oms-server-webhooks' },
      },
      (response) => {
        let kept = 0;
        response.on('data', (chunk: Buffer) => {
          kept += chunk.length;
          if (kept > KEPT_RESPONSE_BYTES) response.destroy();
        });
        const done = () => {
          clearTimeout(timer);
          resolve({ statusCode: response.statusCode ?? 0, ...retryAfter(response.headers['retry-after']), latencyMs: latency() });
        };
        response.on('end', done);
        response.on('close', done);
      },
    );
    const timer = setTimeout(() => request.destroy(new Error(`no answer within ${DELIVERY_TIMEOUT_MS / 1000} s`)), DELIVERY_TIMEOUT_MS);
    request.on('error', (err) => {
      clearTimeout(timer);
      resolve({ error: err.message, latencyMs: latency() });
    });
    request.end(body);
  });
}

/** Retry-After in seconds (the HTTP-date form is honoured too). */
function retryAfter(value: string | undefined): { retryAfterSeconds?: number } {
  if (value === undefined) return {};
  const seconds = /^\d+$/.test(value.trim()) ? Number(value.trim()) : Math.ceil((Date.parse(value) - Date.now()) / 1000);
  return Number.isFinite(seconds) && seconds > 0 ? { retryAfterSeconds: seconds } : {};
}
