create or replace function @extschema@.subscribe(
    i_topic   text,
    i_queue   text,
    i_filter  jsonb default null)
returns boolean
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: subscribe(i_topic, i_queue, i_filter)
--
--      Subscribes a queue to a fanout topic; i_filter (a JSON object) keeps
--      only messages whose headers contain it. Subscribing again replaces
--      the filter.
--
-- Returns:
--      true. Errors: TQ002 unknown topic or queue, 22023 bad filter or a
--      route topic.
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
    perform @extschema@._check_filter(i_filter);
    if t.mode <> 'fanout' then
        raise exception 'topic "%" routes; use add_route, not subscribe',
            t.name using errcode = '22023';
    end if;
    insert into @extschema@.subscriptions (topic_id, queue_id, filter)
    values (t.topic_id, q.queue_id, i_filter)
    on conflict (topic_id, queue_id) do update set filter = excluded.filter;
    return true;
end
$$;
