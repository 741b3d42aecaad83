create or replace function @extschema@._topic(i_name text)
returns @extschema@.topics
language plpgsql stable
as $$
-- ----------------------------------------------------------------------
-- Function: _topic(i_name)
--
--      Looks a topic up by name (internal); raises TQ002 when unknown.
-- ----------------------------------------------------------------------
declare
    t @extschema@.topics;
begin
    select * into t from @extschema@.topics where name = i_name;
    if not found then
        raise exception 'unknown topic "%"', left(i_name, 100)
            using errcode = 'TQ002';
    end if;
    return t;
end
$$;
