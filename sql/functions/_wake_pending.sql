create or replace function @extschema@._wake_pending(q @extschema@.queues)
returns bigint
language sql volatile
as $$
-- ----------------------------------------------------------------------
-- Function: _wake_pending(q)
--
--      How many registrations on queue q no wake-up has taken yet
--      (internal): its waits counter less its wakes counter, 0 when none.
--      The counters are sequences, read as they are now, not as of a
--      snapshot: no version of them is kept, so this costs the same after
--      a million wake-ups under a held snapshot as after one.
-- ----------------------------------------------------------------------
    select greatest(coalesce(pg_sequence_last_value(q.waits_seq), 0)
                    - coalesce(pg_sequence_last_value(q.wakes_seq), 0), 0);
$$;
