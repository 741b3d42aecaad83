create or replace function @extschema@.purge(i_queue text, i_reason text)
returns bigint
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: purge(i_queue, i_reason)
--
--      Empties a queue: every message in it, ready, delayed, retrying or
--      in flight, is deleted; the queue keeps its settings, its dead
--      letters, its archive and its counters (the purged count as
--      discarded). A reason is required; audit_log gets one row (action
--      'purge') with it, the count and who did it. Messages other
--      transactions hold by their locks are waited for; a send that
--      commits after the purge's snapshot stays.
--
-- Returns:
--      how many messages were deleted. Errors: 22023 no reason, TQ002
--      unknown queue.
-- ----------------------------------------------------------------------
declare
    q @extschema@.queues;
    n bigint;
begin
    if i_reason is null or btrim(i_reason) = '' then
        raise exception 'a reason is required to purge a queue'
            using errcode = '22023';
    end if;
    q := @extschema@._queue(i_queue);
    if not @extschema@._may(q.queue_id, 'operate') then
        perform @extschema@._deny(q.name, 'operate');
    end if;
    with d as (
        delete from @extschema@.messages m
         where m.queue_id = q.queue_id
        returning m.id),
    e as (
        delete from @extschema@.message_errors x
         using d where x.message_id = d.id)
    select count(*) into n from d;
    if n > 0 then
        perform @extschema@._count(q.queue_id, 'discarded', n);
    end if;
    insert into @extschema@.audit_log (action, queue, detail)
    values ('purge', q.name,
            format('%s messages: %s', n, left(i_reason, 2000)));
    return n;
end
$$;
