-- The signature before its integer arguments became bigint (a value
-- past 2^31 then met no function at all, not a range error).
drop function if exists @extschema@.pop(text,int,timestamptz);
create or replace function @extschema@.pop(
    i_queue  text,
    i_max    bigint default 1,
    i_now    timestamptz default null)
returns setof @extschema@.message
language plpgsql security definer
set search_path = pg_catalog, pg_temp
-- As take: generic plans, an ordered walk of messages_ready_idx that stops
-- after i_max rows, no JIT (see receive.sql).
set plan_cache_mode = force_generic_plan
set enable_bitmapscan = off
set enable_seqscan = off
set jit = off
as $$
-- ----------------------------------------------------------------------
-- Function: pop(i_queue, i_max, i_now)
--
--      Takes and acknowledges up to i_max ready messages in one statement,
--      in the caller's transaction (pgmq's pop): they leave the queue
--      when it commits (into the archive when the queue keeps one, counted
--      as acked), and come back, untouched, if it rolls back. For work
--      that commits or rolls back as a whole; a message that must fail on
--      its own (retry, dead letter) needs take or receive, then fail.
--      A fifo queue gives at most one message per group, the group's
--      oldest, as receive does.
--
-- Returns:
--      txq.message rows; attempts is the attempt this delivery counted,
--      visible_until null. Errors: TQ002 unknown queue, 22023 bad max.
-- ----------------------------------------------------------------------
declare
    q @extschema@.queues;
    v_now timestamptz := case when i_now is null then now()
                          else @extschema@._clock(i_now) end;
    v_ids bigint[];
    v_attempts int[];
    v_n bigint;
begin
    -- _queue() inlined: this is the hot path.
    select * into q from @extschema@.queues where name = i_queue;
    if not found then
        q := @extschema@._queue(i_queue);  -- raises the error
    end if;
    if not @extschema@._may(q.queue_id, 'receive') then
        perform @extschema@._deny(q.name, 'receive');
    end if;
    if i_max is null or i_max not between 1 and 100000 then
        raise exception 'max must be between 1 and 100000 (got %)', i_max
            using errcode = '22023';
    end if;
    -- A paused queue delivers nothing (pause()).
    if q.paused then
        return;
    end if;
    if q.kind = 'fifo' then
        -- The group heads, claimed as receive claims them; then acked.
        select coalesce(array_agg(r.id), '{}'),
               coalesce(array_agg(r.attempts), '{}')
          into v_ids, v_attempts
          from @extschema@.receive(i_queue, i_max, null, i_now) r;
        return query
            select m.id, q.name, m.attempts, m.headers,
                   coalesce(m.body, (select b.body from @extschema@.bodies b
                                      where b.id = m.body_id)),
                   m.correlation_id, m.reply_to, m.priority, m.group_key,
                   m.dedup_id, m.enqueued_at, null::timestamptz
              from @extschema@.messages m
             where m.id = any (v_ids)
             order by m.priority desc, m.id;
        perform @extschema@.ack(v_ids, v_attempts, i_now);
        return;
    end if;
    if q.expire_after is not null then
        perform @extschema@._expire(q, v_now);
    end if;
    -- One DELETE of the front of the queue, by an array of ids (no plan
    -- can join it to a scan of the table); popped messages that had failed
    -- before leave their error history.
    if q.archive_for is null then
        -- No archive (as in ack): no archive insert in the statement. Set
        -- up on every call even when its filter is false, it cost W3b's
        -- 4 consumers 6-9% of their throughput (docs/performance.md).
        return query
            with d as (
                delete from @extschema@.messages m
                 where m.id = any (array(
                           select s.id from @extschema@.messages s
                            where s.queue_id = q.queue_id
                              and s.visible_at <= v_now
                              and (s.expires_at is null
                                   or s.expires_at > v_now)
                            order by s.priority desc, s.visible_at, s.id
                            limit i_max
                              for update skip locked))
                returning m.id, m.attempts, m.headers,
                          coalesce(m.body, (select b.body
                              from @extschema@.bodies b
                             where b.id = m.body_id)) as body,
                          m.correlation_id, m.reply_to, m.priority,
                          m.group_key, m.dedup_id, m.enqueued_at,
                          m.visible_at,
                          m.last_error is not null or m.attempts > 0
                              as failed),
            hist as (
                delete from @extschema@.message_errors e
                 where e.message_id = any (array(
                           select d.id from d where d.failed)))
            select d.id, q.name, d.attempts + 1, d.headers, d.body,
                   d.correlation_id, d.reply_to, d.priority, d.group_key,
                   d.dedup_id, d.enqueued_at, null::timestamptz
              from d
             order by d.priority desc, d.visible_at, d.id;
    else
        -- The same statement with the archive insert.
        return query
            with d as (
                delete from @extschema@.messages m
                 where m.id = any (array(
                           select s.id from @extschema@.messages s
                            where s.queue_id = q.queue_id
                              and s.visible_at <= v_now
                              and (s.expires_at is null
                                   or s.expires_at > v_now)
                            order by s.priority desc, s.visible_at, s.id
                            limit i_max
                              for update skip locked))
                returning m.id, m.attempts, m.headers,
                          coalesce(m.body, (select b.body
                              from @extschema@.bodies b
                             where b.id = m.body_id)) as body,
                          m.correlation_id, m.reply_to, m.priority,
                          m.group_key, m.dedup_id, m.enqueued_at,
                          m.visible_at,
                          m.last_error is not null or m.attempts > 0
                              as failed),
            arch as (
                insert into @extschema@.archive (id, queue_id, attempts,
                    enqueued_at, finished_at, outcome, correlation_id,
                    headers, body)
                select d.id, q.queue_id, d.attempts + 1, d.enqueued_at,
                       v_now, 'acked', d.correlation_id, d.headers, d.body
                  from d),
            hist as (
                delete from @extschema@.message_errors e
                 where e.message_id = any (array(
                           select d.id from d where d.failed)))
            select d.id, q.name, d.attempts + 1, d.headers, d.body,
                   d.correlation_id, d.reply_to, d.priority, d.group_key,
                   d.dedup_id, d.enqueued_at, null::timestamptz
              from d
             order by d.priority desc, d.visible_at, d.id;
    end if;
    get diagnostics v_n = row_count;
    if v_n = 0 then
        return;
    end if;
    update @extschema@.queue_counters set acked = acked + v_n
     where queue_id = q.queue_id
       and slot = @extschema@._counter_slot();
    if not found then
        perform @extschema@._count(q.queue_id, 'acked', v_n);
    end if;
end
$$;
