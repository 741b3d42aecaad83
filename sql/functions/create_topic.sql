create or replace function @extschema@.create_topic(
    i_name           text,
    i_mode           text default 'fanout',
    i_default_queue  text default null)
returns @extschema@.topics
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: create_topic(i_name, i_mode, i_default_queue)
--
--      Creates a topic: mode 'fanout' (publish/subscribe: a copy to every
--      matching subscription) or 'route' (the first matching rule's queue,
--      else i_default_queue, else an error). Names: [a-z][a-z0-9_.]{0,62}.
--
-- Returns:
--      the topics row. Errors: 22023 bad name or mode, 42710 exists,
--      TQ002 unknown default queue.
-- ----------------------------------------------------------------------
declare
    t @extschema@.topics;
    v_default int;
begin
    if not @extschema@._may(null, 'admin') then
        perform @extschema@._deny(null, 'admin');
    end if;
    if i_name is null or i_name !~ '^[a-z][a-z0-9_.]{0,62}$' then
        raise exception 'invalid topic name "%": use 1 to 63 characters '
            'a-z, 0-9, _ and ., starting with a letter', left(i_name, 100)
            using errcode = '22023';
    end if;
    if i_mode is null or i_mode not in ('fanout', 'route') then
        raise exception 'mode must be fanout or route (got "%")',
            left(i_mode, 100) using errcode = '22023';
    end if;
    if i_default_queue is not null then
        if i_mode <> 'route' then
            raise exception 'a default queue is only for route topics'
                using errcode = '22023';
        end if;
        v_default := (@extschema@._queue(i_default_queue)).queue_id;
    end if;
    perform pg_advisory_xact_lock(hashtext('txq.topic:' || i_name));
    if exists (select 1 from @extschema@.topics where name = i_name) then
        raise exception 'topic "%" already exists', i_name
            using errcode = '42710';
    end if;
    insert into @extschema@.topics (name, mode, default_queue_id)
    values (i_name, i_mode, v_default)
    returning * into t;
    insert into @extschema@.audit_log (action, detail)
    values ('create_topic', i_name || ' (' || i_mode || ')');
    return t;
end
$$;
