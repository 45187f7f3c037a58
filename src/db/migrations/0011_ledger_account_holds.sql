-- What an account accepts, enforced where its balance moves: 'all' postings, only 'credits'
-- (a suspended wallet: money may arrive, none may leave), or 'nothing' (a closed wallet).
-- The check runs under the row lock the posting takes, so an operator's suspension or closure
-- and a concurrent movement are ordered: the movement lands before it, or is refused after.
alter table ledger_accounts
  add column accepts text not null default 'all' check (accepts in ('all', 'credits', 'nothing'));

-- The fast path stays one statement: the UPDATE moves the balance only of an account that
-- caches one and accepts this posting. Anything else reads the account to tell why: the world
-- (no cached balance: nothing to move), or a refusal, reported before any overdraft would be.
create or replace function ledger_apply_posting() returns trigger language plpgsql as $$
declare
  account ledger_accounts%rowtype;
begin
  update ledger_accounts set balance = balance + new.amount
   where project_id = new.project_id and mode = new.mode and id = new.account_id and balance is not null
     and (accepts = 'all' or (accepts = 'credits' and new.amount > 0))
  returning * into account;
  if not found then
    select * into account from ledger_accounts
     where project_id = new.project_id and mode = new.mode and id = new.account_id;
    if account.accepts = 'nothing' then
      raise exception 'ledger account % accepts no postings', new.account_id
        using errcode = 'check_violation', constraint = 'ledger_accounts_accept_nothing';
    end if;
    if account.accepts = 'credits' and new.amount < 0 then
      raise exception 'ledger account % accepts no debits', new.account_id
        using errcode = 'check_violation', constraint = 'ledger_accounts_accept_credits_only';
    end if;
  end if;
  if new.amount <> round(new.amount, account.scale) then
    raise exception 'amount % has more than % decimals for asset %', new.amount, account.scale, new.asset
      using errcode = 'numeric_value_out_of_range';
  end if;
  return new;
end $$;

-- Operators name a wallet by its id alone (ids are unique across projects and modes).
create index wallets_by_id on wallets (id);
