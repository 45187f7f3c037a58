import { InvalidArgumentError, type Command } from 'commander';
import { sql } from 'kysely';
import { isId } from '../domain/ids.js';
import type { Mode } from '../domain/scope.js';
import { COMPLIANCE_ONLY_EVENT_TYPES } from '../events/catalogue.js';
import { deliveryMessage, type StoredEvent } from '../webhooks/delivery-message.js';
import { newWebhookSecret } from '../webhooks/signing.js';
import { withRuntime } from './with-runtime.js';

/** Events can commit out of their timestamps' order by this much and still be forwarded. */
const LATE_COMMIT_WINDOW_MS = 10_000;
const POLL_MS = 250;

interface ListenOptions {
  forwardTo: string;
  project: string;
  mode: Mode;
  events?: string[];
}

/**
 * `oms listen --forward-to <url>`: tails a project's new events and POSTs each, signed like a
 * webhook delivery with a secret printed at start, to a local URL, so a developer receives
 * webhooks without exposing one (like `stripe listen`). Reads the database directly, as every
 * `oms` command does. Each event is forwarded once per run; a failed forward is reported, not
 * retried (re-run, or use POST /v0.9/events/{id}/resend through a real endpoint).
 */
export function addListenCommand(program: Command): void {
  program
    .command('listen')
    .description('forward a project’s new events, signed, to a local URL (like stripe listen)')
    .requiredOption('--forward-to <url>', 'where to POST each event, e.g. http://127.0.0.1:3000/hook', parseUrl)
    .requiredOption('--project <projectId>', 'the project whose events to forward', (value: string) => {
      if (!isId('project', value)) throw new InvalidArgumentError('must be a project id (prj_…)');
      return value;
    })
    .option('--mode <mode>', 'sandbox or live', (value: string) => {
      if (value !== 'sandbox' && value !== 'live') throw new InvalidArgumentError('must be sandbox or live');
      return value;
    }, 'sandbox')
    .option('--events <types>', 'comma-separated event types (default: all)', (value: string) => value.split(',').map((t) => t.trim()))
    .action((options: ListenOptions) =>
      withRuntime(async ({ database }) => {
        const secret = newWebhookSecret();
        process.stdout.write(`Forwarding ${options.mode} events of ${options.project} to ${options.forwardTo}\nSigning secret: ${secret}\n`);
        const seen = new Map<string, number>();
        let since = new Date();
        let stopped = false;
        // Events already there at start are history, not new: the first round only notes them.
        let first = true;
        process.once('SIGINT', () => (stopped = true));
        process.once('SIGTERM', () => (stopped = true));
        while (!stopped) {
          const { rows } = await sql<StoredEvent>`
            select id, type, data::text as data, created_at as "createdAt" from events
             where project_id = ${options.project} and mode = ${options.mode} and created_at >= ${new Date(since.getTime() - LATE_COMMIT_WINDOW_MS)}
               and type <> all(${[...COMPLIANCE_ONLY_EVENT_TYPES]}::text[])
             order by created_at, id`.execute(database.db);
          for (const event of rows) {
            if (seen.has(event.id) || (options.events && !options.events.includes(event.type))) continue;
            seen.set(event.id, event.createdAt.getTime());
            if (!first) process.stdout.write(`${await forward(options.forwardTo, secret, event)}\n`);
          }
          first = false;
          since = new Date();
          for (const [id, at] of seen) if (at < since.getTime() - 2 * LATE_COMMIT_WINDOW_MS) seen.delete(id);
          await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        }
      }),
    );
}

function parseUrl(value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return url.href;
  } catch {
    // fall through
  }
  throw new InvalidArgumentError('must be an http(s) URL');
}

async function forward(url: string, secret: string, event: StoredEvent): Promise<string> {
  const { body, headers } = deliveryMessage(event, [secret]);
  const started = performance.now();
  try {
    const res = await fetch(url, {
      method: 'POST',
      redirect: 'manual',
      signal: AbortSignal.timeout(10_000),
      headers: { ...headers, 'content-type': 'application/json' },
      body,
    });
    return `--> ${event.type} ${event.id} [${res.status}] ${Math.round(performance.now() - started)} ms`;
  } catch (err) {
    return `--> ${event.type} ${event.id} [failed: ${(err as Error).message}]`;
  }
}
