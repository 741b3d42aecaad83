create or replace function @extschema@._check_filter(i_filter jsonb)
returns void
language plpgsql immutable
as $$
-- ----------------------------------------------------------------------
-- Function: _check_filter(i_filter)
--
--      A header filter is a JSON object; a message matches when its
--      headers contain it (headers @> filter). Raises 22023 otherwise.
-- ----------------------------------------------------------------------
begin
    if i_filter is not null and jsonb_typeof(i_filter) <> 'object' then
        raise exception 'filter must be a JSON object (got %)',
            jsonb_typeof(i_filter) using errcode = '22023';
    end if;
end
$$;
