import Type, { type Static } from 'typebox';
import { PageOf, PageQueryFields } from '../../http/pagination.js';
import { component, Metadata, Nullable, Timestamp } from '../../http/schema-helpers.js';
import { FixedAmountSide, QuoteDestination, QuoteSource, Rates } from '../quotes/quotes.schemas.js';

export const TRANSACTION_STATUSES = ['processing', 'completed', 'failed'] as const;
export const TRANSACTION_ROLES = ['sender', 'recipient', 'both'] as const;
export type TransactionRole = (typeof TRANSACTION_ROLES)[number];

const Identifier = (description: string) => Type.String({ minLength: 1, maxLength: 255, description });

export const TransactionCreate = Type.Object(
  {
    quoteId: Type.String({ maxLength: 64, examples: ['qt_01jd8x3mc6eskv4hzbmt9hdby7'] }),
    metadata: Type.Optional(Metadata),
    partnerTransactionId: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Your own reference; kept, not returned.' })),
    deviceFingerprint: Type.Optional(Identifier('Kept for risk review; not returned.')),
    paymentMethodId: Type.Optional(Identifier('Kept; not used by crypto-to-crypto sends.')),
    sourceWalletAddress: Type.Optional(Type.String({ maxLength: 100, description: 'When given, must be the source wallet’s address (400 otherwise).' })),
    tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 20, description: 'Kept; not returned.' })),
    webSessionId: Type.Optional(Identifier('Kept for risk review; not returned.')),
  },
  { additionalProperties: false },
);

const TransactionComponent = component(
  'Transaction',
  Type.Object({
    id: Type.String({ examples: ['txn_01jd8x3mc6eskv4hzbmt9hdby7'] }),
    object: Type.Literal('transaction'),
    type: Type.Unsafe<'cryptoToCrypto'>({ type: 'string', enum: ['cryptoToCrypto'] }),
    status: Type.Unsafe<(typeof TRANSACTION_STATUSES)[number]>({ type: 'string', enum: [...TRANSACTION_STATUSES] }),
    subStatus: Nullable(Type.String({ description: 'While processing: pendingSettlement, pendingSubmission or awaitingConfirmation; null once final.' })),
    quoteId: Type.String(),
    senderCustomerId: Type.String(),
    recipientCustomerId: Nullable(Type.String({ description: 'Null when the money leaves for an address outside this server.' })),
    role: Type.Unsafe<TransactionRole | null>({
      type: ['string', 'null'],
      enum: [...TRANSACTION_ROLES, null],
      description: 'The perspective asked for (senderCustomerId / recipientCustomerId, or the customer of a customer list); null when none was.',
    }),
    source: QuoteSource,
    destination: Type.Object({ ...QuoteDestination.properties, txHash: Nullable(Type.String({ description: 'The on-chain transaction, once submitted; null for transfers inside this server.' })) }),
    rates: Rates,
    fixedAmountSide: FixedAmountSide,
    failure: Type.Optional(Type.Object({ code: Type.String(), message: Type.String() }, { description: 'Only once failed.' })),
    sponsorGasCost: Type.String(),
    metadata: Type.Record(Type.String(), Type.String()),
    completedAt: Type.Optional(Timestamp),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  }),
);
export const Transaction = TransactionComponent.ref;

export const TransactionGetQuery = Type.Object(
  {
    senderCustomerId: Type.Optional(Type.String({ maxLength: 64, description: 'See the transaction as this customer; 404 unless they sent it.' })),
    recipientCustomerId: Type.Optional(Type.String({ maxLength: 64, description: 'See the transaction as this customer; 404 unless they received it.' })),
  },
  { additionalProperties: false },
);

const ListFilters = {
  status: Type.Optional(Type.Unsafe<(typeof TRANSACTION_STATUSES)[number]>({ type: 'string', enum: [...TRANSACTION_STATUSES] })),
  type: Type.Optional(Type.Unsafe<'cryptoToCrypto'>({ type: 'string', enum: ['cryptoToCrypto'] })),
};

export const TransactionListQuery = Type.Object(
  { ...PageQueryFields, ...ListFilters, customerId: Type.Optional(Type.String({ maxLength: 64, description: 'Transactions this customer sent or received.' })) },
  { additionalProperties: false },
);
export const CustomerTransactionListQuery = Type.Object({ ...PageQueryFields, ...ListFilters }, { additionalProperties: false });
export const TransactionList = PageOf(Transaction);

export const transactionComponents = [TransactionComponent.schema];

export type TransactionView = Static<typeof Transaction>;
export type TransactionCreateBody = Static<typeof TransactionCreate>;
export type TransactionListQueryParams = Static<typeof TransactionListQuery>;
