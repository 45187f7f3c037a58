-- Webhooks (spec 6): endpoints, their signing secrets, and one delivery per (event, endpoint).
-- `enabled` is the user's switch; `status` is the server's: an endpoint that answered 410, or
-- kept failing for too long, is `disabled` until its owner enables it again.
create table webhook_endpoints (
  project_id       text not null,
  mode             text not null,
  id               text not null,
  url              text not null,
  -- Event types to deliver; empty means every event the endpoint may receive.
  events           text[] not null default '{}',
  enabled          boolean not null default true,
  status           text not null default 'active' check (status in ('active', 'disabled')),
  disabled_reason  text,
  -- Receives the compliance-only events (underReview), and only those; set by an operator.
  compliance_only  boolean not null default false,
  -- Since when every attempt has failed; null after any success.
  failing_since    timestamptz(3),
  created_at       timestamptz(3) not null,
  updated_at       timestamptz(3) not null,
  primary key (project_id, mode, id)
);

-- Sealed under the master key. The current secret has no expiry; after a rotation the previous
-- one keeps signing until expires_at, so receivers can switch without losing a delivery.
create table webhook_secrets (
  project_id     text not null,
  mode           text not null,
  endpoint_id    text not null,
  seq            integer not null,
  sealed         bytea not null,
  master_key_id  text not null,
  expires_at     timestamptz(3),
  created_at     timestamptz(3) not null,
  primary key (project_id, mode, endpoint_id, seq),
  foreign key (project_id, mode, endpoint_id) references webhook_endpoints (project_id, mode, id) on delete cascade
);

create table webhook_deliveries (
  project_id        text not null,
  mode              text not null,
  id                text not null,
  endpoint_id       text not null,
  event_id          text not null,
  status            text not null check (status in ('pending', 'delivered', 'failed')),
  -- Every attempt ever made; the retry schedule counts those since retries_base (a manual
  -- retry or resend starts a new schedule).
  attempts          integer not null default 0,
  retries_base      integer not null default 0,
  next_attempt_at   timestamptz(3),
  -- A dispatcher holds the delivery until then; past it, another may take it over.
  locked_until      timestamptz(3),
  last_status_code  integer,
  last_error        text,
  delivered_at      timestamptz(3),
  created_at        timestamptz(3) not null,
  updated_at        timestamptz(3) not null,
  primary key (project_id, mode, id),
  unique (project_id, mode, endpoint_id, event_id),
  check ((status = 'pending') = (next_attempt_at is not null)),
  foreign key (project_id, mode, endpoint_id) references webhook_endpoints (project_id, mode, id) on delete cascade,
  foreign key (project_id, mode, event_id) references events (project_id, mode, id)
);
-- What dispatchers claim, across every project, earliest first.
create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where status = 'pending';
create index webhook_deliveries_by_endpoint on webhook_deliveries (project_id, mode, endpoint_id, created_at desc);

create table webhook_attempts (
  project_id   text not null,
  mode         text not null,
  delivery_id  text not null,
  attempt      integer not null,
  started_at   timestamptz(3) not null,
  status_code  integer,
  error        text,
  latency_ms   integer not null,
  primary key (project_id, mode, delivery_id, attempt),
  foreign key (project_id, mode, delivery_id) references webhook_deliveries (project_id, mode, id) on delete cascade
);

-- Every event fans out to the matching endpoints of its project and mode in the transaction
-- that records it, so no code path can emit an event and forget its deliveries. The
-- compliance-only types ('underReview', as in src/events/catalogue.ts) reach compliance-only
-- endpoints alone, and those endpoints receive nothing else.
create function webhook_endpoints_matching(p_project_id text, p_mode text, p_type text) returns setof webhook_endpoints
language sql stable as $$
  select * from webhook_endpoints w
   where w.project_id = p_project_id and w.mode = p_mode and w.enabled and w.status = 'active'
     and w.compliance_only = (p_type = 'underReview')
     and (cardinality(w.events) = 0 or p_type = any(w.events))
$$;

create function webhooks_fan_out() returns trigger language plpgsql as $$
begin
  insert into webhook_deliveries (project_id, mode, id, endpoint_id, event_id, status, next_attempt_at, created_at, updated_at)
  select e.project_id, e.mode, gen_random_uuid()::text, w.id, e.id, 'pending', e.created_at, e.created_at, e.created_at
    from inserted e
    cross join lateral webhook_endpoints_matching(e.project_id, e.mode, e.type) w;
  if found then
    perform pg_notify('oms_webhook_deliveries', '');
  end if;
  return null;
end $$;

create trigger events_fan_out after insert on events
  referencing new table as inserted
  for each statement execute function webhooks_fan_out();

-- Operators name an endpoint by its id alone (ids are unique across projects and modes), and
-- audit what they do to it; an endpoint concerns no customer.
create index webhook_endpoints_by_id on webhook_endpoints (id);
alter table operator_audit alter column customer_id drop not null;
