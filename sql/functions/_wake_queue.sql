create or replace function @extschema@._wake_queue(i_queue_id int)
returns boolean
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: _wake_queue(i_queue_id)
--
--      _wake() for libtxq's direct send (sql_text.h, SEND_DIRECT), which
--      runs as the caller: that statement calls this only when the
--      queue's waiting flag is on, so a send nobody waits for pays no
--      call. Runs as the owner because waking moves the queue's wakes
--      counter. A producer calling it by hand can only take pending
--      registrations early (their waiters wake, find nothing, and wait
--      again).
--
-- Returns:
--      true (so the send's WHERE clause can call it).
-- ----------------------------------------------------------------------
declare
    q @extschema@.queues;
begin
    select * into q from @extschema@.queues where queue_id = i_queue_id;
    if found then
        perform @extschema@._wake(q);
    end if;
    return true;
end
$$;
