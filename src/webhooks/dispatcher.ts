import type pg from 'pg';
import type { Logger } from 'pino';
import type { MasterKeyring } from '../crypto/master-keys.js';
import type { Db } from '../db/database.js';
import { createNotifiedLoop } from '../jobs/notified-loop.js';
import { resolveTarget, UrlRefused, type GuardOptions, type Resolver } from '../net/ssrf-guard.js';
import { claimDueDeliveries, DELIVERY_CHANNEL, recordAttempt, type AttemptOutcome, type ClaimedDelivery } from './deliveries.repo.js';
import { sendDelivery, type SendResult } from './http-sender.js';
import { deliveryMessage } from './delivery-message.js';
import { retryDelayMs } from './retry-schedule.js';
import { openWebhookSecret } from './webhook-secrets.js';

export interface DispatcherDeps {
  db: Db;
  listenTo: pg.ClientConfig;
  keyring: MasterKeyring;
  resolver: Resolver;
  guard: GuardOptions;
  log: Logger;
  pollMs: number;
  /** An endpoint whose deliveries all failed for this long is disabled when one runs out of attempts. */
  disableAfterMs: number;
}

export interface Dispatcher {
  /** Attempts every due delivery and waits for the attempts to finish; returns how many it made. */
  drain(): Promise<number>;
  start(): void;
  stop(): Promise<void>;
}

const BATCH = 32;
/** Sends in flight at once: a receiver that hangs holds one slot for 10 s, not the dispatcher. */
const MAX_IN_FLIGHT = 128;
/** Longer than an attempt can take (10 s timeout); past it another dispatcher may retry the delivery. */
const LEASE_SECONDS = 60;
/** Spec 6.2 bounds what is sent; a larger event is recorded as failed, never truncated. */
const MAX_PAYLOAD_BYTES = 256 * 1024;

/**
 * Sends webhook deliveries (spec 6.2): claims due ones (SKIP LOCKED and a lease, committed
 * first), checks the URL again and resolves it (SSRF guard, at delivery too), signs with every
 * valid secret, POSTs, and records the attempt. At least once: a crash after the send and
 * before the record sends again after the lease; receivers deduplicate on webhook-id.
 */
export function createDispatcher({ db, listenTo, keyring, resolver, guard, log, pollMs, disableAfterMs }: DispatcherDeps): Dispatcher {
  async function attempt(delivery: ClaimedDelivery): Promise<void> {
    const startedAt = new Date();
    const result = await send(delivery);
    const outcome = outcomeOf(delivery, result);
    await recordAttempt(db, delivery, { startedAt, statusCode: result.statusCode ?? null, error: result.error ?? null, latencyMs: result.latencyMs }, outcome, disableAfterMs);
    log.info(
      { deliveryId: delivery.id, eventId: delivery.event.id, endpointId: delivery.endpointId, attempt: delivery.attempt, status: result.statusCode, outcome: outcome.kind },
      'webhook attempt',
    );
  }

  async function send(delivery: ClaimedDelivery): Promise<SendResult> {
    const secrets = delivery.secrets.map((sealed) => openWebhookSecret(keyring, delivery.scope, delivery.endpointId, sealed));
    const { body, headers } = deliveryMessage(delivery.event, secrets);
    if (Buffer.byteLength(body) > MAX_PAYLOAD_BYTES) return { error: `payload over ${MAX_PAYLOAD_BYTES} bytes`, latencyMs: 0 };
    const url = new URL(delivery.url);
    let target: { address: string; family: 4 | 6 };
    try {
      target = await resolveTarget(url, resolver, guard);
    } catch (err) {
      if (err instanceof UrlRefused) return { error: `refused at delivery: ${err.reason}`, latencyMs: 0 };
      return { error: `could not resolve ${url.hostname}: ${(err as Error).message}`, latencyMs: 0 };
    }
    return sendDelivery(url, target, headers, body);
  }

  function outcomeOf(delivery: ClaimedDelivery, result: SendResult): AttemptOutcome {
    if (result.statusCode !== undefined && result.statusCode >= 200 && result.statusCode < 300) return { kind: 'delivered' };
    if (result.statusCode === 410) return { kind: 'gone' };
    const delay = retryDelayMs(delivery.scheduled, result.retryAfterSeconds);
    return delay === undefined ? { kind: 'failed' } : { kind: 'retry', at: new Date(Date.now() + delay) };
  }

  const inFlight = new Set<Promise<void>>();

  function track(delivery: ClaimedDelivery): void {
    const sending: Promise<void> = attempt(delivery)
      .catch((err: unknown) => log.error({ err, deliveryId: delivery.id }, 'webhook attempt could not be recorded; its lease will expire'))
      .finally(() => inFlight.delete(sending));
    inFlight.add(sending);
  }

  /** Claims due deliveries while slots are free and starts them; returns once nothing is due, sends still running. */
  async function pump(): Promise<number> {
    let started = 0;
    for (;;) {
      const free = MAX_IN_FLIGHT - inFlight.size;
      if (free === 0) {
        await Promise.race(inFlight);
        continue;
      }
      const claimed = await claimDueDeliveries(db, Math.min(BATCH, free), LEASE_SECONDS);
      if (claimed.length === 0) return started;
      for (const delivery of claimed) track(delivery);
      started += claimed.length;
    }
  }

  async function drain(): Promise<number> {
    const started = await pump();
    await Promise.all(inFlight);
    return started;
  }

  const loop = createNotifiedLoop({ name: 'webhook-dispatcher', listenTo, channel: DELIVERY_CHANNEL, pollMs, log, drain: pump });
  return {
    drain,
    start: loop.start,
    async stop() {
      await loop.stop();
      await Promise.all(inFlight);
    },
  };
}
