import { createHash } from 'node:crypto';
import { normalizeDecimal } from '../pricing/quote-pricing.js';
import type { SettlementAdapter } from './settlement-adapter.js';

/** In sandbox, a transfer whose requested amount is this fails on the chain, every time (spec sandbox conventions). */
export const SIMULATED_FAILURE_AMOUNT = '13.13';

/**
 * A chain that confirms every transfer `confirmationMs` after it was submitted, with a
 * transaction hash derived from our transaction id (so a resubmission after a crash is the
 * same transfer). Nothing leaves the process.
 */
export function createSimulatedChain({ confirmationMs }: { confirmationMs: number }): SettlementAdapter {
  return {
    async submit(transfer) {
      const txHash = `0x${createHash('sha256').update(`simulated:${transfer.network}:${transfer.transactionId}`).digest('hex')}`;
      return { txHash, checkAt: new Date(Date.now() + confirmationMs) };
    },
    async status(transfer, submission) {
      const due = submission.submittedAt.getTime() + confirmationMs;
      if (Date.now() < due) return { state: 'pending', checkAt: new Date(due) };
      if (transfer.mode === 'sandbox' && normalizeDecimal(transfer.requestedAmount) === SIMULATED_FAILURE_AMOUNT) {
        return { state: 'failed', code: 'simulated_failure', message: `the simulated chain rejects transfers of ${SIMULATED_FAILURE_AMOUNT} in sandbox` };
      }
      return { state: 'confirmed' };
    },
  };
}
