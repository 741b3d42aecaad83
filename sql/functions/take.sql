-- The signature before its integer arguments became bigint (a value
-- past 2^31 then met no function at all, not a range error).
drop function if exists @extschema@.take(text,int,timestamptz);
create or replace function @extschema@.take(
    i_queue  text,
    i_max    bigint default 1,
    i_now    timestamptz default null)
returns setof @extschema@.message
language plpgsql security definer
set search_path = pg_catalog, pg_temp
-- As receive: generic plans, an ordered walk of messages_ready_idx that
-- stops after i_max rows, no JIT (see receive.sql for the figures).
set plan_cache_mode = force_generic_plan
set enable_bitmapscan = off
set enable_seqscan = off
set jit = off
as $$
-- ----------------------------------------------------------------------
-- Function: take(i_queue, i_max, i_now)
--
--      Takes up to i_max ready messages for the caller's transaction:
--      each is locked (FOR UPDATE SKIP LOCKED) until that transaction
--      ends, so other consumers skip it meanwhile, and nothing is written.
--      Ack them in the same transaction as the work they cause. If the
--      transaction rolls back, or commits without an ack, a message is
--      ready again at once with its attempts unchanged: nothing happened.
--      The attempt returned is the next one (attempts + 1); ack, fail and
--      set_visibility accept it while the message is not claimed
--      (set_visibility turns it into a claim). visible_until is null: the
--      hold ends with the transaction. A second take in the same
--      transaction does not return what the first took (except for a take
--      made inside a savepoint). Outside a transaction the lock ends with
--      the statement: use receive (a claim) there.
--      A fifo queue is claimed as receive does (groups stay blocked for
--      the visibility timeout if the transaction commits without an ack).
--      A message whose last claim lapsed (its consumer died) has that
--      attempt recorded as failed first, and past max_attempts it is not
--      delivered but handed to the queue's exhausted policy.
--
-- Returns:
--      txq.message rows. Errors: TQ002 unknown queue, 22023 bad max.
-- ----------------------------------------------------------------------
declare
    q @extschema@.queues;
    v_now timestamptz := case when i_now is null then now()
                          else @extschema@._clock(i_now) end;
    v_left bigint := i_max;
    v_n bigint;
    v_buried bigint := @extschema@._take_buried();
    -- Rows this transaction took already are locked by it, and SKIP
    -- LOCKED does not skip a lock of one's own: they are left out by
    -- their xmax (a lock taken inside a savepoint carries the
    -- savepoint's id instead: taken again there, the message would come
    -- back twice).
    v_xid xid := pg_catalog.pg_current_xact_id_if_assigned()::xid;
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
        return query select * from @extschema@.receive(i_queue, i_max,
                                                       null, i_now);
        return;
    end if;
    if q.expire_after is not null then
        perform @extschema@._expire(q, v_now);
    end if;
    -- One statement straight into the result: no row-by-row loop. The
    -- outer projection and filter run only for the rows locked. A row
    -- whose last claim lapsed is rare: _take_lapsed() counts that attempt
    -- and holds the message unclaimed (delivered), or buries it (left
    -- out). Fewer rows than asked may come back then ("up to max"); when
    -- none came back because all were buried, take again (this
    -- transaction holds none of them, so nothing comes back twice).
    loop
        return query
            select t.id, q.name, t.attempts + 1, t.headers, t.body,
                   t.correlation_id, t.reply_to, t.priority, t.group_key,
                   t.dedup_id, t.enqueued_at, null::timestamptz
              from (select m.id, m.attempts, m.headers,
                           coalesce(m.body, (select b.body
                               from @extschema@.bodies b
                              where b.id = m.body_id)) as body,
                           m.correlation_id, m.reply_to, m.priority,
                           m.group_key, m.dedup_id, m.enqueued_at,
                           m.claimed_at
                      from @extschema@.messages m
                     where m.queue_id = q.queue_id and m.visible_at <= v_now
                       and (m.expires_at is null or m.expires_at > v_now)
                       and (v_xid is null or m.xmax <> v_xid)
                     order by m.priority desc, m.visible_at, m.id
                     limit v_left
                       for update skip locked) t
             where t.claimed_at is null
                or @extschema@._take_lapsed(q, t.id, t.attempts, v_now);
        get diagnostics v_n = row_count;
        exit when v_n > 0 or v_buried = @extschema@._take_buried();
        v_buried := @extschema@._take_buried();
    end loop;
end
$$;
