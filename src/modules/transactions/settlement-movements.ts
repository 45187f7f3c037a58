import { isZero, negate } from '../../ledger/decimal-amount.js';
import * as ledger from '../../ledger/ledger.js';
import type { SettlementRecord } from './transactions.repo.js';

/**
 * The ledger entries of a transaction's life (reference: the transaction id):
 *
 * - hold, at creation: source wallet → the wallet's in-flight account, source.amountGross;
 * - completion: in-flight → fees (the fee) and → the destination (source.amountNet). Between
 *   two wallets of the same asset and chain the net goes straight across; otherwise it leaves
 *   through the outside world's account of the source pair and the destination receives
 *   destination.amountGross from the world's account of its own pair (a conversion or a
 *   bridge is a trade with the outside world), so each asset's postings still sum to zero;
 * - refund, on failure: in-flight → source wallet, everything held.
 */

type Accounts = Pick<
  SettlementRecord,
  | 'source_asset'
  | 'destination_asset'
  | 'source_network'
  | 'destination_network'
  | 'source_amount_gross'
  | 'source_fees'
  | 'source_amount_net'
  | 'destination_amount_gross'
  | 'source_account_id'
  | 'hold_account_id'
  | 'fees_account_id'
  | 'source_external_account_id'
  | 'destination_account_id'
  | 'destination_external_account_id'
  | 'id'
>;

export function holdMovement(transactionId: string, wallet: { ledger_account_id: string; hold_account_id: string; asset: string }, amount: string): ledger.Movement {
  return ledger.transfer('transaction.hold', { id: wallet.ledger_account_id, asset: wallet.asset }, { id: wallet.hold_account_id, asset: wallet.asset }, amount, transactionId);
}

export function completionMovement(t: Accounts): ledger.Movement {
  const source = (id: string) => ({ id, asset: t.source_asset });
  const destination = (id: string) => ({ id, asset: t.destination_asset });
  const legs: ledger.Leg[] = [{ account: source(t.hold_account_id), amount: negate(t.source_amount_gross) }];
  if (!isZero(t.source_fees)) legs.push({ account: source(t.fees_account_id), amount: t.source_fees });
  const samePair = t.source_asset === t.destination_asset && t.source_network === t.destination_network;
  if (t.destination_account_id !== null && samePair) {
    legs.push({ account: destination(t.destination_account_id), amount: t.source_amount_net });
  } else {
    legs.push({ account: source(t.source_external_account_id), amount: t.source_amount_net });
    if (t.destination_account_id !== null && t.destination_external_account_id !== null) {
      legs.push({ account: destination(t.destination_external_account_id), amount: negate(t.destination_amount_gross) });
      legs.push({ account: destination(t.destination_account_id), amount: t.destination_amount_gross });
    }
  }
  return { kind: 'transaction.settle', reference: t.id, legs };
}

export function refundMovement(t: Accounts): ledger.Movement {
  return ledger.transfer('transaction.refund', { id: t.hold_account_id, asset: t.source_asset }, { id: t.source_account_id, asset: t.source_asset }, t.source_amount_gross, t.id);
}

/**
 * The accounts a movement of this transaction posts to that keep a balance, and so are locked
 * by posting. The outside world's accounts cache none: no posting locks them.
 */
export function accountsPosted(t: Accounts, movement: ledger.Movement): string[] {
  const outside = new Set([t.source_external_account_id, t.destination_external_account_id]);
  return movement.legs.map((leg) => leg.account.id).filter((id) => !outside.has(id));
}
