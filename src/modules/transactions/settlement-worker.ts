import type pg from 'pg';
import type { Logger } from 'pino';
import type { Db } from '../../db/database.js';
import { DomainError } from '../../domain/errors.js';
import type { Scope } from '../../domain/scope.js';
import { createNotifiedLoop } from '../../jobs/notified-loop.js';
import * as ledger from '../../ledger/ledger.js';
import type { OnChainTransfer, SettlementAdapter } from '../../settlement/settlement-adapter.js';
import { finishAll, type Outcome } from './settlement.js';
import * as repo from './transactions.repo.js';

export interface SettlementWorkerDeps {
  db: Db;
  listenTo: pg.ClientConfig;
  adapter: SettlementAdapter;
  log: Logger;
  pollMs: number;
}

export interface SettlementWorker {
  /** Settles and advances due transactions until none is left; returns how many it handled. */
  drain(): Promise<number>;
  start(): void;
  /** Finishes the work in hand, then stops. */
  stop(): Promise<void>;
}

/** Transfers between wallets settled per database transaction: one commit, one lock of the fee account, for many. */
const INTERNAL_BATCH = 64;
const ON_CHAIN_BATCH = 32;
/** Longer than any call to a chain should take; past it, another worker may take the transfer over. */
const LEASE_SECONDS = 60;
/** A drain ends after this many rounds even if work keeps coming due (an adapter that answers "ask again now"); the loop comes back. */
const MAX_ROUNDS = 100;

/** Settlements the ledger refused (a destination wallet closed meanwhile), with why. */
class RefusedSettlement extends Error {
  constructor(
    readonly records: repo.SettlementRecord[],
    readonly reason: DomainError,
  ) {
    super(reason.message);
  }
}

const scopeOf = (record: repo.SettlementRecord): Scope => ({ projectId: record.project_id, mode: record.mode });

/**
 * Moves processing transactions to their end. Transfers inside the server settle in batches,
 * claimed with SKIP LOCKED inside the transaction that settles them. Transfers to outside
 * addresses are leased, and the chain (the settlement adapter) is called with no database
 * transaction open; what it answers is recorded, and a final answer settles or refunds under
 * the transaction's row lock. Any number of workers, in any number of processes, share the work.
 */
export function createSettlementWorker({ db, listenTo, adapter, log, pollMs }: SettlementWorkerDeps): SettlementWorker {
  async function settleInternal(limit: number): Promise<number> {
    try {
      return await ledger.transaction(db, async (trx) => {
        const claimed = await repo.claimDueInternal(trx, limit);
        try {
          if (claimed.length > 0) await finishAll(trx, claimed.map((record) => ({ record, outcome: { status: 'completed' } })), new Date());
        } catch (err) {
          throw err instanceof DomainError ? new RefusedSettlement(claimed, err) : err;
        }
        return claimed.length;
      });
    } catch (err) {
      if (!(err instanceof RefusedSettlement)) throw err;
      const [refused, ...others] = err.records;
      if (others.length === 0) {
        await failRefused(refused!, err.reason);
        return 1;
      }
      // The batch rolled back; one at a time finds the transfer the ledger refuses.
      let settled = 0;
      for (let i = 0; i < limit; i++) {
        const n = await settleInternal(1);
        if (n === 0) break;
        settled += n;
      }
      return settled;
    }
  }

  async function failRefused(refused: repo.SettlementRecord, reason: DomainError): Promise<void> {
    await ledger.transaction(db, async (trx) => {
      const record = await repo.lockProcessing(trx, scopeOf(refused), refused.id);
      if (record) await finishAll(trx, [{ record, outcome: { status: 'failed', code: 'destination_refused', message: reason.message } }], new Date());
    });
  }

  function transferOf(record: repo.SettlementRecord): OnChainTransfer {
    return {
      transactionId: record.id,
      mode: record.mode,
      network: record.destination_network,
      asset: record.destination_asset,
      to: record.destination_address!,
      amount: record.destination_amount_net,
      requestedAmount: record.fixed_amount_side === 'source' ? record.source_amount_gross : record.destination_amount_net,
    };
  }

  async function advance(record: repo.SettlementRecord): Promise<void> {
    const scope = scopeOf(record);
    const transfer = transferOf(record);
    if (record.tx_hash === null || record.submitted_at === null) {
      const submission = await adapter.submit(transfer);
      await repo.reschedule(db, scope, record.id, { settleAfter: submission.checkAt, subStatus: 'awaitingConfirmation', submission: { txHash: submission.txHash, at: new Date() } });
      return;
    }
    const status = await adapter.status(transfer, { txHash: record.tx_hash, submittedAt: record.submitted_at });
    if (status.state === 'pending') {
      await repo.reschedule(db, scope, record.id, { settleAfter: status.checkAt, subStatus: 'awaitingConfirmation' });
      return;
    }
    const outcome: Outcome = status.state === 'confirmed' ? { status: 'completed' } : { status: 'failed', code: status.code, message: status.message };
    await ledger.transaction(db, async (trx) => {
      // An operator may have ended it while the chain was asked.
      const locked = await repo.lockProcessing(trx, scope, record.id);
      if (locked) await finishAll(trx, [{ record: locked, outcome }], new Date());
    });
  }

  async function advanceOnChain(): Promise<number> {
    const leased = await repo.leaseDueOnChain(db, ON_CHAIN_BATCH, LEASE_SECONDS);
    await Promise.all(
      leased.map((record) =>
        advance(record).catch((err: unknown) => {
          // The lease runs out and another round tries again.
          log.warn({ err, transactionId: record.id }, 'could not advance an on-chain settlement');
        }),
      ),
    );
    return leased.length;
  }

  async function drain(): Promise<number> {
    let handled = 0;
    for (let rounds = 0; rounds < MAX_ROUNDS; rounds++) {
      const round = (await settleInternal(INTERNAL_BATCH)) + (await advanceOnChain());
      if (round === 0) return handled;
      handled += round;
    }
    return handled;
  }

  const loop = createNotifiedLoop({ name: 'settlement', listenTo, channel: repo.SETTLEMENT_CHANNEL, pollMs, log, drain });
  return { drain, start: loop.start, stop: loop.stop };
}
