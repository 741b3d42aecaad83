create or replace function @extschema@._wake_counters(i_queue_id int)
returns void
language plpgsql
as $$
-- ----------------------------------------------------------------------
-- Function: _wake_counters(i_queue_id)
--
--      Creates a new queue's pair of wake-up counters (internal; the owner
--      calls it from create_queue): unlogged sequences named after the
--      queue's id, queue_<id>_waits (registrations, wait_begin) and
--      queue_<id>_wakes (registrations a wake-up has taken, _wake), and
--      records them in its queues row; producers may read them.
--      drop_queue drops them.
-- ----------------------------------------------------------------------
declare
    v_waits text := format('@extschema@.%I', 'queue_' || i_queue_id
                                                || '_waits');
    v_wakes text := format('@extschema@.%I', 'queue_' || i_queue_id
                                                || '_wakes');
begin
    execute 'create unlogged sequence ' || v_waits;
    execute 'create unlogged sequence ' || v_wakes;
    -- Producers' direct sends read them (sql/views/zz_privileges.sql).
    execute format('grant select on sequence %s, %s to txq_producer',
                   v_waits, v_wakes);
    update @extschema@.queues
       set waits_seq = v_waits::regclass, wakes_seq = v_wakes::regclass
     where queue_id = i_queue_id;
end
$$;
