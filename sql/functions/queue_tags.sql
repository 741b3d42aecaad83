create or replace function @extschema@.queue_tags(i_queue text)
returns jsonb
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: queue_tags(i_queue)
--
--      A queue's tags (SQS's ListQueueTags), as a JSON object of key to
--      value ({} when none). Takes monitor on the queue.
--
-- Returns:
--      the tags. Errors: 42501 no monitor, TQ002 unknown queue.
-- ----------------------------------------------------------------------
declare
    q @extschema@.queues;
begin
    q := @extschema@._queue(i_queue);
    if not @extschema@._may(q.queue_id, 'monitor') then
        perform @extschema@._deny(q.name, 'monitor');
    end if;
    return coalesce((select jsonb_object_agg(t.key, t.value)
                       from @extschema@.queue_tags t
                      where t.queue_id = q.queue_id), '{}');
end
$$;
