import Type, { type Static } from 'typebox';
import { ENDORSEMENT_STATUSES, type EndorsementStatus } from '../../domain/endorsements.js';
import { Nullable, Timestamp } from '../../http/schema-helpers.js';
import { Customer } from '../customers/customers.schemas.js';
import { Transaction } from '../transactions/transactions.schemas.js';
import { EndorsementNameParam, IssueCodesInput, RejectionReasonsInput } from '../customers/endorsement-input.schemas.js';
import { OPERATOR_ACTIONS, type OperatorAction } from './operator.service.js';

const Status = Type.Unsafe<EndorsementStatus>({ type: 'string', enum: [...ENDORSEMENT_STATUSES] });
const Name = EndorsementNameParam;
const Mode = Type.Unsafe<'live' | 'sandbox'>({ type: 'string', enum: ['live', 'sandbox'] });
const Reason = Type.String({ minLength: 1, maxLength: 1000, description: "The operator's why, kept in the audit log." });
const Requirements = Type.Object({
  complete: Type.Array(Type.String()),
  pending: Type.Array(Type.String()),
  missing: Type.Array(Type.String()),
  issues: Type.Array(Type.String()),
});

export const OperatorHeaders = Type.Object({
  'x-operator': Type.String({ minLength: 1, maxLength: 200, pattern: '\\S', description: 'Who is acting, for the audit log (e.g. an email address).' }),
});

export const ReviewQueueQuery = Type.Object(
  {
    status: Type.Optional(Type.Unsafe<EndorsementStatus>({ type: 'string', enum: [...ENDORSEMENT_STATUSES], default: 'PENDING' })),
    mode: Type.Optional(Mode),
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
  },
  { additionalProperties: false },
);

export const ReviewQueue = Type.Object({
  object: Type.Literal('list'),
  data: Type.Array(
    Type.Object({
      projectId: Type.String(),
      mode: Mode,
      customerId: Type.String(),
      endorsement: Name,
      status: Status,
      requirements: Requirements,
      since: Timestamp,
    }),
  ),
});

export const CustomerIdParams = Type.Object({ customerId: Type.String() });
export const DecisionParams = Type.Object({ customerId: Type.String(), name: Name });

export const DecisionBody = Type.Object(
  {
    action: Type.Unsafe<OperatorAction>({ type: 'string', enum: [...OPERATOR_ACTIONS] }),
    reason: Reason,
    issues: Type.Optional(IssueCodesInput('Required for markIssues and revoke.')),
    rejectionReasons: Type.Optional(RejectionReasonsInput('Required for reject: developerReason for the developer, reason safe to show the customer.')),
  },
  { additionalProperties: false },
);

export const OffboardBody = Type.Object({ reason: Reason }, { additionalProperties: false });

const Address = Type.Object({
  line1: Type.String(),
  line2: Type.Optional(Type.String()),
  city: Type.String(),
  state: Type.Optional(Type.String()),
  country: Type.String(),
  zipCode: Type.Optional(Type.String()),
});
const Document = Type.Object({ type: Type.String(), issuingCountry: Type.String(), number: Type.String(), expiresOn: Type.Optional(Type.String()) });

export const ComplianceRecord = Type.Object({
  projectId: Type.String(),
  mode: Mode,
  customer: Customer,
  pii: Type.Object(
    {
      birthDate: Type.Optional(Type.String()),
      ipAddress: Type.Optional(Type.String()),
      residentialAddress: Type.Optional(Address),
      identifyingInformation: Type.Optional(Type.Array(Document)),
    },
    { description: 'The write-only fields, decrypted. Every read is audited.' },
  ),
  history: Type.Array(
    Type.Object({ endorsement: Type.String(), seq: Type.Integer(), from: Nullable(Type.String()), to: Type.String(), cause: Type.String(), at: Timestamp }),
  ),
  audit: Type.Array(
    Type.Object({
      operator: Type.String(),
      action: Type.String(),
      endorsement: Nullable(Type.String()),
      reason: Nullable(Type.String()),
      detail: Type.Record(Type.String(), Type.Unknown()),
      at: Timestamp,
    }),
  ),
});

export const WebhookIdParams = Type.Object({ webhookId: Type.String({ examples: ['whk_01jd8x3mc6eskv4hzbmt9hdby7'] }) });
export const ComplianceOnlyBody = Type.Object({ complianceOnly: Type.Boolean(), reason: Reason }, { additionalProperties: false });

export const WalletIdParams = Type.Object({ walletId: Type.String({ examples: ['wlt_01jd8x3mc6eskv4hzbmt9hdby7'] }) });
export const WalletActionBody = Type.Object({ reason: Reason }, { additionalProperties: false });

export const WalletPostingsQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
    before: Type.Optional(Type.String({ description: 'The last entryId of the previous page.' })),
  },
  { additionalProperties: false },
);

const SignedAmount = Type.String({ pattern: '^-?\\d+(\\.\\d+)?$', description: 'Signed decimal: positive credits the account, negative debits it.' });

export const WalletPostings = Type.Object({
  object: Type.Literal('list'),
  walletId: Type.String(),
  projectId: Type.String(),
  mode: Mode,
  asset: Type.String(),
  chain: Type.String(),
  balance: Type.String(),
  data: Type.Array(
    Type.Object({
      entryId: Type.String(),
      kind: Type.String({ description: 'What the entry records, e.g. deposit.' }),
      reference: Nullable(Type.String({ description: "e.g. a deposit's transaction hash." })),
      amount: SignedAmount,
      createdAt: Timestamp,
      counterparts: Type.Array(
        Type.Object({
          accountKind: Type.Unsafe<'wallet' | 'external' | 'in_flight' | 'fees'>({ type: 'string', enum: ['wallet', 'external', 'in_flight', 'fees'] }),
          walletId: Nullable(Type.String()),
          amount: SignedAmount,
        }),
      ),
    }),
  ),
  hasMore: Type.Boolean(),
});
export type WalletPostingsView = Static<typeof WalletPostings>;

export const TransactionIdParams = Type.Object({ transactionId: Type.String({ examples: ['txn_01jd8x3mc6eskv4hzbmt9hdby7'] }) });
export const TransactionFailBody = Type.Object({ reason: Reason }, { additionalProperties: false });

export const OperatorTransaction = Type.Object({
  object: Type.Literal('operatorTransaction'),
  projectId: Type.String(),
  mode: Mode,
  transaction: Transaction,
  entries: Type.Array(
    Type.Object({
      entryId: Type.String(),
      kind: Type.String({ description: 'transaction.hold, transaction.settle or transaction.refund' }),
      createdAt: Timestamp,
      postings: Type.Array(
        Type.Object({
          accountId: Type.String(),
          accountKind: Type.Unsafe<'wallet' | 'external' | 'in_flight' | 'fees'>({ type: 'string', enum: ['wallet', 'external', 'in_flight', 'fees'] }),
          walletId: Nullable(Type.String()),
          asset: Type.String(),
          chain: Type.String(),
          amount: Type.String({ description: 'Signed: positive credits the account' }),
        }),
      ),
    }),
    { description: 'The ledger entries that reference the transaction, oldest first.' },
  ),
});
export type OperatorTransactionView = Static<typeof OperatorTransaction>;
