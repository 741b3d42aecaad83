create or replace function @extschema@._move_refusal(
    i_queue_id int, i_queue text, i_privilege text, i_own boolean)
returns text
language plpgsql stable
as $$
-- ----------------------------------------------------------------------
-- Function: _move_refusal(i_queue_id, i_queue, i_privilege, i_own)
--
--      Whether the caller of run_move_task() holds i_privilege on the
--      queue (internal). When it lacks it: a caller acting as the task's
--      role (i_own) gets the reason to fail the task with; another caller
--      the refusal itself (42501, _deny).
--
-- Returns:
--      null when held, else the failure reason.
-- ----------------------------------------------------------------------
begin
    if @extschema@._may(i_queue_id, i_privilege) then
        return null;
    end if;
    if not i_own then
        perform @extschema@._deny(i_queue, i_privilege);
    end if;
    return format('role %s lacks "%s" on queue "%s"', @extschema@._caller(),
                  i_privilege, i_queue);
end
$$;
