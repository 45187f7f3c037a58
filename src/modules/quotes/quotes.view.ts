import { isoTimestamp } from '../../http/schema-helpers.js';
import type { PricedColumns, QuoteRow } from './quotes.repo.js';
import type { QuoteView } from './quotes.schemas.js';

/** The priced parts a quote and the transaction that accepts it share (spec 5.1, 5.2). */
export function pricedParts(row: PricedColumns) {
  return {
    source: {
      walletId: row.source_wallet_id,
      asset: row.source_asset,
      network: row.source_network,
      amountGross: row.source_amount_gross,
      amountNet: row.source_amount_net,
      feesDeducted: row.source_fees,
    },
    destination: {
      asset: row.destination_asset,
      network: row.destination_network,
      amountGross: row.destination_amount_gross,
      amountNet: row.destination_amount_net,
      feesDeducted: row.destination_fees,
      wallet: row.destination_wallet_id !== null ? { id: row.destination_wallet_id } : { blockchainAddress: row.destination_address! },
    },
    rates: { exchangeRate: row.exchange_rate, effectiveRate: row.effective_rate, pair: `${row.source_asset}/${row.destination_asset}` },
    fixedAmountSide: row.fixed_amount_side,
    sponsorGasCost: '0',
  };
}

/** An open quote past its expiry reads as expired; nothing needs to run to expire it. */
export function toQuoteView(row: QuoteRow, now = new Date()): QuoteView {
  return {
    id: row.id,
    object: 'quote',
    type: row.type,
    status: row.status === 'open' && row.expires_at <= now ? 'expired' : row.status,
    customerId: row.customer_id,
    ...pricedParts(row),
    feesDeducted: { total: row.source_fees, developer: row.fee_developer, oms: row.fee_oms, gas: row.fee_gas },
    sponsorGas: row.sponsor_gas,
    metadata: row.metadata,
    expiresAt: isoTimestamp(row.expires_at),
    createdAt: isoTimestamp(row.created_at),
  };
}
