-- Custodial wallets (spec 4.1): one per (customer, asset, chain), at the customer's address;
-- its money lives in the ledger account of kind 'wallet' that names it.
create table wallets (
  project_id   text not null,
  mode         text not null,
  id           text not null,
  customer_id  text not null,
  asset        text not null,
  chain        text not null,
  address      text not null,
  status       text not null default 'active' check (status in ('active', 'suspended', 'closed')),
  type         text not null default 'internal' check (type in ('internal', 'external')),
  created_at   timestamptz(3) not null,
  updated_at   timestamptz(3) not null,
  primary key (project_id, mode, id),
  unique (project_id, mode, customer_id, asset, chain),
  foreign key (project_id, mode, customer_id) references customers (project_id, mode, id)
);
