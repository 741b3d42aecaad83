create or replace function @extschema@.move_tasks_to_run()
returns table (task_id bigint, started_by text, max_per_second int)
language sql stable security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: move_tasks_to_run()
--
--      The running move tasks that the session's login may run as the
--      role that started them (it may SET ROLE to it: txq-sqs's gateway
--      login runs its keys' tasks this way). Nothing else of a task is
--      shown; run_move_task() checks the role's grants.
-- ----------------------------------------------------------------------
    -- the bare role name, for set_config('role', ...)
    select t.task_id, pg_catalog.pg_get_userbyid(t.started_by::oid)::text,
           t.max_per_second
      from @extschema@.move_tasks t
     where t.status = 'RUNNING'
       and pg_has_role(session_user, t.started_by::oid, 'member')
     order by t.task_id
$$;
