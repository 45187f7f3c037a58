-- Two costs every posting paid, removed without weakening an invariant of migration 0006.
--
-- 1. The outside world's accounts (kind 'external', the only ones allowed to go negative) keep no
-- cached balance. Every deposit and every withdrawal posts to the one world account of its
-- (project, mode, asset, chain); keeping its balance current made that row a lock all of them
-- queued on for the length of their transactions. A cached balance exists to check an
-- overdraft under a row lock, and the world cannot be overdrawn, so its balance is read as the
-- sum of its postings instead. Null marks "not cached"; every other account keeps its balance.

alter table ledger_accounts
  alter column balance drop not null,
  alter column balance drop default;

alter table ledger_accounts disable trigger ledger_accounts_balance_guard;
update ledger_accounts set balance = null where allow_negative;
alter table ledger_accounts enable trigger ledger_accounts_balance_guard;

alter table ledger_accounts
  add constraint ledger_accounts_balance_cached_unless_world check ((balance is null) = allow_negative);

-- As before for cached accounts (the update takes the row lock and the not-negative check runs
-- under it); an uncached account is not locked at all, only its scale is read.
create or replace function ledger_apply_posting() returns trigger language plpgsql as $$
declare
  account_scale smallint;
begin
  update ledger_accounts set balance = balance + new.amount
   where project_id = new.project_id and mode = new.mode and id = new.account_id and balance is not null
  returning scale into account_scale;
  if not found then
    select scale into account_scale from ledger_accounts
     where project_id = new.project_id and mode = new.mode and id = new.account_id;
  end if;
  if new.amount <> round(new.amount, account_scale) then
    raise exception 'amount % has more than % decimals for asset %', new.amount, account_scale, new.asset
      using errcode = 'numeric_value_out_of_range';
  end if;
  return new;
end $$;

-- 2. The balance check ran at commit once per posting and looked the entry's postings up again;
-- on a fresh table (no statistics yet) the planner read them through the per-account index, so
-- each check scanned every posting of the project and deposits slowed as the ledger grew. It is
-- now checked once per INSERT statement, over the rows that statement inserted: the postings
-- of each (entry, asset) in a statement must sum to zero. Sums of balanced groups are balanced,
-- so every entry still balances; a lone posting never does (amounts are non-zero), so an entry
-- still has at least two. The rule this adds: the postings one statement inserts balance on
-- their own, so an entry is written in one statement (the ledger code always did).
drop trigger ledger_postings_balanced on ledger_postings;
drop function ledger_check_balanced();

create function ledger_check_statement_balanced() returns trigger language plpgsql as $$
declare
  unbalanced text;
begin
  select entry_id into unbalanced from inserted group by project_id, mode, entry_id, asset having sum(amount) <> 0 limit 1;
  if found then
    raise exception 'journal entry % does not balance (an entry''s postings are inserted in one statement)', unbalanced
      using errcode = 'check_violation';
  end if;
  return null;
end $$;

create trigger ledger_postings_balanced after insert on ledger_postings
  referencing new table as inserted
  for each statement execute function ledger_check_statement_balanced();

-- 3. Posting is one round trip: the entry, its postings and the balances they leave, in one
-- call. The balances cannot come back from the INSERT itself (the triggers above move them
-- after its rows are written), and reading them in a second statement would hold the
-- accounts' row locks across one more round trip, which concurrent movements queue behind.
-- The legs arrive in the order their locks are to be taken (by account id).
create function ledger_post(
  p_project_id text, p_mode text, p_entry_id text, p_kind text, p_reference text, p_at timestamptz,
  p_accounts text[], p_assets text[], p_amounts numeric[]
) returns table (account_id text, balance numeric) language plpgsql as $$
#variable_conflict use_column
begin
  insert into journal_entries (project_id, mode, id, kind, reference, created_at)
  values (p_project_id, p_mode, p_entry_id, p_kind, p_reference, p_at);
  insert into ledger_postings (project_id, mode, entry_id, seq, account_id, asset, amount, created_at)
  select p_project_id, p_mode, p_entry_id, (leg.ord - 1)::smallint, leg.account, leg.asset, leg.amount, p_at
    from unnest(p_accounts, p_assets, p_amounts) with ordinality as leg(account, asset, amount, ord)
   order by leg.ord;
  return query
    select a.id, a.balance from ledger_accounts a
     where a.project_id = p_project_id and a.mode = p_mode and a.id = any(p_accounts);
end $$;
