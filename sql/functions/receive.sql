-- The signature before its integer arguments became bigint (a value
-- past 2^31 then met no function at all, not a range error).
drop function if exists @extschema@.receive(text,int,interval,timestamptz);
create or replace function @extschema@.receive(
    i_queue               text,
    i_max                 bigint default 1,
    i_visibility_timeout  interval default null,
    i_now                 timestamptz default null)
returns setof @extschema@.message
language plpgsql security definer
set search_path = pg_catalog, pg_temp
-- Generic plans: a custom plan is re-made on every call, which costs more
-- than these statements take to run; their plans do not depend on values.
set plan_cache_mode = force_generic_plan
-- The claim must walk messages_ready_idx in order and stop after i_max rows
-- whatever the statistics say: a bitmap scan (chosen when the table looked
-- small at the last analyze) reads every entry of the queue, dead ones
-- included, and sorts them: the deep-backlog slowdown of other queues.
set enable_bitmapscan = off
set enable_seqscan = off
-- No JIT: the generic plan's estimated cost grows with the table (it
-- assumes a third of the queue matches) and crosses jit_above_cost near
-- 1M messages, and then every claim compiled ~90 expressions first:
-- measured 40-50 ms per 1-message claim with 1M queued, 0.3-0.5 ms
-- without (the claim reads only the front of the index).
set jit = off
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
    v_now timestamptz := case when i_now is null then now()
                          else @extschema@._clock(i_now) end;
    v_vt interval;
    v_fifo boolean;
    r record;
    v_left bigint := i_max;
    v_buried int;
    -- The claim frontier (docs/design.md, "Claims under a held snapshot").
    c refcursor;
    v_key text;
    v_st text[];
    v_t0 timestamptz;
    v_sweep boolean;
    v_all boolean := false;
    lv_p int[];
    v_known int[];
    lv_v timestamptz[];
    lv_id bigint[];
    v_i int;
    v_asked int;
    v_got int;
    v_floor timestamptz;
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
    if i_visibility_timeout is not null then
        perform @extschema@._check_interval('visibility_timeout',
            i_visibility_timeout, '0.001 seconds', '12 hours');
    end if;
    v_vt := coalesce(i_visibility_timeout, q.visibility_timeout);
    v_fifo := q.kind = 'fifo';
    if q.expire_after is not null then
        perform @extschema@._expire(q, v_now);
    end if;

    -- Exhausted messages are buried, not returned: claim again for the
    -- places they took, so a ready message behind them is not reported as
    -- "nothing to receive".
    loop
        v_buried := 0;
        if not v_fifo then
            -- Standard queue: the ready messages of each priority level,
            -- highest level first, each level from this session's claim
            -- frontier on (below). Plan safety (docs/performance.md,
            -- "Claim plans"): the UPDATE reaches the claimed rows only
            -- through the array of their ids (a primary-key probe each),
            -- whatever join the planner picks; c numbers them in claim
            -- order for the result.
            if v_key is null then
                v_key := @extschema@._front_key(q.queue_id);
                v_t0 := clock_timestamp();
                v_st := nullif(current_setting(v_key, true), '')::text[];
                v_known := null;
                if v_st is not null and v_st[3] is distinct from 'all' then
                    for v_i in 1 .. (cardinality(v_st) - 2) / 3 loop
                        v_known[v_i] := v_st[3 * v_i]::int;
                    end loop;
                end if;
                v_sweep := v_st is null
                    or v_t0 > v_st[1]::timestamptz
                        + least(greatest(20 * v_st[2]::float8, 0.05), 30)
                          * interval '1 second';
                if v_sweep then
                    lv_p := @extschema@._front_levels(q.queue_id,
                                                      v_known);
                    v_all := lv_p is null;
                    for v_i in 1 .. coalesce(cardinality(lv_p), 0) loop
                        lv_v[v_i] := '-infinity';
                        lv_id[v_i] := 0;
                    end loop;
                elsif v_st[3] = 'all' then
                    v_all := true;
                else
                    lv_p := v_known;
                    for v_i in 1 .. (cardinality(v_st) - 2) / 3 loop
                        lv_v[v_i] := v_st[3 * v_i + 1]::timestamptz;
                        lv_id[v_i] := v_st[3 * v_i + 2]::bigint;
                    end loop;
                end if;
                -- A frontier never passes this: a send whose transaction
                -- began up to 0.1 s ago may still commit behind it.
                v_floor := v_now - interval '0.1 seconds';
            end if;
        end if;
        v_i := 1;
        -- One claim statement a pass: a fifo queue's, or a standard
        -- queue's for each priority level (one for all of them when
        -- v_all); one loop over the rows of any of them. All three
        -- cursors give the same columns (pos: a standard level's frontier).
        -- They stay three statements with the same UPDATE at their end:
        -- one statement with the three choices behind one-time filters
        -- (only one enabled) made every claim pay for setting up the
        -- other two's plan nodes, 3,200-3,900 claims/s against
        -- 4,800-7,000 (300,000 queued, 2 clients, same run).
        while v_left > 0
              and v_i <= case when v_fifo or v_all then 1
                              else coalesce(cardinality(lv_p), 0) end
        loop
            v_asked := v_left;
            v_got := 0;
            if v_fifo then
                -- A fifo group is free when its oldest message (the lowest
                -- id, which an in-flight or retrying message still is) is
                -- ready; a lower id of the group that another transaction
                -- deletes uncommitted still blocks, so order holds under
                -- concurrency.
                open c for
                    -- FIFO (docs/design.md, "FIFO claims"): the cost of a claim
                    -- must not grow with the backlog behind busy groups. First the
                    -- front of messages_ready_idx, at most v_left + 32 entries:
                    -- the heads there are the oldest free heads of the queue. A
                    -- head is the lowest id of its group still present, so one in
                    -- flight, retrying, or deleted by an uncommitted ack blocks the
                    -- rest of its group.
                    -- Plan safety: a generic plan made when the table was small
                    -- must not read the whole queue later. So each step has one
                    -- access path: candidates are passed on as ctids (a TID scan),
                    -- the head test is a scalar subquery (never a hash join), and
                    -- the readiness rechecks, which must stay for a row claimed by
                    -- a transaction that committed after this statement's
                    -- snapshot, are written "is true" so that no index scan can
                    -- take them as its condition.
                    with recursive fifo_walk as (
                        select w.ctid, w.id, w.group_key
                          from @extschema@.messages w
                         where w.queue_id = q.queue_id and w.visible_at <= v_now
                           and (w.expires_at is null or w.expires_at > v_now)
                         order by w.priority desc, w.visible_at, w.id
                         limit v_left + 32),
                    -- A ctid names a row of one partition: the same ctid in
                    -- another partition is another row, so the TID scan's rows
                    -- must also carry one of the candidates' ids (a message has
                    -- one version in this statement's snapshot).
                    fifo_heads as (
                        select w.ctid, w.id from fifo_walk w
                         where w.id = (
                             select o.id
                               from @extschema@.messages o
                              where o.queue_id = q.queue_id
                                and o.group_key = w.group_key
                              order by o.group_key, o.id
                              limit 1)),
                    fifo_front as (
                        select m.id, m.claimed_at as prev
                          from @extschema@.messages m
                         where m.ctid = any (array(select h.ctid from fifo_heads h))
                           and m.id = any (array(select h.id from fifo_heads h))
                           and (m.visible_at <= v_now) is true
                           and (m.expires_at is null or m.expires_at > v_now)
                         order by m.priority desc, m.visible_at, m.id
                         limit v_left
                           for update skip locked),
                    -- Not enough there, and the walk stopped short of the end of
                    -- the ready messages (the front is the backlog of busy
                    -- groups): the head of every group, by a loose index scan of
                    -- messages_group_idx (one probe per group, not one per
                    -- message), oldest ready heads first.
                    group_heads (group_key, tid, id) as (
                        (select o.group_key, o.ctid, o.id
                           from @extschema@.messages o
                          where o.queue_id = q.queue_id
                            and o.group_key is not null
                          order by o.group_key, o.id
                          limit 1)
                        union all
                        select n.group_key, n.ctid, n.id
                          from group_heads h cross join lateral (
                              select o.group_key, o.ctid, o.id
                                from @extschema@.messages o
                               where o.queue_id = q.queue_id
                                 and o.group_key > h.group_key
                               order by o.group_key, o.id
                               limit 1) n),
                    fifo_rest as (
                        select m.id, m.claimed_at as prev
                          from @extschema@.messages m
                         where m.ctid = any (array(select h.tid from group_heads h))
                           and m.id = any (array(select h.id from group_heads h))
                           and m.id <> all (array(select f.id from fifo_front f))
                           and (m.visible_at <= v_now) is true
                           and (m.expires_at is null or m.expires_at > v_now)
                         order by m.priority desc, m.visible_at, m.id
                         limit case when (select count(*) from fifo_walk)
                                         < v_left + 32 then 0
                                    else v_left - (select count(*) from fifo_front)
                               end
                           for update skip locked),
                    c as (select f.*, row_number() over () as ord
                            from (select * from fifo_front union all
                                  select * from fifo_rest) f),
                    u as (
                        update @extschema@.messages m
                           set attempts = m.attempts + 1, visible_at = v_now + v_vt,
                               claimed_at = v_now,
                               claimed_by = @extschema@._claimant()
                          from c
                         where m.id = any (array(select c.id from c))
                           and m.id = c.id
                        returning m.id, m.attempts, m.headers,
                                  coalesce(m.body, (select b.body
                                      from @extschema@.bodies b
                                     where b.id = m.body_id)) as body,
                                  m.correlation_id, m.reply_to, m.priority,
                                  m.group_key, m.dedup_id, m.enqueued_at,
                                  m.visible_at, c.prev, null::timestamptz as pos,
                                  c.ord)
                    select * from u order by u.ord;
            elsif v_all then
                -- Many levels: the whole queue in claim order.
                open c for
                    with c as (
                        select x.id, x.prev, x.pos,
                               row_number() over () as ord
                          from (select s.id, s.claimed_at as prev,
                                       s.visible_at as pos
                                  from @extschema@.messages s
                                 where s.queue_id = q.queue_id
                                   and s.visible_at <= v_now
                                   and (s.expires_at is null
                                        or s.expires_at > v_now)
                                 order by s.priority desc, s.visible_at,
                                          s.id
                                 limit v_left
                                   for update skip locked) x),
                    u as (
                        update @extschema@.messages m
                           set attempts = m.attempts + 1,
                               visible_at = v_now + v_vt,
                               claimed_at = v_now,
                               claimed_by = @extschema@._claimant()
                          from c
                         where m.id = any (array(select c.id from c))
                           and m.id = c.id
                        returning m.id, m.attempts, m.headers,
                                  coalesce(m.body, (select b.body
                                      from @extschema@.bodies b
                                     where b.id = m.body_id)) as body,
                                  m.correlation_id, m.reply_to,
                                  m.priority, m.group_key, m.dedup_id,
                                  m.enqueued_at, m.visible_at, c.prev,
                                  c.pos, c.ord)
                    select * from u order by u.ord;
            else
                open c for
                    with c as (
                        select x.id, x.prev, x.pos,
                               row_number() over () as ord
                          from (select s.id, s.claimed_at as prev,
                                       s.visible_at as pos
                                  from @extschema@.messages s
                                 where s.queue_id = q.queue_id
                                   and s.priority = lv_p[v_i]
                                   and (s.visible_at, s.id)
                                       > (lv_v[v_i], lv_id[v_i])
                                   and s.visible_at <= v_now
                                   and (s.expires_at is null
                                        or s.expires_at > v_now)
                                 order by s.visible_at, s.id
                                 limit v_left
                                   for update skip locked) x),
                    u as (
                        update @extschema@.messages m
                           set attempts = m.attempts + 1,
                               visible_at = v_now + v_vt,
                               claimed_at = v_now,
                               claimed_by = @extschema@._claimant()
                          from c
                         where m.id = any (array(select c.id from c))
                           and m.id = c.id
                        returning m.id, m.attempts, m.headers,
                                  coalesce(m.body, (select b.body
                                      from @extschema@.bodies b
                                     where b.id = m.body_id)) as body,
                                  m.correlation_id, m.reply_to,
                                  m.priority, m.group_key, m.dedup_id,
                                  m.enqueued_at, m.visible_at, c.prev,
                                  c.pos, c.ord)
                    select * from u order by u.ord;
            end if;
            loop
                fetch c into r;
                exit when not found;
                v_got := v_got + 1;
                if not v_fifo and not v_all then
                    lv_v[v_i] := r.pos;
                    lv_id[v_i] := r.id;
                end if;
                if r.prev is not null
                   and @extschema@._lapsed(q, r.id, r.attempts, v_now)
                then
                    v_buried := v_buried + 1;
                    continue;
                end if;
                v_left := v_left - 1;
                return next row(r.id, q.name, r.attempts, r.headers,
                                r.body, r.correlation_id, r.reply_to,
                                r.priority, r.group_key, r.dedup_id,
                                r.enqueued_at,
                                r.visible_at)::@extschema@.message;
            end loop;
            close c;
            -- This level had nothing more ready: next time from the
            -- floor on; else from the last row claimed, but never past
            -- the floor.
            if not v_fifo and not v_all
               and (v_got < v_asked or lv_v[v_i] > v_floor) then
                lv_v[v_i] := v_floor;
                lv_id[v_i] := 0;
            end if;
            v_i := v_i + 1;
        end loop;
        exit when v_buried = 0 or v_left = 0;
    end loop;
    if v_key is not null then
        perform @extschema@._front_save(v_key, v_sweep, v_st, v_t0, v_all,
                                        lv_p, lv_v, lv_id);
    end if;
end
$$;
