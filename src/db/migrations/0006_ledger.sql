-- The double-entry ledger (issue 4). The database itself guarantees what money needs, so that
-- no code path, and no SQL sent by hand, can break it:
--   * an entry's postings sum to zero per asset (a deferred constraint trigger, checked at commit);
--   * postings and entries are immutable (UPDATE, DELETE and TRUNCATE refused);
--   * each account's cached balance moves with its postings, in the same transaction (trigger),
--     and an account that may not go negative cannot (check constraint on that balance);
--   * a posting's asset is its account's, and its amount has no more decimals than the asset has.

create table ledger_accounts (
  project_id      text not null,
  mode            text not null,
  id              text not null,
  kind            text not null check (kind in ('wallet', 'external', 'in_flight', 'fees')),
  asset           text not null,
  chain           text not null,
  -- The wallet the account belongs to; null for the system accounts of (project, mode, asset, chain).
  wallet_id       text,
  scale           smallint not null check (scale between 0 and 18),
  allow_negative  boolean not null,
  balance         numeric not null default 0,
  created_at      timestamptz(3) not null,
  primary key (project_id, mode, id),
  unique (project_id, mode, id, asset),
  unique nulls not distinct (project_id, mode, kind, asset, chain, wallet_id),
  check ((kind = 'wallet') = (wallet_id is not null)),
  constraint ledger_accounts_not_negative check (allow_negative or balance >= 0)
);

create table journal_entries (
  project_id   text not null,
  mode         text not null,
  id           text not null,
  kind         text not null,
  -- What the entry records, e.g. a deposit's transaction hash or a transaction id.
  reference    text,
  created_at   timestamptz(3) not null,
  primary key (project_id, mode, id)
);

create table ledger_postings (
  project_id   text not null,
  mode         text not null,
  entry_id     text not null,
  seq          smallint not null,
  account_id   text not null,
  asset        text not null,
  amount       numeric not null check (amount <> 0),
  created_at   timestamptz(3) not null,
  primary key (project_id, mode, entry_id, seq),
  foreign key (project_id, mode, entry_id) references journal_entries (project_id, mode, id),
  foreign key (project_id, mode, account_id, asset) references ledger_accounts (project_id, mode, id, asset)
);
create index ledger_postings_by_account on ledger_postings (project_id, mode, account_id, created_at);

create function ledger_refuse_change() returns trigger language plpgsql as $$
begin
  raise exception 'ledger rows are immutable: % on % refused', tg_op, tg_table_name using errcode = 'restrict_violation';
end $$;

create trigger journal_entries_immutable before update or delete on journal_entries
  for each row execute function ledger_refuse_change();
create trigger journal_entries_no_truncate before truncate on journal_entries
  for each statement execute function ledger_refuse_change();
create trigger ledger_postings_immutable before update or delete on ledger_postings
  for each row execute function ledger_refuse_change();
create trigger ledger_postings_no_truncate before truncate on ledger_postings
  for each statement execute function ledger_refuse_change();

-- Moves the account's cached balance with the posting; the account row's check constraint
-- then refuses an overdraft, under the row lock this update takes.
create function ledger_apply_posting() returns trigger language plpgsql as $$
declare
  account_scale smallint;
begin
  update ledger_accounts set balance = balance + new.amount
   where project_id = new.project_id and mode = new.mode and id = new.account_id
  returning scale into account_scale;
  if new.amount <> round(new.amount, account_scale) then
    raise exception 'amount % has more than % decimals for asset %', new.amount, account_scale, new.asset
      using errcode = 'numeric_value_out_of_range';
  end if;
  return new;
end $$;

create trigger ledger_postings_apply after insert on ledger_postings
  for each row execute function ledger_apply_posting();

-- Checked at commit, once per posting: by then the whole entry is written.
create function ledger_check_balanced() returns trigger language plpgsql as $$
begin
  if exists (
    select 1 from ledger_postings
     where project_id = new.project_id and mode = new.mode and entry_id = new.entry_id
     group by asset
    having sum(amount) <> 0
  ) or (select count(*) from ledger_postings
         where project_id = new.project_id and mode = new.mode and entry_id = new.entry_id) < 2 then
    raise exception 'journal entry % does not balance', new.entry_id using errcode = 'check_violation';
  end if;
  return null;
end $$;

create constraint trigger ledger_postings_balanced after insert on ledger_postings
  deferrable initially deferred
  for each row execute function ledger_check_balanced();

-- A cached balance moves only with a posting (from the trigger above, one level down): set by
-- hand, it would stop being the sum of its postings.
create function ledger_guard_balance() returns trigger language plpgsql as $$
begin
  if new.balance is distinct from old.balance and pg_trigger_depth() < 2 then
    raise exception 'an account balance changes only through postings' using errcode = 'restrict_violation';
  end if;
  return new;
end $$;

create trigger ledger_accounts_balance_guard before update on ledger_accounts
  for each row execute function ledger_guard_balance();
