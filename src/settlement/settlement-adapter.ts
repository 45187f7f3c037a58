import type { Mode } from '../db/schema.js';

/**
 * How money reaches an address outside this server. The settlement worker calls an adapter
 * outside any database transaction and keeps what it answers; a real chain integration
 * replaces the simulated one (simulated-chain.ts) behind this interface.
 */
export interface OnChainTransfer {
  /** Our transaction id: submitting the same transfer again must not send it twice. */
  transactionId: string;
  mode: Mode;
  network: string;
  asset: string;
  to: string;
  /** What the recipient receives, a decimal string. */
  amount: string;
  /** The amount the customer fixed on the quote, for adapters that script outcomes by amount. */
  requestedAmount: string;
}

export interface Submission {
  txHash: string;
  /** When asking about it again is worthwhile. */
  checkAt: Date;
}

export type ChainStatus = { state: 'pending'; checkAt: Date } | { state: 'confirmed' } | { state: 'failed'; code: string; message: string };

export interface SettlementAdapter {
  submit(transfer: OnChainTransfer): Promise<Submission>;
  status(transfer: OnChainTransfer, submission: { txHash: string; submittedAt: Date }): Promise<ChainStatus>;
}
