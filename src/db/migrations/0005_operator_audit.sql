-- Operator work on compliance (spec 3.4): every decision, and every read of a customer's
-- compliance record (the one place PII is read back), is written here. Rows never hold PII:
-- a read is recorded as the fact that it happened, not the values shown.
create table operator_audit (
  project_id   text not null,
  mode         text not null,
  id           text not null,
  operator     text not null,
  action       text not null,
  customer_id  text not null,
  endorsement  text,
  reason       text,
  detail       jsonb not null default '{}',
  at           timestamptz(3) not null,
  primary key (project_id, mode, id)
);
create index operator_audit_customer on operator_audit (project_id, mode, customer_id, at);

-- Operators name a customer by its id alone (ids are unique across projects and modes).
create index customers_by_id on customers (id);

-- The review queue: endorsements in a status, oldest first, across projects.
create index customer_endorsements_by_status on customer_endorsements (status, updated_at);
