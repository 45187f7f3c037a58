-- A wallet names its ledger accounts: its own, and the outside world's account of its asset and
-- chain that deposits come from and withdrawals go to. Both are fixed when the wallet opens,
-- so every read and movement of a wallet finds them by primary key, never by a search over the
-- project's accounts (which the planner, on a young table without statistics, did by scanning).
alter table wallets
  add column ledger_account_id text,
  add column external_account_id text;

update wallets w
   set ledger_account_id = a.id
  from ledger_accounts a
 where (a.project_id, a.mode, a.kind, a.wallet_id) = (w.project_id, w.mode, 'wallet', w.id);

update wallets w
   set external_account_id = x.id
  from ledger_accounts x
 where (x.project_id, x.mode, x.kind, x.asset, x.chain) = (w.project_id, w.mode, 'external', w.asset, w.chain)
   and x.wallet_id is null;

alter table wallets
  alter column ledger_account_id set not null,
  alter column external_account_id set not null,
  add foreign key (project_id, mode, ledger_account_id, asset) references ledger_accounts (project_id, mode, id, asset),
  add foreign key (project_id, mode, external_account_id, asset) references ledger_accounts (project_id, mode, id, asset);
