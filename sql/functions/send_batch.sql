-- The signature before its integer arguments became bigint (a value
-- past 2^31 then met no function at all, not a range error).
drop function if exists @extschema@.send_batch(text,bytea[],jsonb[],interval,int,text[],text[],text[],text,timestamptz);
create or replace function @extschema@.send_batch(
    i_queue            text,
    i_bodies           bytea[],
    i_headers          jsonb[] default null,
    i_delay            interval default null,
    i_priority         bigint default null,
    i_groups           text[] default null,
    i_dedup_ids        text[] default null,
    i_correlation_ids  text[] default null,
    i_reply_to         text default null,
    i_now              timestamptz default null)
returns setof bigint
language plpgsql security definer
set search_path = pg_catalog, pg_temp
-- Generic plans: a custom plan is re-made on every call, which costs more
-- than these statements take to run; their plans do not depend on values.
set plan_cache_mode = force_generic_plan
as $$
-- ----------------------------------------------------------------------
-- Function: send_batch(i_queue, i_bodies, ...)
--
--      Enqueues many messages in one statement. The per-message arrays
--      (headers, groups, dedup ids, correlation ids) are null or as long
--      as i_bodies; delay, priority and reply_to apply to all. Any bad
--      element fails the whole batch and names its position (1-based).
--
-- Returns:
--      the ids, in the order of i_bodies. TQ005 for an encrypted queue
--      (send_sealed()).
-- ----------------------------------------------------------------------
declare
    q @extschema@.queues;
    v_now timestamptz := case when i_now is null then now()
                          else @extschema@._clock(i_now) end;
    n int := coalesce(array_length(i_bodies, 1), 0);
    i int;
    -- The current rotating partition, read once for the batch: as the
    -- column's default it is read again for every row.
    v_part smallint := (pg_catalog.pg_sequence_last_value(
        '@extschema@.messages_gen'::regclass) % 2)::smallint;
begin
    q := @extschema@._queue(i_queue);
    if not @extschema@._may(q.queue_id, 'send') then
        perform @extschema@._deny(q.name, 'send');
    end if;
    if q.encrypt then
        perform @extschema@._refuse_plain(q.name);
    end if;
    if i_bodies is null or n = 0 then
        raise exception 'bodies must be a non-empty array'
            using errcode = '22023';
    end if;
    if array_ndims(i_bodies) <> 1
       or (i_headers is not null and
           coalesce(array_length(i_headers, 1), 0) <> n)
       or (i_groups is not null and
           coalesce(array_length(i_groups, 1), 0) <> n)
       or (i_dedup_ids is not null and
           coalesce(array_length(i_dedup_ids, 1), 0) <> n)
       or (i_correlation_ids is not null and
           coalesce(array_length(i_correlation_ids, 1), 0) <> n) then
        raise exception 'headers, groups, dedup_ids and correlation_ids '
            'must be null or have one element per body (% bodies)', n
            using errcode = '22023';
    end if;

    select b.i into i
      from unnest(i_bodies) with ordinality as b(body, i)
     where b.body is null or octet_length(b.body) > q.max_body_bytes
     limit 1;
    if found then
        raise exception 'body % of the batch: % bytes, null or above '
            'max_body_bytes % of queue "%"', i,
            octet_length(i_bodies[i]), q.max_body_bytes, q.name
            using errcode = '54000';
    end if;
    if i_headers is not null then
        select h.i into i
          from unnest(i_headers) with ordinality as h(hdr, i)
         where h.hdr is not null and jsonb_typeof(h.hdr) <> 'object'
         limit 1;
        if found then
            raise exception 'headers % of the batch must be a JSON object', i
                using errcode = '22023';
        end if;
    end if;
    perform @extschema@._check_send(q, null, i_delay, i_priority, null,
        null, null, i_reply_to);

    if q.kind = 'fifo' or (i_dedup_ids is not null and exists (
           select from unnest(i_dedup_ids) d where d is not null)) then
        -- Order and dedup are per message; keep send's exact semantics.
        for i in 1 .. n loop
            return next @extschema@.send(i_queue, i_bodies[i], i_headers[i],
                i_delay, i_priority, i_groups[i], i_dedup_ids[i],
                i_correlation_ids[i], i_reply_to, i_now);
        end loop;
        return;
    end if;
    return query
    insert into @extschema@.messages (queue_id, priority, visible_at,
        enqueued_at, expires_at, group_key, correlation_id, reply_to,
        headers, body, part)
    select q.queue_id, coalesce(i_priority, 0),
           v_now + coalesce(i_delay, q.delay), v_now,
           v_now + q.expire_after,
           i_groups[b.i], i_correlation_ids[b.i], i_reply_to,
           coalesce(i_headers[b.i], '{}'), b.body, v_part
      from unnest(i_bodies) with ordinality as b(body, i)
     order by b.i
    returning id;
    if q.waiting then
        perform @extschema@._wake(q);
    end if;
end
$$;
