create or replace function @extschema@.receive(
    i_queue               text,
    i_max                 int default 1,
    i_visibility_timeout  interval default null,
    i_now                 timestamptz default null)
returns setof @extschema@.message
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: receive(i_queue, i_max, i_visibility_timeout, i_now)
--
--      Claims up to i_max ready messages: each gets attempts + 1 and is
--      invisible to other consumers for the visibility timeout (the
--      queue's unless given). Rows another transaction holds are skipped
--      (SKIP LOCKED). Inside a transaction that later rolls back nothing
--      happened; committed on its own (autocommit, or txq_claim) the
--      attempt is durable before any handler runs.
--      A fifo queue gives at most one message per group, the group's
--      oldest, and none of a group that has one in flight.
--
-- Returns:
--      txq.message rows; visible_until is the claim's end. Ack or fail
--      with (id, attempts) so a lapsed claim cannot touch a newer one.
-- ----------------------------------------------------------------------
declare
    q @extschema@.queues;
    v_now timestamptz := coalesce(i_now, now());
    v_vt interval;
begin
    q := @extschema@._queue(i_queue);
    if i_max is null or i_max not between 1 and 100000 then
        raise exception 'max must be between 1 and 100000 (got %)', i_max
            using errcode = '22023';
    end if;
    perform @extschema@._check_interval('visibility_timeout',
        i_visibility_timeout, '0.001 seconds', '12 hours');
    v_vt := coalesce(i_visibility_timeout, q.visibility_timeout);
    if q.expire_after is not null then
        perform @extschema@._expire(q, v_now);
    end if;

    if q.kind = 'standard' then
        return query
        with c as (
            select m.id from @extschema@.messages m
             where m.queue_id = q.queue_id and m.visible_at <= v_now
               and (m.expires_at is null or m.expires_at > v_now)
             order by m.priority desc, m.visible_at, m.id
             limit i_max
               for update skip locked)
        update @extschema@.messages m
           set attempts = m.attempts + 1, visible_at = v_now + v_vt,
               claimed_at = v_now, claimed_by = pg_backend_pid()
          from c
         where m.id = c.id
        returning m.id, q.name, m.attempts, m.headers, m.body,
                  m.correlation_id, m.reply_to, m.priority, m.group_key,
                  m.dedup_id, m.enqueued_at, m.visible_at;
    else
        -- A group is free when its oldest message (the lowest id, which an
        -- in-flight or retrying message still is) is ready. Lower ids of
        -- the group that another transaction deletes uncommitted still
        -- block, so order holds under concurrency.
        return query
        with c as (
            select m.id from @extschema@.messages m
             where m.queue_id = q.queue_id and m.visible_at <= v_now
               and (m.expires_at is null or m.expires_at > v_now)
               and not exists (
                   select 1 from @extschema@.messages o
                    where o.queue_id = m.queue_id
                      and o.group_key = m.group_key and o.id < m.id)
             order by m.id
             limit i_max
               for update skip locked)
        update @extschema@.messages m
           set attempts = m.attempts + 1, visible_at = v_now + v_vt,
               claimed_at = v_now, claimed_by = pg_backend_pid()
          from c
         where m.id = c.id
        returning m.id, q.name, m.attempts, m.headers, m.body,
                  m.correlation_id, m.reply_to, m.priority, m.group_key,
                  m.dedup_id, m.enqueued_at, m.visible_at;
    end if;
end
$$;
