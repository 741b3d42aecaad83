create or replace function @extschema@.cancel_move_task(i_task bigint)
returns bigint
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: cancel_move_task(i_task)
--
--      Cancels a running move task: the messages it moved stay where they
--      went, the others stay in its source queue. A batch in progress
--      finishes first (it holds the task's row), so the task goes from
--      RUNNING to CANCELLED at once. Needs operate on its source queue.
--
-- Returns:
--      how many messages it had moved. Errors: TQ002 no such task, 55000
--      not running.
-- ----------------------------------------------------------------------
declare
    t @extschema@.move_tasks;
    v_name text;
begin
    select * into t from @extschema@.move_tasks where task_id = i_task
       for update;
    if not found then
        raise exception 'move task % not found', i_task
            using errcode = 'TQ002';
    end if;
    select q.name into v_name from @extschema@.queues q
     where q.queue_id = t.source_queue_id;
    if not @extschema@._may(t.source_queue_id, 'operate') then
        perform @extschema@._deny(v_name, 'operate');
    end if;
    if t.status <> 'RUNNING' then
        raise exception 'move task % is %, not RUNNING: only a running task '
            'can be cancelled', i_task, t.status using errcode = '55000';
    end if;
    update @extschema@.move_tasks
       set status = 'CANCELLED', finished_at = now()
     where task_id = i_task;
    insert into @extschema@.audit_log (action, queue, detail)
    values ('cancel_move_task', v_name,
            format('task %s, after %s of %s messages', i_task, t.moved,
                   t.to_move));
    return t.moved;
end
$$;
