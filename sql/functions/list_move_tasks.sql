create or replace function @extschema@.list_move_tasks(
    i_source  text,
    i_limit   bigint default 10)
returns setof @extschema@.move_tasks
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: list_move_tasks(i_source, i_limit)
--
--      The most recent move tasks of source queue i_source, newest first,
--      at most i_limit (1 to 1000). Needs operate on i_source (roles
--      without SELECT on move_tasks, such as txq-sqs's keys, read them
--      here).
--
-- Returns:
--      move_tasks rows. Errors: TQ002 unknown queue, 22023 bad limit,
--      42501.
-- ----------------------------------------------------------------------
declare
    s @extschema@.queues;
begin
    s := @extschema@._queue(i_source);
    if not @extschema@._may(s.queue_id, 'operate') then
        perform @extschema@._deny(s.name, 'operate');
    end if;
    if i_limit is null or i_limit not between 1 and 1000 then
        raise exception 'limit must be between 1 and 1000 (got %)', i_limit
            using errcode = '22023';
    end if;
    return query
        select * from @extschema@.move_tasks t
         where t.source_queue_id = s.queue_id
         order by t.task_id desc
         limit i_limit;
end
$$;
