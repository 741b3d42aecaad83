create or replace function @extschema@.untag_queue(
    i_queue  text,
    i_keys   text[])
returns int
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: untag_queue(i_queue, i_keys)
--
--      Removes tags from a queue (SQS's UntagQueue); a key the queue does
--      not have is no error. Takes operate on the queue.
--
-- Returns:
--      how many tags were removed. Errors: 42501 no operate, TQ002
--      unknown queue, 22023 no keys.
-- ----------------------------------------------------------------------
declare
    q @extschema@.queues;
    n int;
begin
    q := @extschema@._queue(i_queue);
    if not @extschema@._may(q.queue_id, 'operate') then
        perform @extschema@._deny(q.name, 'operate');
    end if;
    if i_keys is null then
        raise exception 'keys must be an array' using errcode = '22023';
    end if;
    with d as (
        delete from @extschema@.queue_tags t
         where t.queue_id = q.queue_id and t.key = any (i_keys)
        returning 1)
    select count(*) into n from d;
    return n;
end
$$;
