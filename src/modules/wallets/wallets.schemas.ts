import Type, { type Static } from 'typebox';
import { PageOf, PageQueryFields } from '../../http/pagination.js';
import { component, Timestamp } from '../../http/schema-helpers.js';

const Amount = (description: string) => Type.String({ pattern: '^-?\\d+(\\.\\d+)?$', description, examples: ['10.50'] });

export const WalletCreate = Type.Object(
  {
    asset: Type.String({ minLength: 1, maxLength: 20, description: 'e.g. usdc, usdt', examples: ['usdc'] }),
    chain: Type.String({ minLength: 1, maxLength: 20, description: 'e.g. polygon, ethereum, base', examples: ['polygon'] }),
  },
  { additionalProperties: false },
);

const WalletComponent = component(
  'Wallet',
  Type.Object({
    id: Type.String({ examples: ['wlt_01jd8x3mc6eskv4hzbmt9hdby7'] }),
    object: Type.Literal('wallet'),
    customerId: Type.String(),
    address: Type.String({ description: 'EIP-55 checksummed; shared by the customer’s EVM wallets' }),
    asset: Type.String(),
    chain: Type.String(),
    status: Type.Unsafe<'active' | 'suspended' | 'closed'>({ type: 'string', enum: ['active', 'suspended', 'closed'] }),
    type: Type.Unsafe<'internal' | 'external'>({ type: 'string', enum: ['internal', 'external'] }),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  }),
);
export const Wallet = WalletComponent.ref;

export const WalletListQuery = Type.Object({ ...PageQueryFields }, { additionalProperties: false });
export const WalletList = PageOf(Wallet);

export const BalanceQuery = Type.Object(
  { estimatedBalanceCurrencyCode: Type.Optional(Type.Literal('USD', { description: 'Only USD for now.' })) },
  { additionalProperties: false },
);

export const WalletBalance = Type.Object({
  object: Type.Literal('walletBalance'),
  walletId: Type.String(),
  asset: Type.String(),
  chain: Type.String(),
  balance: Amount('In the asset, at its decimals'),
  estimatedValue: Amount('In currency, 2 decimals'),
  currency: Type.Literal('USD'),
});

export const CustomerBalance = Type.Object({
  object: Type.Literal('customerBalance'),
  customerId: Type.String(),
  currency: Type.Literal('USD'),
  estimatedBalance: Amount('Sum of the estimated values, 2 decimals'),
  balances: Type.Array(
    Type.Object({ walletId: Type.String(), asset: Type.String(), network: Type.String(), balance: Amount('In the asset'), estimatedValue: Amount('USD') }),
  ),
});

export const DepositBody = Type.Object({ amount: Type.String({ maxLength: 60, description: 'Positive decimal string, at most the asset’s decimals', examples: ['25.00'] }) }, { additionalProperties: false });

export const Deposit = Type.Object({
  object: Type.Literal('deposit'),
  walletId: Type.String(),
  asset: Type.String(),
  chain: Type.String(),
  amount: Amount('As credited'),
  txHash: Type.String({ description: 'Synthetic, in sandbox' }),
  balance: Amount('The wallet’s balance after the deposit'),
  createdAt: Timestamp,
});

export const walletComponents = [WalletComponent.schema];

export type WalletView = Static<typeof Wallet>;
export type WalletCreateBody = Static<typeof WalletCreate>;
export type WalletListQueryParams = Static<typeof WalletListQuery>;
