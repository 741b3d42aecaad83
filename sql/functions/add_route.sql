-- The signature before its integer arguments became bigint (a value
-- past 2^31 then met no function at all, not a range error).
drop function if exists @extschema@.add_route(text,jsonb,text,int);
create or replace function @extschema@.add_route(
    i_topic     text,
    i_filter    jsonb,
    i_queue     text,
    i_position  bigint default null)
returns int
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: add_route(i_topic, i_filter, i_queue, i_position)
--
--      Adds a rule to a route topic: messages whose headers contain
--      i_filter go to i_queue. Rules are tried by ascending position;
--      without i_position the rule goes last. An existing position is
--      replaced. '{}' matches everything.
--
-- Returns:
--      the rule's position.
-- ----------------------------------------------------------------------
declare
    t @extschema@.topics;
    q @extschema@.queues;
    v_pos int;
begin
    if not @extschema@._may(null, 'admin') then
        perform @extschema@._deny(null, 'admin');
    end if;
    t := @extschema@._topic(i_topic);
    q := @extschema@._queue(i_queue);
    if i_filter is null then
        raise exception 'filter is null (use ''{}'' to match everything)'
            using errcode = '22023';
    end if;
    perform @extschema@._check_filter(i_filter);
    if t.mode <> 'route' then
        raise exception 'topic "%" is fanout; use subscribe, not add_route',
            t.name using errcode = '22023';
    end if;
    if i_position is not null and i_position not between 0 and 1000000 then
        raise exception 'position must be between 0 and 1000000 (got %)',
            i_position using errcode = '22023';
    end if;
    v_pos := coalesce(i_position,
        (select coalesce(max(position), 0) + 10 from @extschema@.routes
          where topic_id = t.topic_id));
    insert into @extschema@.routes (topic_id, position, filter, queue_id)
    values (t.topic_id, v_pos, i_filter, q.queue_id)
    on conflict (topic_id, position) do update
       set filter = excluded.filter, queue_id = excluded.queue_id;
    return v_pos;
end
$$;
