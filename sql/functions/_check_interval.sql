create or replace function @extschema@._check_interval(
    i_what text, i_value interval, i_min interval, i_max interval)
returns void
language plpgsql immutable
as $$
-- ----------------------------------------------------------------------
-- Function: _check_interval(i_what, i_value, i_min, i_max)
--
--      Raises 22023 naming i_what when i_value lies outside [i_min, i_max]
--      (internal). A null value passes: it means "the default".
-- ----------------------------------------------------------------------
begin
    if i_value is not null and (i_value < i_min or i_value > i_max) then
        raise exception '% must be between % and % (got %)',
            i_what, i_min, i_max, i_value using errcode = '22023';
    end if;
end
$$;
