create or replace function @extschema@.drop_topic(i_name text)
returns boolean
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: drop_topic(i_name)
--
--      Drops a topic with its subscriptions and routes; queues stay.
-- ----------------------------------------------------------------------
declare
    t @extschema@.topics;
begin
    if not @extschema@._may(null, 'admin') then
        perform @extschema@._deny(null, 'admin');
    end if;
    t := @extschema@._topic(i_name);
    delete from @extschema@.subscriptions where topic_id = t.topic_id;
    delete from @extschema@.routes where topic_id = t.topic_id;
    delete from @extschema@.topics where topic_id = t.topic_id;
    insert into @extschema@.audit_log (action, detail)
    values ('drop_topic', t.name);
    return true;
end
$$;
