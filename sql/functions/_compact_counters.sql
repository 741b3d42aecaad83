create or replace function @extschema@._compact_counters()
returns boolean
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: _compact_counters()
--
--      Gives back the storage of queue_counters once it passed 4 MB
--      (internal; maintain() calls it). Every ack updates its backend's
--      counter row; under a snapshot held elsewhere no old version can be
--      pruned, and the table grows by about 160 bytes per ack (W7: 75 MB
--      in a 10-minute hold at 800 acks/s), and keeps that size after the
--      hold: vacuum frees the versions, but pages holding a live row stay.
--      Like the messages' rotation, it truncates, which a held snapshot
--      does not stop: under an exclusive lock (waited for 50 ms at most,
--      else left to the next call) the live rows, a few per queue, are
--      copied out, the table truncated and the rows put back, in one
--      transaction. As with the rotation, a transaction whose snapshot is
--      older than the truncate sees the table empty (its counters 0).
--      Outside READ COMMITTED nothing is done.
--
-- Returns:
--      whether the table was compacted.
-- ----------------------------------------------------------------------
declare
    v_rows @extschema@.queue_counters[];
    v_timeout text := current_setting('lock_timeout');
    v_done boolean := false;
begin
    if current_setting('transaction_isolation') <> 'read committed'
       or pg_relation_size('@extschema@.queue_counters') < 4 * 1024 * 1024
    then
        return false;
    end if;
    begin
        perform set_config('lock_timeout', '50ms', true);
        lock table @extschema@.queue_counters in access exclusive mode;
        -- Under the lock every writer has committed: this sees them all.
        select array_agg(c) into v_rows from @extschema@.queue_counters c;
        truncate @extschema@.queue_counters;
        insert into @extschema@.queue_counters
        select r.* from unnest(coalesce(v_rows, '{}')) r;
        v_done := true;
    exception when lock_not_available then
        v_done := false;
    end;
    perform set_config('lock_timeout', v_timeout, true);
    return v_done;
end
$$;
