create or replace function @extschema@.unschedule(i_name text)
returns boolean
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: unschedule(i_name)
--
--      Removes a schedule (see schedule()). Needs operate on its queue;
--      audited.
--
-- Returns:
--      true if it existed, false if not.
-- ----------------------------------------------------------------------
declare
    v_queue_id int;
    v_queue text;
begin
    select s.queue_id, q.name into v_queue_id, v_queue
      from @extschema@.cron_schedules s
      join @extschema@.queues q using (queue_id)
     where s.name = i_name;
    if not found then
        return false;
    end if;
    if not @extschema@._may(v_queue_id, 'operate') then
        perform @extschema@._deny(v_queue, 'operate');
    end if;
    delete from @extschema@.cron_schedules where name = i_name;
    insert into @extschema@.audit_log (action, queue, detail)
    values ('unschedule', v_queue, i_name);
    return true;
end
$$;
