create or replace function @extschema@.schedule(
    i_name       text,
    i_cron       text,
    i_queue      text,
    i_body       bytea,
    i_headers    jsonb default null,
    i_time_zone  text default null,
    i_catch_up   boolean default null,
    i_now        timestamptz default null)
returns timestamptz
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: schedule(i_name, i_cron, i_queue, i_body, i_headers,
--                    i_time_zone, i_catch_up, i_now)
--
--      Creates or replaces the schedule i_name: on every tick of i_cron
--      (five fields, or @hourly, @daily, ...; read on the wall clock of
--      i_time_zone, default UTC) maintain() sends i_body with i_headers
--      to i_queue, exactly once per tick however many workers run it;
--      each message's headers also carry txq_schedule (the name) and
--      txq_tick (the tick's time). A tick missed by more than a minute
--      (nothing ran maintain()) is skipped and counted, unless
--      i_catch_up: then every missed tick is sent. Needs operate on the
--      queue; audited. i_now: the schema owner only (_clock()).
--
-- Returns:
--      the first tick. Errors: 22023 a bad name, cron expression, time
--      zone, body or headers; TQ002 unknown queue; 42501 not granted.
-- ----------------------------------------------------------------------
declare
    q @extschema@.queues;
    v_now timestamptz := case when i_now is null then now()
                          else @extschema@._clock(i_now) end;
    v_spec @extschema@.cron_spec;
    v_tz text := coalesce(i_time_zone, 'UTC');
    v_next timestamptz;
begin
    q := @extschema@._queue(i_queue);
    if not @extschema@._may(q.queue_id, 'operate') then
        perform @extschema@._deny(q.name, 'operate');
    end if;
    if q.encrypt then
        perform @extschema@._refuse_plain(q.name);
    end if;
    if i_name is null or i_name !~ '^[a-z][a-z0-9_]{0,62}$' then
        raise exception 'invalid schedule name "%": use 1 to 63 characters '
            'a-z, 0-9 and _, starting with a letter', left(i_name, 100)
            using errcode = '22023';
    end if;
    if not exists (select from pg_timezone_names where name = v_tz) then
        raise exception 'unknown time zone "%" (see pg_timezone_names)',
            left(v_tz, 100) using errcode = '22023';
    end if;
    perform @extschema@._check_body(q, i_body);
    if i_headers is not null and jsonb_typeof(i_headers) <> 'object' then
        raise exception 'headers must be a JSON object'
            using errcode = '22023';
    end if;
    v_spec := @extschema@._cron_parse(i_cron);
    v_next := @extschema@._cron_next(v_spec, v_tz, v_now);
    if v_next is null then
        raise exception 'cron: "%" never fires', left(i_cron, 100)
            using errcode = '22023';
    end if;
    insert into @extschema@.cron_schedules as s (name, cron, spec,
        time_zone, queue_id, body, headers, catch_up, next_run)
    values (i_name, i_cron, v_spec, v_tz, q.queue_id, i_body,
        coalesce(i_headers, '{}'), coalesce(i_catch_up, false), v_next)
    on conflict (name) do update
       set cron = excluded.cron, spec = excluded.spec,
           time_zone = excluded.time_zone, queue_id = excluded.queue_id,
           body = excluded.body, headers = excluded.headers,
           catch_up = excluded.catch_up, next_run = excluded.next_run;
    insert into @extschema@.audit_log (action, queue, detail)
    values ('schedule', q.name, format('%s: %s (%s)', i_name,
            left(i_cron, 200), v_tz));
    return v_next;
end
$$;
