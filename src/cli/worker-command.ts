import type { Command } from 'commander';
import { createLogger, flushLogger } from '../http/logging.js';
import { startBackgroundWork } from '../jobs/background-work.js';
import { withRuntime } from './with-runtime.js';

/**
 * `oms worker`: the server's background work (webhook deliveries, live evaluations, settlements) without
 * the API, so it can be scaled out on its own; stops cleanly on SIGTERM or SIGINT.
 */
export function addWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run webhook deliveries, live KYC evaluations and settlements without the API, until SIGTERM; any number may run side by side')
    .action(() =>
      withRuntime(async ({ database, keyring }, config) => {
        const log = createLogger(config.logLevel);
        const work = startBackgroundWork(config, database, keyring, log);
        log.info('worker started');
        await new Promise<void>((resolve) => {
          process.once('SIGTERM', resolve);
          process.once('SIGINT', resolve);
        });
        await work.stop();
        log.info('worker stopped');
        flushLogger(log);
      }),
    );
}
