create or replace function @extschema@.publish(
    i_topic           text,
    i_body            bytea,
    i_headers         jsonb default null,
    i_delay           interval default null,
    i_priority        int default null,
    i_group           text default null,
    i_dedup_id        text default null,
    i_correlation_id  text default null,
    i_reply_to        text default null,
    i_now             timestamptz default null)
returns bigint[]
language plpgsql security definer
set search_path = pg_catalog, pg_temp
-- Generic plans: a custom plan is re-made on every call, which costs more
-- than these statements take to run; their plans do not depend on values.
set plan_cache_mode = force_generic_plan
as $$
-- ----------------------------------------------------------------------
-- Function: publish(i_topic, i_body, ...)
--
--      Publishes a message to a topic in the caller's transaction (same
--      arguments as send). Fanout: a copy goes to every subscribed queue
--      whose filter the headers contain; no match is counted in
--      topics.unmatched, not an error. Route: the first rule (by position)
--      whose filter the headers contain, else the default queue; when
--      neither exists it is an error and nothing is written.
--
-- Returns:
--      the ids of the copies, one per queue (ordered by queue name for
--      fanout). Errors: TQ002 unknown topic, TQ004 no route, and send's.
-- ----------------------------------------------------------------------
declare
    t @extschema@.topics;
    v_headers jsonb := coalesce(i_headers, '{}');
    v_ids bigint[] := '{}';
    v_queue text;
begin
    t := @extschema@._topic(i_topic);
    if jsonb_typeof(v_headers) <> 'object' then
        raise exception 'headers must be a JSON object (got %)',
            jsonb_typeof(v_headers) using errcode = '22023';
    end if;
    if t.mode = 'fanout' then
        for v_queue in
            select q.name from @extschema@.subscriptions s
              join @extschema@.queues q using (queue_id)
             where s.topic_id = t.topic_id
               and (s.filter is null or v_headers @> s.filter)
             order by q.name
        loop
            v_ids := v_ids || @extschema@.send(v_queue, i_body, v_headers,
                i_delay, i_priority, i_group, i_dedup_id, i_correlation_id,
                i_reply_to, i_now);
        end loop;
        if cardinality(v_ids) = 0 then
            update @extschema@.topics set unmatched = unmatched + 1
             where topic_id = t.topic_id;
        end if;
        return v_ids;
    end if;

    select q.name into v_queue
      from @extschema@.routes r join @extschema@.queues q using (queue_id)
     where r.topic_id = t.topic_id and v_headers @> r.filter
     order by r.position limit 1;
    if not found then
        select q.name into v_queue from @extschema@.queues q
         where q.queue_id = t.default_queue_id;
        if not found then
            raise exception 'no route of topic "%" matches the headers and '
                'it has no default queue', t.name using errcode = 'TQ004';
        end if;
    end if;
    return array[@extschema@.send(v_queue, i_body, v_headers, i_delay,
        i_priority, i_group, i_dedup_id, i_correlation_id, i_reply_to,
        i_now)];
end
$$;
