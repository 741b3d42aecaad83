create or replace function @extschema@._waiting_lock_key()
returns int
language sql stable
as $$
-- ----------------------------------------------------------------------
-- Function: _waiting_lock_key()
--
--      The first key of the advisory lock on (this key, queue_id) that
--      keeps a queue's waiting flag right (internal): wait_begin holds it
--      shared until it commits, maintain() takes it exclusively before
--      turning the flag off. The queues table's oid, so two txq schemas in
--      one database do not share locks.
-- ----------------------------------------------------------------------
    select '@extschema@.queues'::regclass::oid::int;
$$;
