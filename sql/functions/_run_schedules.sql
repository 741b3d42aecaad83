create or replace function @extschema@._run_schedules(i_now timestamptz)
returns int
language plpgsql
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: _run_schedules(i_now)
--
--      Sends the due ticks of every schedule (internal, from maintain()).
--      Each schedule is taken with FOR UPDATE SKIP LOCKED and moved to
--      its next tick in the transaction that sends: a tick is sent once,
--      whoever commits it, and a concurrent maintain() skips it. A tick
--      more than a minute late is skipped (counted in skipped) unless the
--      schedule catches up; at most 1,000 ticks per schedule and call.
--
-- Returns:
--      how many messages were sent.
-- ----------------------------------------------------------------------
declare
    s record;
    q @extschema@.queues;
    v_tick timestamptz;
    v_sent int := 0;
    v_n int;
    v_skip int;
    v_last timestamptz;
begin
    for s in
        select c.* from @extschema@.cron_schedules c
         where c.next_run <= i_now
         order by c.next_run
         for update skip locked
    loop
        select * into q from @extschema@.queues where queue_id = s.queue_id;
        v_tick := s.next_run;
        v_n := 0;
        v_skip := 0;
        -- Missed ticks, unless caught up: counted (up to 10,000), skipped.
        while not s.catch_up and v_tick is not null
              and v_tick < i_now - interval '1 minute' loop
            v_skip := v_skip + 1;
            if v_skip >= 10000 then
                v_tick := @extschema@._cron_next(s.spec, s.time_zone,
                    i_now - interval '1 minute 1 microsecond');
                exit;
            end if;
            v_tick := @extschema@._cron_next(s.spec, s.time_zone, v_tick);
        end loop;
        while v_tick is not null and v_tick <= i_now and v_n < 1000 loop
            -- A fifo queue's sends of one group take turns, as in send().
            if q.kind = 'fifo' then
                perform pg_advisory_xact_lock(q.queue_id, hashtext(''));
            end if;
            insert into @extschema@.messages (queue_id, priority,
                visible_at, enqueued_at, expires_at, group_key, headers,
                body)
            values (q.queue_id, 0, i_now + q.delay, i_now,
                i_now + q.expire_after,
                case when q.kind = 'fifo' then '' end,
                s.headers || jsonb_build_object('txq_schedule', s.name,
                                                'txq_tick', v_tick),
                s.body);
            v_sent := v_sent + 1;
            v_n := v_n + 1;
            v_last := v_tick;
            v_tick := @extschema@._cron_next(s.spec, s.time_zone, v_tick);
        end loop;
        if v_n > 0 and q.waiting then
            perform @extschema@._wake(q);
        end if;
        update @extschema@.cron_schedules
           set next_run = coalesce(v_tick, 'infinity'),
               runs = runs + v_n,
               last_run = case when v_n > 0 then v_last else last_run end,
               skipped = skipped + v_skip
         where name = s.name;
    end loop;
    return v_sent;
end
$$;
