create or replace function @extschema@._wake(q @extschema@.queues)
returns void
language sql
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: _wake(q)
--
--      Notifies channel txq_wake (payload: the queue name) when a session
--      waits on the queue (internal). A queue nobody waits on costs its
--      producers no NOTIFY, so busy systems never take the commit-time
--      notify lock; PostgreSQL folds repeats within one transaction.
-- ----------------------------------------------------------------------
    select pg_notify('txq_wake', q.name)
     where exists (select 1 from @extschema@.waiters w
                    where w.queue_id = q.queue_id);
$$;
