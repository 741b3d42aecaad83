create or replace function @extschema@._wake(q @extschema@.queues)
returns void
language plpgsql
as $$
-- ----------------------------------------------------------------------
-- Function: _wake(q)
--
--      Wakes the sessions waiting on queue q (internal): takes their rows
--      out of waiters and notifies channel txq_wake (payload: the queue
--      name), both at commit. A waiter row means "waiting and not yet
--      woken"; the woken session registers again (wait_begin) when it
--      goes back to waiting. So a burst of sends notifies once, not once
--      per send: NOTIFY serialises the commits of the transactions that
--      send one (PostgreSQL holds a global lock from the notify until the
--      commit is flushed), and a busy queue must keep group commit. Rows
--      another sender is taking right now are skipped (SKIP LOCKED): that
--      sender's commit wakes them. If it rolls back instead, the waiters
--      stay registered and find the message at their next poll.
--      A queue nobody waits on costs nothing: its waiting flag is off
--      (wait_begin sets it, maintain() clears it once no row is left).
--      plpgsql, not sql: its statements' plans are cached across calls.
-- ----------------------------------------------------------------------
begin
    if q.waiting and exists (select 1 from @extschema@.waiters w
                              where w.queue_id = q.queue_id) then
        delete from @extschema@.waiters w
         where w.queue_id = q.queue_id
           and w.backend_pid = any (array(
                   select w2.backend_pid from @extschema@.waiters w2
                    where w2.queue_id = q.queue_id
                      for update skip locked));
        if found then
            perform pg_notify('txq_wake', q.name);
        end if;
    end if;
end
$$;
