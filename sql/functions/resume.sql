create or replace function @extschema@.resume(
    i_queue text, i_reason text default null)
returns boolean
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: resume(i_queue, i_reason)
--
--      Resumes a paused queue: its messages are delivered again, and the
--      consumers waiting on it are woken at commit. Audited (action
--      'resume'). Needs operate on the queue.
--
-- Returns:
--      true if the queue was paused, false if it was running already.
--      Errors: TQ002 unknown queue, 42501 not granted.
-- ----------------------------------------------------------------------
declare
    q @extschema@.queues;
begin
    q := @extschema@._queue(i_queue);
    if not @extschema@._may(q.queue_id, 'operate') then
        perform @extschema@._deny(q.name, 'operate');
    end if;
    update @extschema@.queues set paused = false
     where queue_id = q.queue_id and paused;
    if not found then
        return false;
    end if;
    insert into @extschema@.audit_log (action, queue, detail)
    values ('resume', q.name, left(i_reason, 2000));
    if q.waiting then
        perform @extschema@._wake(q);
    end if;
    return true;
end
$$;
