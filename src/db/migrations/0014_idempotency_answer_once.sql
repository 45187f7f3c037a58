-- The statement that stores a keyed request's answer goes out with the request's COMMIT. When
-- the key already holds a live answer (another request with the key answered meanwhile), that
-- statement must fail rather than store nothing, so that the COMMIT behind it finds the
-- transaction aborted instead of committing a second effect.
create function idempotency_require_stored(stored bigint) returns void
language plpgsql as $$
begin
  if stored = 0 then
    raise exception 'this idempotency key already holds an answer'
      using errcode = 'unique_violation', constraint = 'idempotency_keys_pkey';
  end if;
end $$;
