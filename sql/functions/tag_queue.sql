create or replace function @extschema@.tag_queue(
    i_queue  text,
    i_tags   jsonb)
returns int
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: tag_queue(i_queue, i_tags)
--
--      Sets tags on a queue: free key/value pairs that mean nothing to
--      txq (SQS's TagQueue). A key given again replaces its value. At
--      most 50 tags per queue; keys 1-128 characters, not beginning with
--      "aws:" (reserved, as in SQS), values up to 256 characters. Takes
--      operate on the queue. Nothing changes unless every tag is valid.
--
-- Parameters:
--      i_queue - queue name
--      i_tags  - a JSON object of key to string value
--
-- Returns:
--      how many tags the queue has now. Errors: 42501 no operate, TQ002
--      unknown queue, 22023 a bad tag or too many.
-- ----------------------------------------------------------------------
declare
    q @extschema@.queues;
    v_bad text;
    n int;
begin
    q := @extschema@._queue(i_queue);
    if not @extschema@._may(q.queue_id, 'operate') then
        perform @extschema@._deny(q.name, 'operate');
    end if;
    if i_tags is null or jsonb_typeof(i_tags) <> 'object' then
        raise exception 'tags must be a JSON object of key to value'
            using errcode = '22023';
    end if;
    select t.key into v_bad from jsonb_each(i_tags) t
     where jsonb_typeof(t.value) <> 'string'
        or length(t.key) not between 1 and 128
        or length(t.value #>> '{}') > 256
        or lower(t.key) like 'aws:%'
     limit 1;
    if found then
        raise exception 'invalid tag "%": keys are 1 to 128 characters, '
                        'not beginning with "aws:", values strings of up '
                        'to 256 characters', left(v_bad, 128)
            using errcode = '22023';
    end if;
    -- One tagger at a time per queue: the count below is then exact.
    perform 1 from @extschema@.queues where queue_id = q.queue_id
       for update;
    insert into @extschema@.queue_tags (queue_id, key, value)
    select q.queue_id, t.key, t.value #>> '{}' from jsonb_each(i_tags) t
    on conflict (queue_id, key) do update set value = excluded.value;
    select count(*) into n from @extschema@.queue_tags
     where queue_id = q.queue_id;
    if n > 50 then
        raise exception 'queue "%" would have % tags: at most 50', q.name, n
            using errcode = '22023';
    end if;
    return n;
end
$$;
