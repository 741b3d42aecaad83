-- The signature before its integer arguments became bigint (a value
-- past 2^31 then met no function at all, not a range error).
drop function if exists @extschema@.remove_route(text,int);
create or replace function @extschema@.remove_route(
    i_topic text, i_position bigint)
returns boolean
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: remove_route(i_topic, i_position)
--
-- Returns:
--      true when the rule existed.
-- ----------------------------------------------------------------------
declare
    t @extschema@.topics;
begin
    if not @extschema@._may(null, 'admin') then
        perform @extschema@._deny(null, 'admin');
    end if;
    t := @extschema@._topic(i_topic);
    delete from @extschema@.routes
     where topic_id = t.topic_id and position = i_position;
    return found;
end
$$;
