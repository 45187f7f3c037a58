import pg from 'pg';
import type { Logger } from 'pino';

export interface NotifiedLoopOptions {
  /** What the loop is called in logs and in pg_stat_activity. */
  name: string;
  /** Where to open the LISTEN connection. */
  listenTo: pg.ClientConfig;
  /** The channel writers notify (pg_notify) when they commit work for this loop. */
  channel: string;
  /** Polling is the fallback when a notification is missed (connection lost, another database). */
  pollMs: number;
  log: Logger;
  /** Claims and does due work until none is left. */
  drain(): Promise<unknown>;
}

export interface NotifiedLoop {
  start(): void;
  /** Lets the round in hand finish, then stops. */
  stop(): Promise<void>;
}

/**
 * A background loop that drains work whenever a writer's notification arrives, and every
 * `pollMs` in any case. Background work claims its rows itself (SKIP LOCKED), so any number
 * of these loops, in any number of processes, can run side by side.
 */
export function createNotifiedLoop({ name, listenTo, channel, pollMs, log, drain }: NotifiedLoopOptions): NotifiedLoop {
  let running = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  let pending = false;
  let listener: pg.Client | undefined;

  const nudge = () => {
    pending = true;
    wake?.();
  };

  /** Best effort: without it the loop still finds all work by polling. */
  async function listen(): Promise<void> {
    const client = new pg.Client({ ...listenTo, application_name: `oms-${name}-listener` });
    client.on('notification', nudge);
    client.on('error', (err) => {
      log.warn({ err }, `${name} listener lost its connection; polling until it is back`);
      listener = undefined;
      void client.end().catch(() => undefined);
      if (running) setTimeout(() => void listen(), pollMs * 20).unref();
    });
    try {
      await client.connect();
      await client.query(`listen ${channel}`);
      if (!running) return void (await client.end());
      listener = client;
    } catch (err) {
      log.warn({ err }, `${name} listener could not connect; polling until it can`);
      await client.end().catch(() => undefined);
      if (running) setTimeout(() => void listen(), pollMs * 20).unref();
    }
  }

  async function run(): Promise<void> {
    while (running) {
      pending = false;
      try {
        await drain();
      } catch (err) {
        log.warn({ err }, `${name} could not claim work`);
      }
      if (!running) break;
      // A notification that arrived while draining means another round at once.
      if (pending) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pollMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      void listen();
      loop = run();
    },
    async stop() {
      running = false;
      wake?.();
      await loop;
      await listener?.end().catch(() => undefined);
    },
  };
}
