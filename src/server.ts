import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { purgeExpiredIdempotencyKeys } from './http/idempotency.js';
import { createLogger, flushLogger } from './http/logging.js';
import { openCustody } from './custody/custody.js';
import { createKeysService } from './modules/auth/keys.service.js';
import { startBackgroundWork } from './jobs/background-work.js';
import { openRuntime } from './runtime.js';

const PURGE_EVERY_MS = 10 * 60_000;
const FORCE_EXIT_AFTER_MS = 30_000;

async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  const { keyring, database } = await openRuntime(config, log, 'server');
  const firstKey = await createKeysService(database.db, keyring, config.keyEnvironment).createFirstKeyIfEmpty();

  const app = await buildApp({
    config,
    db: database.db,
    keyring,
    custody: await openCustody({ db: database.db, keyring }),
    fastify: {
      loggerInstance: log,
      connectionTimeout: 60_000,
      requestTimeout: 30_000,
      keepAliveTimeout: 72_000,
      forceCloseConnections: 'idle',
    },
  });
  await app.listen({ port: config.port, host: config.host });
  const background = config.backgroundWork ? startBackgroundWork(config, database, keyring, log) : undefined;

  if (firstKey) {
    // Printed, not logged: a secret must never reach a log line.
    process.stdout.write(
      `\nFirst start: created project ${firstKey.projectId} with a sandbox API key.\n` +
        `  apiKey:    ${firstKey.apiKey}\n  apiSecret: ${firstKey.apiSecret}\n` +
        `The secret is shown only now. Exchange both for a token at POST /v0.9/auth/token.\n\n`,
    );
  }

  const purge = setInterval(() => {
    purgeExpiredIdempotencyKeys(database.db).catch((err: unknown) => log.warn({ err }, 'idempotency key purge failed'));
  }, PURGE_EVERY_MS);
  purge.unref();

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: draining requests');
    setTimeout(() => {
      log.error('shutdown took too long; exiting');
      flushLogger(log);
      process.exit(1);
    }, FORCE_EXIT_AFTER_MS).unref();
    clearInterval(purge);
    await app.close();
    await background?.stop();
    await database.close();
    log.info('stopped');
    flushLogger(log);
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`oms-server failed to start: ${err instanceof ConfigError ? err.message : (err as Error).stack}\n`);
  process.exit(1);
});
