create or replace function @extschema@.unsubscribe(i_topic text, i_queue text)
returns boolean
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: unsubscribe(i_topic, i_queue)
--
-- Returns:
--      true when the subscription existed.
-- ----------------------------------------------------------------------
declare
    t @extschema@.topics;
    q @extschema@.queues;
begin
    if not @extschema@._may(null, 'admin') then
        perform @extschema@._deny(null, 'admin');
    end if;
    t := @extschema@._topic(i_topic);
    q := @extschema@._queue(i_queue);
    delete from @extschema@.subscriptions
     where topic_id = t.topic_id and queue_id = q.queue_id;
    return found;
end
$$;
