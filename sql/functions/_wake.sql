create or replace function @extschema@._wake(q @extschema@.queues)
returns void
language plpgsql
as $$
-- ----------------------------------------------------------------------
-- Function: _wake(q)
--
--      Wakes the sessions waiting on queue q (internal): when a
--      registration (wait_begin) is pending, takes them all (the wakes
--      counter catches up with the waits counter, _wake_pending) and
--      notifies channel txq_wake (payload: the queue name) at commit. A
--      registration means "waiting and not yet woken"; the woken session
--      registers again when it goes back to waiting. So a burst of sends
--      notifies once, not once per send: NOTIFY serialises the commits of
--      the transactions that send one (PostgreSQL holds a global lock from
--      the notify until the commit is flushed), and a busy queue must keep
--      group commit. The counters are sequences, so taking the
--      registrations is not undone by a rollback: a sender that rolls back
--      leaves the waiters it took to their poll. Two senders at once may
--      both notify; a waiter woken for nothing receives nothing and waits
--      again.
--      A queue nobody waits on costs nothing: its waiting flag is off
--      (wait_begin sets it, maintain() clears it once nothing is pending).
--      plpgsql, not sql: its statements' plans are cached across calls.
-- ----------------------------------------------------------------------
declare
    v_waits bigint;
begin
    if q.waiting then
        v_waits := coalesce(pg_sequence_last_value(q.waits_seq), 0);
        if v_waits > coalesce(pg_sequence_last_value(q.wakes_seq), 0) then
            perform setval(q.wakes_seq, v_waits);
            perform pg_notify('txq_wake', q.name);
        end if;
    end if;
end
$$;
