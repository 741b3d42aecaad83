create or replace function @extschema@._cron_parse(i_cron text)
returns @extschema@.cron_spec
language plpgsql immutable
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: _cron_parse(i_cron)
--
--      Parses a standard five-field cron expression (internal): minute
--      (0-59), hour (0-23), day of month (1-31), month (1-12 or JAN-DEC),
--      day of week (0-7 or SUN-SAT, 0 and 7 both Sunday), separated by
--      blanks; or one of @yearly (@annually), @monthly, @weekly, @daily
--      (@midnight), @hourly.
--
-- Returns:
--      the parsed expression. Errors: 22023 naming what is wrong.
-- ----------------------------------------------------------------------
declare
    v_f text[];
    s @extschema@.cron_spec;
    v_cron text := lower(btrim(coalesce(i_cron, '')));
begin
    v_cron := case v_cron
        when '@yearly' then '0 0 1 1 *'
        when '@annually' then '0 0 1 1 *'
        when '@monthly' then '0 0 1 * *'
        when '@weekly' then '0 0 * * 0'
        when '@daily' then '0 0 * * *'
        when '@midnight' then '0 0 * * *'
        when '@hourly' then '0 * * * *'
        else v_cron end;
    v_f := regexp_split_to_array(v_cron, '\s+');
    if length(v_cron) > 200 or cardinality(v_f) <> 5 then
        raise exception 'cron: "%" must have five fields (minute hour '
            'day-of-month month day-of-week) or be @hourly, @daily, '
            '@weekly, @monthly or @yearly', left(i_cron, 100)
            using errcode = '22023';
    end if;
    s.minutes := @extschema@._cron_field(v_f[1], 0, 59, '{}', 'minute');
    s.hours := @extschema@._cron_field(v_f[2], 0, 23, '{}', 'hour');
    s.days := @extschema@._cron_field(v_f[3], 1, 31, '{}', 'day-of-month');
    s.months := @extschema@._cron_field(v_f[4], 1, 12,
        '{JAN,FEB,MAR,APR,MAY,JUN,JUL,AUG,SEP,OCT,NOV,DEC}', 'month');
    s.weekdays := @extschema@._cron_field(v_f[5], 0, 7,
        '{SUN,MON,TUE,WED,THU,FRI,SAT}', 'day-of-week');
    if 7 = any (s.weekdays) then
        s.weekdays := array(select distinct case when d = 7 then 0 else d end
                              from unnest(s.weekdays) d order by 1);
    end if;
    s.any_day := v_f[3] = '*';
    s.any_weekday := v_f[5] = '*';
    return s;
end
$$;
