-- A keyed request takes its key in a statement that goes out with the work's first statement,
-- and stores its answer in a statement that goes out with the COMMIT; neither's result is
-- waited for. Each therefore refuses itself, through this function, when the key is not the
-- request's to run or to answer (another request holds it or has answered it): the
-- statements behind it then do not run, and the COMMIT finds the transaction aborted.
create function idempotency_key_taken() returns boolean
language plpgsql as $$
begin
  raise exception 'this idempotency key is held or answered by another request'
    using errcode = 'unique_violation', constraint = 'idempotency_keys_pkey';
end $$;
