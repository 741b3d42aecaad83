create or replace function @extschema@._front_key(i_queue_id int)
returns text
language sql stable
as $$
-- ----------------------------------------------------------------------
-- Function: _front_key(i_queue_id)
--
--      The name of the session setting that holds this session's claim
--      frontier on a queue (internal; docs/design.md, "Claims under a
--      held snapshot"): txq.f_<oid of this schema's queues table>_<queue
--      id>, so two txq schemas of one database never share one.
-- ----------------------------------------------------------------------
    select 'txq.f_' || '@extschema@.queues'::pg_catalog.regclass::oid::text
           || '_' || i_queue_id::text
$$;
