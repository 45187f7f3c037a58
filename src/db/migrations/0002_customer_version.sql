-- A counter bumped by every write to a customer: PATCH applies its change only if the row is
-- still at the version it read (compare-and-set), instead of holding a row lock.
alter table customers add column version bigint not null default 0;
