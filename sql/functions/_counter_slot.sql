create or replace function @extschema@._counter_slot()
returns int
language sql stable
as $$
-- ----------------------------------------------------------------------
-- Function: _counter_slot()
--
--      The queue_counters slot this backend adds to now (internal; a plain
--      SQL expression, inlined into the statements that count). Slot =
--      backend pid + generation * 2^22, where the generation (1-511)
--      changes every 128 transactions of the cluster: a backend's row
--      takes at most that many updates before the next one starts. A row
--      updated without end grows a version chain that a long snapshot held
--      anywhere in the cluster keeps from being pruned, and every update
--      walks it (4 ms per ack after 40,000 acks under one held snapshot).
--      Linux pids stay below 2^22, so the slot fits an int and slots 0-15
--      (the queue's own rows) are never a backend's.
-- ----------------------------------------------------------------------
    select (pg_catalog.pg_backend_pid()
            + ((pg_catalog.txid_current() >> 7) % 511 + 1) * 4194304)::int
$$;
