import Type, { type Static } from 'typebox';
import { component, Metadata, Timestamp } from '../../http/schema-helpers.js';

const Code = (description: string, example: string) => Type.String({ minLength: 1, maxLength: 20, description, examples: [example] });
const RequestAmount = Type.String({ maxLength: 60, description: 'Positive decimal string, at most the asset’s decimals. Exactly one side carries it.', examples: ['25.00'] });
const Amount = (description: string) => Type.String({ pattern: '^\\d+(\\.\\d+)?$', description, examples: ['25.000000'] });

const DestinationChoice = Type.Union(
  [
    Type.Object({ id: Type.String({ maxLength: 64, description: 'A wallet on this server, of any customer of the project.' }) }, { additionalProperties: false }),
    Type.Object({ blockchainAddress: Type.String({ maxLength: 100, description: 'On EVM networks: 0x + 40 hex, EIP-55 checksummed when mixed-case.' }) }, { additionalProperties: false }),
    Type.Object({ externalAccount: Type.Union([Type.String({ maxLength: 200 }), Type.Object({})]) }, { additionalProperties: false }),
  ],
  { description: 'Exactly one of: a wallet id, a blockchain address, an external account (not supported yet: 422 unsupported_destination).' },
);

export const QuoteCreate = Type.Object(
  {
    customerId: Type.String({ maxLength: 64, examples: ['cst_01jd8x3mc6eskv4hzbmt9hdby7'] }),
    source: Type.Object(
      {
        walletId: Type.String({ maxLength: 64, description: 'The customer’s own active wallet.' }),
        asset: Code('Must be the wallet’s asset', 'usdc'),
        network: Code('Must be the wallet’s chain', 'polygon'),
        amount: Type.Optional(RequestAmount),
      },
      { additionalProperties: false },
    ),
    destination: Type.Object(
      { asset: Code('e.g. usdc, usdt', 'usdc'), network: Code('e.g. polygon', 'polygon'), amount: Type.Optional(RequestAmount), wallet: DestinationChoice },
      { additionalProperties: false },
    ),
    metadata: Type.Optional(Metadata),
    sponsorGas: Type.Optional(Type.Boolean({ description: 'Gas costs nothing in this version; kept on the quote.' })),
    promoCode: Type.Optional(Type.String({ maxLength: 64, description: 'Kept on the quote; no promotion changes a price in this version.' })),
  },
  { additionalProperties: false },
);

export const QuoteSource = Type.Object({
  walletId: Type.String(),
  asset: Type.String(),
  network: Type.String(),
  amountGross: Amount('What leaves the source wallet'),
  amountNet: Amount('amountGross − feesDeducted: what is converted'),
  feesDeducted: Amount('In the source asset'),
});

export const QuoteDestination = Type.Object({
  asset: Type.String(),
  network: Type.String(),
  amountGross: Amount('source.amountNet × rates.exchangeRate, truncated to the destination’s decimals'),
  amountNet: Amount('What the recipient receives'),
  feesDeducted: Amount('In the destination asset'),
  wallet: Type.Object({ id: Type.Optional(Type.String()), blockchainAddress: Type.Optional(Type.String()) }, { description: 'The destination as given: a wallet id or an address.' }),
});

export const Rates = Type.Object({
  exchangeRate: Amount('Destination units per source unit, spread included'),
  effectiveRate: Amount('destination.amountNet ÷ source.amountGross, 8 decimals'),
  pair: Type.String({ examples: ['usdc/usdt'] }),
});

export const FixedAmountSide = Type.Unsafe<'source' | 'destination'>({ type: 'string', enum: ['source', 'destination'] });

const QuoteComponent = component(
  'Quote',
  Type.Object({
    id: Type.String({ examples: ['qt_01jd8x3mc6eskv4hzbmt9hdby7'] }),
    object: Type.Literal('quote'),
    type: Type.Unsafe<'cryptoToCrypto'>({ type: 'string', enum: ['cryptoToCrypto'], description: 'Inferred from the assets' }),
    status: Type.Unsafe<'open' | 'accepted' | 'expired'>({ type: 'string', enum: ['open', 'accepted', 'expired'] }),
    customerId: Type.String(),
    source: QuoteSource,
    destination: QuoteDestination,
    feesDeducted: Type.Object({ total: Amount('In the source asset'), developer: Amount('In the source asset'), oms: Amount('In the source asset'), gas: Amount('In the source asset') }),
    rates: Rates,
    fixedAmountSide: FixedAmountSide,
    sponsorGas: Type.Boolean(),
    sponsorGasCost: Amount('"0" in this version'),
    metadata: Type.Record(Type.String(), Type.String()),
    expiresAt: Timestamp,
    createdAt: Timestamp,
  }),
);
export const Quote = QuoteComponent.ref;

export const quoteComponents = [QuoteComponent.schema];

export type QuoteView = Static<typeof Quote>;
export type QuoteCreateBody = Static<typeof QuoteCreate>;
