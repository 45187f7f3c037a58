import { getAddress, isAddress } from 'viem';
import type { Db } from '../../db/database.js';
import { supportedPair, type AssetCatalogue, type AssetOnChain } from '../../domain/assets.js';
import { DomainError, notFound, validationError } from '../../domain/errors.js';
import { assertId, isId, newId } from '../../domain/ids.js';
import type { Scope } from '../../domain/scope.js';
import { parsePositiveAmount } from '../../ledger/decimal-amount.js';
import type { PricingTable } from '../../pricing/pricing-table.js';
import { priceQuote } from '../../pricing/quote-pricing.js';
import * as repo from './quotes.repo.js';
import type { QuoteCreateBody, QuoteView } from './quotes.schemas.js';
import { toQuoteView } from './quotes.view.js';

/**
 * Quotes (spec 5.1): a price for moving money from a customer's wallet, fixed for a short
 * time. Pricing itself is src/pricing/quote-pricing.ts; this checks who may send what where.
 */
export interface QuotesService {
  create(db: Db, scope: Scope, body: QuoteCreateBody): Promise<QuoteView>;
  get(db: Db, scope: Scope, id: string): Promise<QuoteView>;
}

export interface QuotesDeps {
  assets: AssetCatalogue;
  pricing: PricingTable;
  ttlSeconds: number;
}

const UNCHECKSUMMED = /^0x([0-9a-f]{40}|[0-9A-F]{40})$/;
const isEvmAddress = (value: string): boolean => UNCHECKSUMMED.test(value) || isAddress(value, { strict: true });

type Destination = { walletId: string; address: null } | { walletId: null; address: string };

export function createQuotesService({ assets, pricing, ttlSeconds }: QuotesDeps): QuotesService {
  function destinationOf(body: QuoteCreateBody, pair: AssetOnChain, wallet: repo.PartyWallet | null): Destination {
    const choice = body.destination.wallet;
    if ('externalAccount' in choice) throw new DomainError('unsupported_destination', 'external accounts are not supported yet: send to a wallet id or a blockchain address');
    if ('blockchainAddress' in choice) {
      // Every supported chain is an EVM chain: a mixed-case address must carry a valid EIP-55
      // checksum; an all-lowercase or all-uppercase one carries none and is taken as it is.
      if (!isEvmAddress(choice.blockchainAddress)) {
        throw validationError('/destination/wallet/blockchainAddress', `is not a valid ${pair.chain} address (0x and 40 hex digits, EIP-55 checksummed when mixed-case)`);
      }
      return { walletId: null, address: getAddress(choice.blockchainAddress) };
    }
    if (!wallet) throw notFound('destination wallet');
    if (wallet.asset !== pair.asset || wallet.chain !== pair.chain) {
      throw validationError('/destination/wallet/id', `is a ${wallet.asset} wallet on ${wallet.chain}, not ${pair.asset} on ${pair.chain}`);
    }
    if (wallet.id === body.source.walletId) throw validationError('/destination/wallet/id', 'is the source wallet');
    if (wallet.status === 'closed') throw new DomainError('conflict', 'the destination wallet is closed');
    return { walletId: wallet.id, address: null };
  }

  return {
    async create(db, scope, body) {
      const { source, destination } = body;
      if ((source.amount === undefined) === (destination.amount === undefined)) {
        throw validationError('/source/amount', 'exactly one of source.amount and destination.amount is required');
      }
      assertId('customer', body.customerId);
      if (!isId('wallet', source.walletId)) throw notFound('source wallet');
      const named = 'id' in destination.wallet ? destination.wallet.id : null;
      if (named !== null && !isId('wallet', named)) throw notFound('destination wallet');
      const parties = await repo.findParties(db, scope, { customerId: body.customerId, sourceWalletId: source.walletId, destinationWalletId: named });
      if (!parties) throw notFound('customer');
      const wallet = parties.source;
      if (!wallet) throw notFound('source wallet');
      if (wallet.customer_id !== body.customerId) throw validationError('/source/walletId', 'is not a wallet of this customer');
      if (wallet.asset !== source.asset || wallet.chain !== source.network) {
        throw validationError('/source', `the wallet holds ${wallet.asset} on ${wallet.chain}, not ${source.asset} on ${source.network}`);
      }
      const from = supportedPair(assets, source.asset, source.network, 'source');
      const to = supportedPair(assets, destination.asset, destination.network, 'destination');
      const exchangeRate = pricing.exchangeRate(from.asset, to.asset);
      if (exchangeRate === undefined) throw new DomainError('unsupported_asset', `no rate from ${from.asset} to ${to.asset}`);
      const target = destinationOf(body, to, parties.destination);
      if (parties.customerStatus !== 'active') throw new DomainError('customer_inactive', 'the customer is inactive and can send nothing');
      if (wallet.status !== 'active') throw new DomainError('conflict', `the source wallet is ${wallet.status}: no money moves out`);

      const fixedSide = source.amount !== undefined ? 'source' : 'destination';
      const amount =
        fixedSide === 'source' ? parsePositiveAmount(source.amount!, from.decimals, '/source/amount') : parsePositiveAmount(destination.amount!, to.decimals, '/destination/amount');
      const priced = priceQuote({ fixedSide, amount, sourceScale: from.decimals, destinationScale: to.decimals, exchangeRate, fee: pricing.fee(scope.projectId, 'cryptoToCrypto') });
      const at = new Date();
      const quote: repo.NewQuote = {
        id: newId('quote'),
        customer_id: body.customerId,
        type: 'cryptoToCrypto',
        source_wallet_id: wallet.id,
        source_asset: from.asset,
        source_network: from.chain,
        source_amount_gross: priced.source.amountGross,
        source_fees: priced.source.feesDeducted,
        source_amount_net: priced.source.amountNet,
        destination_asset: to.asset,
        destination_network: to.chain,
        destination_amount_gross: priced.destination.amountGross,
        destination_fees: priced.destination.feesDeducted,
        destination_amount_net: priced.destination.amountNet,
        destination_wallet_id: target.walletId,
        destination_address: target.address,
        fee_oms: priced.fees.oms,
        fee_developer: priced.fees.developer,
        fee_gas: priced.fees.gas,
        exchange_rate: priced.exchangeRate,
        effective_rate: priced.effectiveRate,
        fixed_amount_side: fixedSide,
        sponsor_gas: body.sponsorGas ?? false,
        promo_code: body.promoCode ?? null,
        metadata: body.metadata ?? {},
        expires_at: new Date(at.getTime() + ttlSeconds * 1000),
        created_at: at,
      };
      await repo.insertQuote(db, scope, quote);
      return toQuoteView({ ...quote, status: 'open', accepted_at: null }, at);
    },

    async get(db, scope, id) {
      assertId('quote', id);
      const quote = await repo.findQuote(db, scope, id);
      if (!quote) throw notFound('quote');
      return toQuoteView(quote);
    },
  };
}
