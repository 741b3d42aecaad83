create or replace function @extschema@._count(
    i_queue_id int, i_what text, i_n bigint default 1)
returns void
language plpgsql
as $$
-- ----------------------------------------------------------------------
-- Function: _count(i_queue_id, i_what, i_n)
--
--      Adds i_n to one outcome counter of a queue (internal). Each backend
--      has a row of its own (slot = its pid, made on first use), so
--      concurrent sessions never wait on each other's counter row until
--      commit; maintain() folds the rows of ended sessions into slot 0.
-- ----------------------------------------------------------------------
declare
    v_slot int := pg_backend_pid();
begin
    for i in 1 .. 2 loop
        case i_what
        when 'acked' then
            update @extschema@.queue_counters set acked = acked + i_n
             where queue_id = i_queue_id and slot = v_slot;
        when 'retried' then
            update @extschema@.queue_counters set retried = retried + i_n
             where queue_id = i_queue_id and slot = v_slot;
        when 'dead' then
            update @extschema@.queue_counters set dead = dead + i_n
             where queue_id = i_queue_id and slot = v_slot;
        when 'ignored' then
            update @extschema@.queue_counters set ignored = ignored + i_n
             where queue_id = i_queue_id and slot = v_slot;
        when 'expired' then
            update @extschema@.queue_counters set expired = expired + i_n
             where queue_id = i_queue_id and slot = v_slot;
        when 'requeued' then
            update @extschema@.queue_counters set requeued = requeued + i_n
             where queue_id = i_queue_id and slot = v_slot;
        when 'discarded' then
            update @extschema@.queue_counters set discarded = discarded + i_n
             where queue_id = i_queue_id and slot = v_slot;
        else
            raise exception 'unknown counter %', i_what;
        end case;
        exit when found;  -- else: the first count of this backend
        insert into @extschema@.queue_counters (queue_id, slot)
        values (i_queue_id, v_slot) on conflict (queue_id, slot) do nothing;
    end loop;
end
$$;
