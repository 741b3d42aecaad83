create or replace function @extschema@.pause(
    i_queue text, i_reason text default null)
returns boolean
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: pause(i_queue, i_reason)
--
--      Pauses a queue: it goes on taking sends, and delivers nothing
--      (receive, take, pop and the worker get no message) until resume().
--      Messages already in flight finish as usual. Audited (action
--      'pause', with the reason when given). Needs operate on the queue.
--
-- Returns:
--      true if the queue was running, false if it was paused already.
--      Errors: TQ002 unknown queue, 42501 not granted.
-- ----------------------------------------------------------------------
declare
    q @extschema@.queues;
begin
    q := @extschema@._queue(i_queue);
    if not @extschema@._may(q.queue_id, 'operate') then
        perform @extschema@._deny(q.name, 'operate');
    end if;
    update @extschema@.queues set paused = true
     where queue_id = q.queue_id and not paused;
    if not found then
        return false;
    end if;
    insert into @extschema@.audit_log (action, queue, detail)
    values ('pause', q.name, left(i_reason, 2000));
    return true;
end
$$;
