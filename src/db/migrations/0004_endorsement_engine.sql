-- Endorsements become real (spec 3): a status machine with its history, and evaluation jobs
-- that a worker claims. Status changes are serialised by the customer's row lock.

alter table customer_endorsements
  add constraint customer_endorsements_status
  check (status in ('INACTIVE', 'PENDING', 'ISSUES', 'ACTIVE', 'REJECTED', 'REVOKED_ISSUES', 'OFFBOARDED'));

-- One row per status an endorsement has had: seq 1 is its birth (from_status null), and each
-- later row starts where the previous one ended.
create table endorsement_history (
  project_id   text not null,
  mode         text not null,
  customer_id  text not null,
  name         text not null,
  seq          integer not null check (seq >= 1),
  from_status  text,
  to_status    text not null,
  cause        text not null check (cause in ('customer_update', 'check_result', 'operator', 'sandbox_control')),
  at           timestamptz(3) not null,
  primary key (project_id, mode, customer_id, name, seq),
  foreign key (project_id, mode, customer_id, name) references customer_endorsements (project_id, mode, customer_id, name),
  check ((seq = 1) = (from_status is null))
);

insert into endorsement_history (project_id, mode, customer_id, name, seq, from_status, to_status, cause, at)
select project_id, mode, customer_id, name, 1, null, status, 'customer_update', created_at
  from customer_endorsements;

-- At most one evaluation waiting per customer: a newer write replaces the job (new job_id),
-- so a worker still busy with the old one sees it is stale and drops its result.
create table evaluation_jobs (
  project_id     text not null,
  mode           text not null,
  customer_id    text not null,
  job_id         text not null,
  run_after      timestamptz(3) not null,
  claimed_by     text,
  claimed_until  timestamptz(3),
  attempts       integer not null default 0,
  created_at     timestamptz(3) not null,
  primary key (project_id, mode, customer_id),
  foreign key (project_id, mode, customer_id) references customers (project_id, mode, id)
);
-- Workers serve every project: they look for due jobs across all of them.
create index evaluation_jobs_due on evaluation_jobs (run_after);
