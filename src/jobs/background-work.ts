import type { Logger } from 'pino';
import { localProviderFromConfig } from '../compliance/local-provider-config.js';
import type { Config } from '../config.js';
import type { MasterKeyring } from '../crypto/master-keys.js';
import type { DatabaseHandle } from '../db/database.js';
import { readAssetCatalogue } from '../domain/assets.js';
import { createEvaluationWorker } from '../modules/customers/evaluation-worker.js';
import { systemResolver } from '../net/ssrf-guard.js';
import { createDispatcher } from '../webhooks/dispatcher.js';
import { createSettlementWorker } from '../modules/transactions/settlement-worker.js';
import { createSimulatedChain } from '../settlement/simulated-chain.js';

export interface BackgroundWork {
  /** Lets the work in hand finish, then stops. */
  stop(): Promise<void>;
}

/**
 * Everything that runs off the request path: live KYC evaluations, webhook deliveries and settlements.
 * Every server process runs it, and so does `oms worker`, alone or many times over: each
 * loop claims its rows with SKIP LOCKED, so processes share the work without coordination.
 */
export function startBackgroundWork(config: Config, database: DatabaseHandle, keyring: MasterKeyring, log: Logger): BackgroundWork {
  const evaluations = createEvaluationWorker({
    db: database.db,
    listenTo: database.pool.options,
    keyring,
    assets: readAssetCatalogue(config.assetsFile),
    provider: localProviderFromConfig(config),
    decision: config.kycDecision,
    log,
    pollMs: config.evaluationPollMs,
  });
  const deliveries = createDispatcher({
    db: database.db,
    listenTo: database.pool.options,
    keyring,
    resolver: systemResolver,
    guard: { allowHttpLoopback: config.webhookAllowHttpLoopback },
    log,
    pollMs: config.webhookPollMs,
    disableAfterMs: config.webhookDisableAfterHours * 3_600_000,
  });
  const settlements = createSettlementWorker({
    db: database.db,
    listenTo: database.pool.options,
    adapter: createSimulatedChain({ confirmationMs: config.simulatedChainConfirmationMs }),
    log,
    pollMs: config.settlementPollMs,
  });
  evaluations.start();
  deliveries.start();
  settlements.start();
  return {
    async stop() {
      await Promise.all([evaluations.stop(), deliveries.stop(), settlements.stop()]);
    },
  };
}
