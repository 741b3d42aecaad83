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
    v_waiting boolean;
begin
    q := @extschema@._queue(i_queue);
    -- Sends probe waiters only while the queue's flag is set. The key-share
    -- lock, held to commit, keeps maintain() from clearing the flag before
    -- this row is visible; it conflicts with neither sends nor other
    -- waiters, and the update waits only for another wait_begin's.
    select qq.waiting into v_waiting from @extschema@.queues qq
     where qq.queue_id = q.queue_id for key share;
    if not found then
        -- dropped since _queue() found it
        raise exception 'unknown queue "%"', left(i_queue, 100)
            using errcode = 'TQ002';
    end if;
    if not v_waiting then
        update @extschema@.queues qq set waiting = true
         where qq.queue_id = q.queue_id and not qq.waiting;
    end if;
    insert into @extschema@.waiters (queue_id, backend_pid)
    values (q.queue_id, pg_backend_pid())
    on conflict (queue_id, backend_pid) do update set since = now();
end
$$;
