create or replace function @extschema@._cron_field(
    i_field text, i_min int, i_max int, i_names text[], i_what text)
returns int[]
language plpgsql immutable
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: _cron_field(i_field, i_min, i_max, i_names, i_what)
--
--      The values one field of a cron expression allows (internal): a
--      comma-separated list of *, N, N-M, with an optional /STEP (*/15,
--      8-18/2, 5/10: from 5 to the end); N may be a name of i_names (JAN
--      or jan for months, SUN for weekdays), whose first is i_min.
--
-- Returns:
--      the sorted distinct values. Errors: 22023 naming the field.
-- ----------------------------------------------------------------------
declare
    v_item text;
    v_range text;
    v_step int;
    v_lo int;
    v_hi int;
    v_parts text[];
    v_out int[] := '{}';
    v_bad text := format('cron: %s field "%s" must be *, N, N-M or a list '
                         'of them, each with an optional /STEP, N from %s '
                         'to %s', i_what, left(i_field, 100), i_min, i_max);
begin
    if i_field is null or i_field = '' then
        raise exception '%', v_bad using errcode = '22023';
    end if;
    foreach v_item in array string_to_array(i_field, ',') loop
        v_parts := string_to_array(v_item, '/');
        if cardinality(v_parts) not between 1 and 2 or v_parts[1] = '' then
            raise exception '%', v_bad using errcode = '22023';
        end if;
        v_range := v_parts[1];
        v_step := 1;
        if cardinality(v_parts) = 2 then
            if v_parts[2] !~ '^[0-9]{1,4}$' or v_parts[2]::int = 0 then
                raise exception '%', v_bad using errcode = '22023';
            end if;
            v_step := v_parts[2]::int;
        end if;
        if v_range = '*' then
            v_lo := i_min;
            v_hi := i_max;
        else
            v_parts := string_to_array(v_range, '-');
            if cardinality(v_parts) > 2 then
                raise exception '%', v_bad using errcode = '22023';
            end if;
            for v_i in 1 .. cardinality(v_parts) loop
                if v_parts[v_i] ~ '^[0-9]{1,4}$' then
                    null;
                elsif upper(v_parts[v_i]) = any (i_names) then
                    v_parts[v_i] := (array_position(i_names,
                        upper(v_parts[v_i])) - 1 + i_min)::text;
                else
                    raise exception '%', v_bad using errcode = '22023';
                end if;
            end loop;
            v_lo := v_parts[1]::int;
            v_hi := case when cardinality(v_parts) = 2 then v_parts[2]::int
                         when cardinality(string_to_array(v_item, '/')) = 2
                         then i_max
                         else v_lo end;
            -- 7 is Sunday too, as 0 (the weekday field's i_max is 7).
            if v_lo < i_min or v_hi > i_max or v_lo > v_hi then
                raise exception '%', v_bad using errcode = '22023';
            end if;
        end if;
        v_out := v_out || array(select generate_series(v_lo, v_hi, v_step));
    end loop;
    return array(select distinct v from unnest(v_out) v order by v);
end
$$;
