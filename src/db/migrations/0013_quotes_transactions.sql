-- Quotes and transactions (spec 5, issue 6).
--
-- 1. Holds are per wallet. A transaction moves its source amount from the wallet into the
--    wallet's own in-flight account when it is created, and out of it when it settles or fails.
--    A single in-flight account per asset and chain would be one row every send and every
--    settlement of the project queues on; per wallet, a hold locks only rows the wallet's own
--    debit already locks. The shared in-flight accounts of migration 0006 never held a posting
--    and are removed.
delete from ledger_accounts a
 where a.kind = 'in_flight' and a.wallet_id is null
   and not exists (select 1 from ledger_postings p where (p.project_id, p.mode, p.account_id) = (a.project_id, a.mode, a.id));

alter table ledger_accounts drop constraint ledger_accounts_check;
alter table ledger_accounts add constraint ledger_accounts_wallet_owned check ((kind in ('wallet', 'in_flight')) = (wallet_id is not null));

insert into ledger_accounts (project_id, mode, id, kind, asset, chain, wallet_id, scale, allow_negative, balance, created_at)
select w.project_id, w.mode, gen_random_uuid()::text, 'in_flight', w.asset, w.chain, w.id, a.scale, false, 0, now()
  from wallets w
  join ledger_accounts a on (a.project_id, a.mode, a.id) = (w.project_id, w.mode, w.ledger_account_id);

insert into ledger_accounts (project_id, mode, id, kind, asset, chain, wallet_id, scale, allow_negative, balance, created_at)
select distinct on (w.project_id, w.mode, w.asset, w.chain) w.project_id, w.mode, gen_random_uuid()::text, 'fees', w.asset, w.chain, null::text, a.scale, false, 0, now()
  from wallets w
  join ledger_accounts a on (a.project_id, a.mode, a.id) = (w.project_id, w.mode, w.ledger_account_id)
on conflict do nothing;

-- A wallet names every account its movements touch, so a send or a settlement finds them by key.
alter table wallets
  add column hold_account_id text,
  add column fees_account_id text;

update wallets w
   set hold_account_id = h.id
  from ledger_accounts h
 where (h.project_id, h.mode, h.kind, h.wallet_id) = (w.project_id, w.mode, 'in_flight', w.id);

update wallets w
   set fees_account_id = f.id
  from ledger_accounts f
 where (f.project_id, f.mode, f.kind, f.asset, f.chain) = (w.project_id, w.mode, 'fees', w.asset, w.chain)
   and f.wallet_id is null;

alter table wallets
  alter column hold_account_id set not null,
  alter column fees_account_id set not null,
  add foreign key (project_id, mode, hold_account_id, asset) references ledger_accounts (project_id, mode, id, asset),
  add foreign key (project_id, mode, fees_account_id, asset) references ledger_accounts (project_id, mode, id, asset);

-- 2. Quotes: a price, computed once and kept as computed. `status` is what happened to it; an
--    open quote past expires_at reads as expired. Amounts are NUMERIC at their asset's decimals.
create table quotes (
  project_id                text not null,
  mode                      text not null,
  id                        text not null,
  customer_id               text not null,
  type                      text not null check (type in ('cryptoToCrypto')),
  status                    text not null check (status in ('open', 'accepted')),
  source_wallet_id          text not null,
  source_asset              text not null,
  source_network            text not null,
  source_amount_gross       numeric not null check (source_amount_gross > 0),
  source_fees               numeric not null check (source_fees >= 0),
  source_amount_net         numeric not null check (source_amount_net > 0),
  destination_asset         text not null,
  destination_network       text not null,
  destination_amount_gross  numeric not null check (destination_amount_gross > 0),
  destination_fees          numeric not null check (destination_fees >= 0),
  destination_amount_net    numeric not null check (destination_amount_net > 0),
  -- Exactly one destination: a wallet on this server, or an address on a chain.
  destination_wallet_id     text,
  destination_address       text,
  fee_oms                   numeric not null,
  fee_developer             numeric not null,
  fee_gas                   numeric not null,
  exchange_rate             numeric not null check (exchange_rate > 0),
  effective_rate            numeric not null,
  fixed_amount_side         text not null check (fixed_amount_side in ('source', 'destination')),
  sponsor_gas               boolean not null,
  promo_code                text,
  metadata                  jsonb not null default '{}',
  expires_at                timestamptz(3) not null,
  accepted_at               timestamptz(3),
  created_at                timestamptz(3) not null,
  primary key (project_id, mode, id),
  check ((destination_wallet_id is null) <> (destination_address is null)),
  check (source_amount_gross = source_amount_net + source_fees),
  check (destination_amount_gross = destination_amount_net + destination_fees),
  check ((status = 'accepted') = (accepted_at is not null)),
  foreign key (project_id, mode, customer_id) references customers (project_id, mode, id),
  foreign key (project_id, mode, source_wallet_id) references wallets (project_id, mode, id),
  foreign key (project_id, mode, destination_wallet_id) references wallets (project_id, mode, id)
);

-- 3. Transactions. One per quote, whatever races (the unique key, not the code, decides).
--    `settle_after` is when the settlement worker next looks at a processing transaction;
--    `locked_until` is a worker's lease while it talks to a chain, outside any transaction.
create table transactions (
  project_id             text not null,
  mode                   text not null,
  id                     text not null,
  type                   text not null check (type in ('cryptoToCrypto')),
  status                 text not null check (status in ('processing', 'completed', 'failed')),
  sub_status             text,
  quote_id               text not null,
  sender_customer_id     text not null,
  -- Null when the money leaves for an address outside this server.
  recipient_customer_id  text,
  tx_hash                text,
  submitted_at           timestamptz(3),
  failure_code           text,
  failure_message        text,
  metadata               jsonb not null default '{}',
  -- What the client said about the request (partnerTransactionId, tags, device, session): kept, not returned.
  client_context         jsonb not null default '{}',
  settle_after           timestamptz(3) not null,
  locked_until           timestamptz(3),
  completed_at           timestamptz(3),
  created_at             timestamptz(3) not null,
  updated_at             timestamptz(3) not null,
  primary key (project_id, mode, id),
  unique (project_id, mode, quote_id),
  check ((status = 'completed') = (completed_at is not null)),
  check ((status = 'failed') = (failure_code is not null)),
  foreign key (project_id, mode, quote_id) references quotes (project_id, mode, id),
  foreign key (project_id, mode, sender_customer_id) references customers (project_id, mode, id),
  foreign key (project_id, mode, recipient_customer_id) references customers (project_id, mode, id)
);

create index transactions_page on transactions (project_id, mode, created_at desc, id desc);
create index transactions_by_sender on transactions (project_id, mode, sender_customer_id, created_at desc, id desc);
create index transactions_by_recipient on transactions (project_id, mode, recipient_customer_id, created_at desc, id desc);
create index transactions_due on transactions (settle_after) where status = 'processing';
-- Operators name a transaction by its id alone.
create index transactions_by_id on transactions (id);

-- Settlement workers LISTEN here; a new transaction wakes them at its commit.
create function transactions_notify_settlement() returns trigger language plpgsql as $$
begin
  perform pg_notify('oms_settlements', '');
  return null;
end $$;

create trigger transactions_notify_settlement after insert on transactions
  for each statement execute function transactions_notify_settlement();

-- An operator reads a transaction's entries (hold, settlement or refund) by the transaction id they reference.
create index journal_entries_by_reference on journal_entries (project_id, mode, reference) where reference is not null;

-- 4. Settlement writes many entries at once: the batch's entries and all their postings in one
--    call (one round trip instead of one per entry), so the accounts a batch has locked are held
--    for as short a time as possible. `p_entry_of` gives each leg its entry (1-based, into
--    p_entry_ids); legs keep their order within an entry, and the balance check, per statement,
--    sees every entry of the batch.
create function ledger_post_entries(
  p_project_id text, p_mode text, p_at timestamptz,
  p_entry_ids text[], p_kinds text[], p_references text[],
  p_entry_of integer[], p_accounts text[], p_assets text[], p_amounts numeric[]
) returns void language plpgsql as $$
begin
  insert into journal_entries (project_id, mode, id, kind, reference, created_at)
  select p_project_id, p_mode, e.id, e.kind, e.reference, p_at
    from unnest(p_entry_ids, p_kinds, p_references) as e(id, kind, reference);
  insert into ledger_postings (project_id, mode, entry_id, seq, account_id, asset, amount, created_at)
  select p_project_id, p_mode, p_entry_ids[leg.entry], (row_number() over (partition by leg.entry order by leg.ord) - 1)::smallint, leg.account, leg.asset, leg.amount, p_at
    from unnest(p_entry_of, p_accounts, p_assets, p_amounts) with ordinality as leg(entry, account, asset, amount, ord)
   order by leg.ord;
end $$;
