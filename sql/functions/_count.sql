create or replace function @extschema@._count(
    i_queue_id int, i_what text, i_n bigint default 1)
returns void
language plpgsql
as $$
-- ----------------------------------------------------------------------
-- Function: _count(i_queue_id, i_what, i_n)
--
--      Adds i_n to one outcome counter of a queue (internal). Each backend
--      has rows of its own (_counter_slot(): its pid and a generation,
--      made on first use), so concurrent sessions never wait on each
--      other's counter row until commit; maintain() folds the rows of
--      ended sessions and of past generations into slot 0.
-- ----------------------------------------------------------------------
declare
    v_slot int := @extschema@._counter_slot();
begin
    if i_what not in ('acked', 'retried', 'dead', 'ignored', 'expired',
                      'requeued', 'discarded') then
        raise exception 'unknown counter %', i_what;
    end if;
    for i in 1 .. 2 loop
        update @extschema@.queue_counters
           set acked = acked + case when i_what = 'acked' then i_n else 0 end,
               retried = retried
                   + case when i_what = 'retried' then i_n else 0 end,
               dead = dead + case when i_what = 'dead' then i_n else 0 end,
               ignored = ignored
                   + case when i_what = 'ignored' then i_n else 0 end,
               expired = expired
                   + case when i_what = 'expired' then i_n else 0 end,
               requeued = requeued
                   + case when i_what = 'requeued' then i_n else 0 end,
               discarded = discarded
                   + case when i_what = 'discarded' then i_n else 0 end
         where queue_id = i_queue_id and slot = v_slot;
        exit when found;  -- else: the first count of this backend
        insert into @extschema@.queue_counters (queue_id, slot)
        values (i_queue_id, v_slot) on conflict (queue_id, slot) do nothing;
    end loop;
end
$$;
