create or replace function @extschema@.requeue_all(i_queue text)
returns int
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: requeue_all(i_queue)
--
--      Requeues every dead letter of a queue (see requeue).
--
-- Returns:
--      how many were requeued. Errors: TQ002 unknown queue.
-- ----------------------------------------------------------------------
declare
    q @extschema@.queues;
    v_id bigint;
    n int := 0;
begin
    q := @extschema@._queue(i_queue);
    if not @extschema@._may(q.queue_id, 'operate') then
        perform @extschema@._deny(q.name, 'operate');
    end if;
    for v_id in
        select id from @extschema@.dead_letter_messages
         where queue_id = q.queue_id order by id for update
    loop
        perform @extschema@.requeue(v_id);
        n := n + 1;
    end loop;
    return n;
end
$$;
