import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

/** Row types of every table, as the `pg` driver returns them (timestamps as Date). */
export type Mode = 'live' | 'sandbox';

type CreatedAt = ColumnType<Date, Date | undefined, never>;

export interface ProjectsTable {
  id: string;
  name: string;
  created_at: CreatedAt;
}

export interface ApiKeysTable {
  project_id: string;
  mode: Mode;
  id: string;
  secret_hash: Buffer;
  created_at: CreatedAt;
  revoked_at: Date | null;
}

export interface SealedSecretsTable {
  name: string;
  sealed: Buffer;
  master_key_id: string;
  created_at: CreatedAt;
}

export interface SigningKeysTable {
  kid: string;
  public_jwk: ColumnType<JsonWebKeyRow, string, string>;
  private_sealed: Buffer;
  master_key_id: string;
  created_at: CreatedAt;
  retired_at: Date | null;
}

export interface JsonWebKeyRow {
  kty: string;
  kid: string;
  alg: string;
  use: string;
  n: string;
  e: string;
}

export interface CustomersTable {
  project_id: string;
  mode: Mode;
  id: string;
  type: 'individual';
  first_name: string | null;
  middle_name: string | null;
  last_name: string | null;
  email: string | null;
  phone: string | null;
  nationality: string | null;
  external_id: string | null;
  status: 'active' | 'inactive';
  signed_agreement: boolean;
  signed_agreement_at: Date | null;
  metadata: ColumnType<Record<string, string>, string, string>;
  pii_sealed: Buffer | null;
  data_key_sealed: Buffer;
  master_key_id: string;
  created_at: Date;
  updated_at: Date;
  version: ColumnType<string, never, string>;
}

export interface CustomerEndorsementsTable {
  project_id: string;
  mode: Mode;
  customer_id: string;
  name: string;
  status: string;
  requirements: ColumnType<EndorsementRequirementsRow, string, string>;
  rejection_reasons: ColumnType<Array<{ developerReason: string; reason: string }>, string, string>;
  created_at: Date;
  updated_at: Date;
}

export interface EndorsementRequirementsRow {
  complete: string[];
  pending: string[];
  missing: string[];
  issues: string[];
}

export interface EndorsementHistoryTable {
  project_id: string;
  mode: Mode;
  customer_id: string;
  name: string;
  seq: number;
  from_status: string | null;
  to_status: string;
  cause: string;
  at: Date;
}

export interface EvaluationJobsTable {
  project_id: string;
  mode: Mode;
  customer_id: string;
  job_id: string;
  run_after: Date;
  claimed_by: string | null;
  claimed_until: Date | null;
  attempts: Generated<number>;
  created_at: Date;
}

export interface OperatorAuditTable {
  project_id: string;
  mode: Mode;
  id: string;
  operator: string;
  action: string;
  /** Null for an action on something of no customer's (a webhook endpoint). */
  customer_id: string | null;
  endorsement: string | null;
  reason: string | null;
  detail: ColumnType<Record<string, unknown>, string, string>;
  at: Date;
}

export type AccountAccepts = 'all' | 'credits' | 'nothing';

export interface LedgerAccountsTable {
  project_id: string;
  mode: Mode;
  id: string;
  kind: 'wallet' | 'external' | 'in_flight' | 'fees';
  asset: string;
  chain: string;
  wallet_id: string | null;
  scale: number;
  allow_negative: boolean;
  /** NUMERIC, as a decimal string; null for the outside world's accounts, whose balance is not cached (migration 0009). */
  balance: ColumnType<string | null, string | null, never>;
  /** Which postings the account takes (migration 0011): a suspended wallet's only credits, a closed one's nothing. */
  accepts: ColumnType<AccountAccepts, AccountAccepts | undefined, AccountAccepts>;
  created_at: Date;
}

export interface JournalEntriesTable {
  project_id: string;
  mode: Mode;
  id: string;
  kind: string;
  reference: string | null;
  created_at: Date;
}

export interface LedgerPostingsTable {
  project_id: string;
  mode: Mode;
  entry_id: string;
  seq: number;
  account_id: string;
  asset: string;
  /** NUMERIC, as a decimal string. */
  amount: string;
  created_at: Date;
}

export interface CustomerAddressesTable {
  project_id: string;
  mode: Mode;
  customer_id: string;
  derivation_index: number;
  address: string;
  created_at: Date;
}

export interface WalletsTable {
  project_id: string;
  mode: Mode;
  id: string;
  customer_id: string;
  asset: string;
  chain: string;
  address: string;
  status: 'active' | 'suspended' | 'closed';
  type: 'internal' | 'external';
  /** The wallet's own ledger account. */
  ledger_account_id: string;
  /** The outside world's ledger account of the wallet's asset and chain: deposits come from it. */
  external_account_id: string;
  /** Where the wallet's sends are held between creation and settlement (migration 0013). */
  hold_account_id: string;
  /** The fee account of the wallet's asset and chain. */
  fees_account_id: string;
  created_at: Date;
  updated_at: Date;
}

type Numeric = ColumnType<string, string, never>;

export interface QuotesTable {
  project_id: string;
  mode: Mode;
  id: string;
  customer_id: string;
  type: 'cryptoToCrypto';
  status: 'open' | 'accepted';
  source_wallet_id: string;
  source_asset: string;
  source_network: string;
  source_amount_gross: Numeric;
  source_fees: Numeric;
  source_amount_net: Numeric;
  destination_asset: string;
  destination_network: string;
  destination_amount_gross: Numeric;
  destination_fees: Numeric;
  destination_amount_net: Numeric;
  destination_wallet_id: string | null;
  destination_address: string | null;
  fee_oms: Numeric;
  fee_developer: Numeric;
  fee_gas: Numeric;
  exchange_rate: Numeric;
  effective_rate: Numeric;
  fixed_amount_side: 'source' | 'destination';
  sponsor_gas: boolean;
  promo_code: string | null;
  metadata: ColumnType<Record<string, string>, string, string>;
  expires_at: Date;
  accepted_at: Date | null;
  created_at: Date;
}

export type TransactionStatus = 'processing' | 'completed' | 'failed';

export interface TransactionsTable {
  project_id: string;
  mode: Mode;
  id: string;
  type: 'cryptoToCrypto';
  status: TransactionStatus;
  sub_status: string | null;
  quote_id: string;
  sender_customer_id: string;
  recipient_customer_id: string | null;
  tx_hash: string | null;
  submitted_at: Date | null;
  failure_code: string | null;
  failure_message: string | null;
  metadata: ColumnType<Record<string, string>, string, string>;
  client_context: ColumnType<Record<string, unknown>, string, string>;
  settle_after: Date;
  locked_until: Date | null;
  completed_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface WebhookEndpointsTable {
  project_id: string;
  mode: Mode;
  id: string;
  url: string;
  events: string[];
  enabled: boolean;
  status: 'active' | 'disabled';
  disabled_reason: string | null;
  compliance_only: boolean;
  failing_since: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface WebhookSecretsTable {
  project_id: string;
  mode: Mode;
  endpoint_id: string;
  seq: number;
  sealed: Buffer;
  master_key_id: string;
  expires_at: Date | null;
  created_at: Date;
}

export interface WebhookDeliveriesTable {
  project_id: string;
  mode: Mode;
  id: string;
  endpoint_id: string;
  event_id: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  retries_base: number;
  next_attempt_at: Date | null;
  locked_until: Date | null;
  last_status_code: number | null;
  last_error: string | null;
  delivered_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

export interface WebhookAttemptsTable {
  project_id: string;
  mode: Mode;
  delivery_id: string;
  attempt: number;
  started_at: Date;
  status_code: number | null;
  error: string | null;
  latency_ms: number;
}

export interface EventsTable {
  project_id: string;
  mode: Mode;
  id: string;
  type: string;
  data: ColumnType<unknown, string, never>;
  created_at: Date;
}

export interface IdempotencyKeysTable {
  project_id: string;
  mode: Mode;
  key: string;
  request_hash: Buffer;
  state: 'running' | 'done';
  locked_until: Date | null;
  response_status: number | null;
  response_body: string | null;
  created_at: Generated<Date>;
  expires_at: Date;
}

export interface Database {
  projects: ProjectsTable;
  api_keys: ApiKeysTable;
  sealed_secrets: SealedSecretsTable;
  signing_keys: SigningKeysTable;
  customers: CustomersTable;
  customer_endorsements: CustomerEndorsementsTable;
  endorsement_history: EndorsementHistoryTable;
  evaluation_jobs: EvaluationJobsTable;
  operator_audit: OperatorAuditTable;
  ledger_accounts: LedgerAccountsTable;
  journal_entries: JournalEntriesTable;
  ledger_postings: LedgerPostingsTable;
  customer_addresses: CustomerAddressesTable;
  wallets: WalletsTable;
  events: EventsTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_secrets: WebhookSecretsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_attempts: WebhookAttemptsTable;
  quotes: QuotesTable;
  transactions: TransactionsTable;
  idempotency_keys: IdempotencyKeysTable;
}

export type CustomerRow = Selectable<CustomersTable>;
export type NewCustomerRow = Insertable<CustomersTable>;
export type EndorsementRow = Selectable<CustomerEndorsementsTable>;
