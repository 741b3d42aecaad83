create or replace function @extschema@._cron_next(
    i_spec @extschema@.cron_spec, i_time_zone text, i_after timestamptz)
returns timestamptz
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: _cron_next(i_spec, i_time_zone, i_after)
--
--      The first tick of a parsed cron expression after i_after
--      (internal), read on the wall clock of i_time_zone. A wall-clock
--      minute that a daylight-saving change skips fires at the instant
--      PostgreSQL maps it to (once); one that repeats fires the first
--      time only.
--
-- Returns:
--      the tick, or null when none comes within five years (30 February).
-- ----------------------------------------------------------------------
declare
    v_t timestamp := date_trunc('minute', i_after at time zone i_time_zone)
                     + interval '1 minute';
    v_end timestamp := (i_after at time zone i_time_zone)
                       + interval '5 years';
    v_day_ok boolean;
begin
    while v_t <= v_end loop
        if not extract(month from v_t)::int = any (i_spec.months) then
            v_t := date_trunc('month', v_t) + interval '1 month';
            continue;
        end if;
        v_day_ok := case
            when i_spec.any_day and i_spec.any_weekday then true
            when i_spec.any_day
            then extract(dow from v_t)::int = any (i_spec.weekdays)
            when i_spec.any_weekday
            then extract(day from v_t)::int = any (i_spec.days)
            else extract(day from v_t)::int = any (i_spec.days)
                 or extract(dow from v_t)::int = any (i_spec.weekdays) end;
        if not v_day_ok then
            v_t := date_trunc('day', v_t) + interval '1 day';
            continue;
        end if;
        if not extract(hour from v_t)::int = any (i_spec.hours) then
            v_t := date_trunc('hour', v_t) + interval '1 hour';
            continue;
        end if;
        if not extract(minute from v_t)::int = any (i_spec.minutes) then
            v_t := v_t + interval '1 minute';
            continue;
        end if;
        -- A repeated wall-clock minute (autumn): the first instant only.
        if (v_t at time zone i_time_zone) <= i_after then
            v_t := v_t + interval '1 minute';
            continue;
        end if;
        return v_t at time zone i_time_zone;
    end loop;
    return null;
end
$$;
