create or replace function @extschema@._wake(q @extschema@.queues)
returns void
language plpgsql
as $$
-- ----------------------------------------------------------------------
-- Function: _wake(q)
--
--      Notifies channel txq_wake (payload: the queue name) when a session
--      waits on the queue (internal). A queue nobody waits on costs its
--      producers no NOTIFY, so busy systems never take the commit-time
--      notify lock; PostgreSQL folds repeats within one transaction.
--      plpgsql, not sql: its statement's plan is cached across calls.
-- ----------------------------------------------------------------------
begin
    if exists (select 1 from @extschema@.waiters w
                where w.queue_id = q.queue_id) then
        perform pg_notify('txq_wake', q.name);
    end if;
end
$$;
