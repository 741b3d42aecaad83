-- 0002_queue_waiting: a flag on each queue row that says whether any
-- session may be waiting on it, so a send nobody waits for skips the
-- waiters probe (docs/design.md, "Wake-ups without serialised commits").
--
-- Applied once, in its own transaction, under an advisory lock, by
-- txq_migrate() / `txq migrate`. @extschema@ is replaced by the quoted schema
-- name. Forward-only: never edit a released migration, add a new one.

-- True from a session's wait_begin on the queue until maintain() finds no
-- waiter row left. Only wait_begin sets it and only maintain() clears it,
-- under an advisory lock on (queues' oid, queue_id): wait_begin holds it
-- shared to its commit, maintain() takes it exclusively or skips the queue.
-- So a waiter row any snapshot can see comes with the flag set in that
-- snapshot. A send reads the flag with the queue row it reads anyway.
alter table @extschema@.queues
    add column waiting boolean not null default false;

-- Queues somebody waited on before this migration: their waiter rows stay.
update @extschema@.queues q set waiting = true
 where exists (select 1 from @extschema@.waiters w
                where w.queue_id = q.queue_id);
