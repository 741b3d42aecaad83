create or replace function @extschema@.wait_end(i_queue text default null)
returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: wait_end(i_queue)
--
--      This session no longer waits on i_queue (null: on any queue). A
--      registration is a count, not this session's own row, so there is
--      nothing to take back: the next send to the queue notifies once for
--      it, as for a waiter that died. Checks the name, so a caller's typo
--      is not silent.
-- ----------------------------------------------------------------------
begin
    if i_queue is not null then
        perform @extschema@._queue(i_queue);
    end if;
end
$$;
