import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from 'pino';
import { afterVerification } from '../../compliance/evaluation.js';
import type { VerificationProvider } from '../../compliance/verification-provider.js';
import type { MasterKeyring } from '../../crypto/master-keys.js';
import type { AssetCatalogue } from '../../domain/assets.js';
import type { Db } from '../../db/database.js';
import { inTransaction } from '../../db/transactions.js';
import { createNotifiedLoop } from '../../jobs/notified-loop.js';
import { openStoredPii } from './customer-pii.js';
import * as customers from './customers.repo.js';
import { saveOutcome, toSubject } from './customer-compliance.js';
import { toCustomerWallets } from '../wallets/wallets.view.js';
import {
  claimEvaluationJobs,
  completeEvaluationJob,
  EVALUATION_CHANNEL,
  releaseEvaluationJob,
  toEndorsementState,
  type ClaimedJob,
} from './endorsements.repo.js';

export interface EvaluationWorkerDeps {
  db: Db;
  /** Where to open the LISTEN connection that wakes the worker when a job is committed. */
  listenTo: pg.ClientConfig;
  keyring: MasterKeyring;
  /** Prices for the wallets in the customer object that events carry. */
  assets: AssetCatalogue;
  provider: VerificationProvider;
  decision: 'auto' | 'manual';
  log: Logger;
  /** Polling is the fallback when a notification is missed (connection lost, another database). */
  pollMs: number;
}

export interface EvaluationWorker {
  /** Claims and evaluates due jobs until none is left; returns how many it evaluated. */
  drain(): Promise<number>;
  start(): void;
  /** Finishes the jobs in hand, then stops. */
  stop(): Promise<void>;
}

const BATCH = 8;
/** Longer than any evaluation should take; past it, another worker may take the job over. */
const LEASE_SECONDS = 60;
/** Retry delay after a failed evaluation: doubles per attempt, at most an hour. */
const retryDelayMs = (attempts: number) => Math.min(3_600_000, 1_000 * 2 ** Math.min(attempts, 12));

/**
 * Runs live-mode checks (spec 3.3) off the request path. Jobs are claimed with SKIP LOCKED and
 * a lease, the customer's data is read and the provider called with no transaction open, then
 * the outcome is stored under the customer's row lock, only if the job is still the current
 * one: a write that came in meanwhile replaced it, and its own job carries the newer data.
 */
export function createEvaluationWorker({ db, listenTo, keyring, assets, provider, decision, log, pollMs }: EvaluationWorkerDeps): EvaluationWorker {
  const workerId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  async function evaluate(job: ClaimedJob): Promise<void> {
    const { scope, customerId } = job;
    const found = await customers.findCustomer(db, scope, customerId);
    if (!found) return;
    const { pii } = openStoredPii(keyring, scope, customerId, await customers.findSealedPii(db, scope, customerId));
    const result = await provider.verify(toSubject(found.row, pii), new Date());

    const moves = await inTransaction(db, async (trx) => {
      // The customer's lock first, as every customer write takes it before the job row.
      const locked = await customers.findCustomer(trx, scope, customerId, { forUpdate: true });
      if (!locked || !(await completeEvaluationJob(trx, job))) return undefined;
      const outcome = afterVerification(locked.endorsements.map(toEndorsementState), toSubject(locked.row, pii), {
        result,
        decision,
        ignoreMissing: false,
        cause: 'check_result',
      });
      await saveOutcome(trx, scope, locked.row, toCustomerWallets(locked.wallets, assets), locked.endorsements, outcome, new Date(), {
        review: result.sanctionsHit,
      });
      return outcome.moves.map((m) => `${m.name}:${m.transition.from}>${m.transition.to}`);
    });
    log.info({ jobId: job.jobId, customerId, worker: workerId, moves: moves ?? 'superseded' }, 'evaluation finished');
  }

  async function runJob(job: ClaimedJob): Promise<void> {
    try {
      await evaluate(job);
    } catch (err) {
      log.error({ err, jobId: job.jobId, customerId: job.customerId }, 'evaluation failed; will retry');
      await releaseEvaluationJob(db, job, new Date(Date.now() + retryDelayMs(job.attempts))).catch((releaseErr: unknown) =>
        log.warn({ err: releaseErr }, 'could not release evaluation job; its lease will expire'),
      );
    }
  }

  async function drain(): Promise<number> {
    let done = 0;
    for (;;) {
      const jobs = await claimEvaluationJobs(db, workerId, BATCH, LEASE_SECONDS);
      if (jobs.length === 0) return done;
      await Promise.all(jobs.map(runJob));
      done += jobs.length;
    }
  }

  const loop = createNotifiedLoop({ name: 'evaluation', listenTo, channel: EVALUATION_CHANNEL, pollMs, log, drain });

  return { drain, start: loop.start, stop: loop.stop };
}
