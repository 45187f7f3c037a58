import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { MasterKeyring } from '../crypto/master-keys.js';
import type { DatabaseHandle } from '../db/database.js';
import { systemResolver } from '../net/ssrf-guard.js';
import { createDispatcher, type Dispatcher } from './dispatcher.js';

/** The dispatcher as the server and `oms worker` run it: the system's DNS, settings from the environment. */
export function createDispatcherFromConfig(config: Config, database: DatabaseHandle, keyring: MasterKeyring, log: Logger): Dispatcher {
  return createDispatcher({
    db: database.db,
    listenTo: database.pool.options,
    keyring,
    resolver: systemResolver,
    guard: { allowHttpLoopback: config.webhookAllowHttpLoopback },
    log,
    pollMs: config.webhookPollMs,
    disableAfterMs: config.webhookDisableAfterHours * 3_600_000,
  });
}
