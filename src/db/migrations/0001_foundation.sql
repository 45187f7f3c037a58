-- Control-plane tables are read before a tenant is known (an API key at token issue, a
-- token's kid). They stay small and would be reference tables in a distributed setup.
-- Tenant tables lead every key with (project_id, mode), the distribution key.

create table projects (
  id          text primary key,
  name        text not null,
  created_at  timestamptz(3) not null default now()
);

create table api_keys (
  project_id   text not null references projects (id),
  mode         text not null check (mode in ('live', 'sandbox')),
  id           text not null,
  secret_hash  bytea not null,
  created_at   timestamptz(3) not null default now(),
  revoked_at   timestamptz(3),
  primary key (project_id, mode, id)
);
create unique index api_keys_by_id on api_keys (id);

-- Secrets the server itself needs, each sealed under the master key named by master_key_id.
create table sealed_secrets (
  name           text primary key,
  sealed         bytea not null,
  master_key_id  text not null,
  created_at     timestamptz(3) not null default now()
);

create table signing_keys (
  kid            text primary key,
  public_jwk     jsonb not null,
  private_sealed bytea not null,
  master_key_id  text not null,
  created_at     timestamptz(3) not null default now(),
  retired_at     timestamptz(3)
);

create table customers (
  project_id          text not null,
  mode                text not null check (mode in ('live', 'sandbox')),
  id                  text not null,
  type                text not null default 'individual',
  first_name          text,
  middle_name         text,
  last_name           text,
  email               text,
  phone               text,
  nationality         text,
  external_id         text,
  status              text not null default 'active' check (status in ('active', 'inactive')),
  signed_agreement    boolean not null default false,
  signed_agreement_at timestamptz(3),
  metadata            jsonb not null default '{}',
  -- Write-only PII, AES-256-GCM under the customer's data key; the data key is sealed
  -- under the master key named by master_key_id.
  pii_sealed          bytea,
  data_key_sealed     bytea not null,
  master_key_id       text not null,
  created_at          timestamptz(3) not null,
  updated_at          timestamptz(3) not null,
  primary key (project_id, mode, id),
  check (signed_agreement = (signed_agreement_at is not null))
);
create unique index customers_external_id on customers (project_id, mode, external_id) where external_id is not null;
create index customers_by_time on customers (project_id, mode, created_at desc, id desc);
create index customers_by_email on customers (project_id, mode, email) where email is not null;

create table customer_endorsements (
  project_id         text not null,
  mode               text not null,
  customer_id        text not null,
  name               text not null check (name in ('basic', 'cryptoCustody', 'usd')),
  status             text not null,
  requirements       jsonb not null,
  rejection_reasons  jsonb not null default '[]',
  created_at         timestamptz(3) not null,
  updated_at         timestamptz(3) not null,
  primary key (project_id, mode, customer_id, name),
  foreign key (project_id, mode, customer_id) references customers (project_id, mode, id)
);

-- The outbox: a row exists if and only if the change that caused it committed.
create table events (
  project_id  text not null,
  mode        text not null,
  id          text not null,
  type        text not null,
  data        jsonb not null,
  created_at  timestamptz(3) not null,
  primary key (project_id, mode, id)
);
create index events_by_time on events (project_id, mode, created_at desc, id desc);

create table idempotency_keys (
  project_id       text not null,
  mode             text not null,
  key              text not null,
  request_hash     bytea not null,
  -- running: a request holds the key until locked_until; done: response_* is replayed.
  state            text not null check (state in ('running', 'done')),
  locked_until     timestamptz(3),
  response_status  integer,
  response_body    text,
  created_at       timestamptz(3) not null default now(),
  expires_at       timestamptz(3) not null,
  primary key (project_id, mode, key)
);
create index idempotency_keys_expiry on idempotency_keys (expires_at);
