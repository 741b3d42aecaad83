create or replace function @extschema@.wait_begin(i_queue text)
returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: wait_begin(i_queue)
--
--      Registers this session as waiting on a queue, so sends to it
--      NOTIFY txq_wake. Call it (and LISTEN txq_wake) in autocommit, then
--      receive once more before sleeping. wait_end undoes it; a session
--      that dies is cleaned up by maintain().
-- ----------------------------------------------------------------------
declare
    q @extschema@.queues;
begin
    q := @extschema@._queue(i_queue);
    insert into @extschema@.waiters (queue_id, backend_pid)
    values (q.queue_id, pg_backend_pid())
    on conflict (queue_id, backend_pid) do update set since = now();
end
$$;
