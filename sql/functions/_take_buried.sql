create or replace function @extschema@._take_buried()
returns bigint
language sql stable
as $$
-- ----------------------------------------------------------------------
-- Function: _take_buried()
--
--      How many messages take() buried in this transaction so far
--      (internal; a transaction-local setting, 0 when unset).
-- ----------------------------------------------------------------------
    select coalesce(nullif(pg_catalog.current_setting('txq.take_buried',
                                                      true), ''), '0')::bigint
$$;
