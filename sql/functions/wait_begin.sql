create or replace function @extschema@.wait_begin(i_queue text)
returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: wait_begin(i_queue)
--
--      Registers this session as waiting on a queue, so the next send
--      to it NOTIFYs txq_wake. Call it (and LISTEN txq_wake) in autocommit,
--      then receive once more before sleeping. A wake-up takes every
--      registration: register again before the next sleep. One left
--      behind (the session stopped waiting, or died) costs one NOTIFY.
-- ----------------------------------------------------------------------
declare
    q @extschema@.queues;
begin
    q := @extschema@._queue(i_queue);
    if not @extschema@._may(q.queue_id, 'receive') then
        perform @extschema@._deny(q.name, 'receive');
    end if;
    -- Sends look for registrations only while the queue's flag is on.
    -- This shared lock, held to commit, keeps maintain() from turning the
    -- flag off before it can see this registration (maintain() takes it
    -- exclusively and skips a queue it cannot get). An advisory lock, not
    -- a row lock: a row lock is written to the WAL, and a registration
    -- that writes no WAL (the counter is an unlogged sequence) commits
    -- without waiting for a flush.
    perform pg_advisory_xact_lock_shared(@extschema@._waiting_lock_key(),
                                         q.queue_id);
    -- A statement begun after the lock: it sees a clear maintain()
    -- committed. Nothing is written when the flag is already on.
    update @extschema@.queues qq set waiting = true
     where qq.queue_id = q.queue_id and not qq.waiting;
    -- A sequence, not a row: no version for a held snapshot to keep.
    perform nextval(q.waits_seq);
end
$$;
