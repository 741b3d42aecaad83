create or replace function @extschema@.wait_end(i_queue text default null)
returns void
language sql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: wait_end(i_queue)
--
--      This session no longer waits on i_queue (null: on any queue).
-- ----------------------------------------------------------------------
    delete from @extschema@.waiters w
     where w.backend_pid = pg_backend_pid()
       and (i_queue is null
            or w.queue_id = (select queue_id from @extschema@.queues
                              where name = i_queue));
$$;
