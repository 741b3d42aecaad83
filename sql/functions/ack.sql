-- The signature before its integer arguments became bigint (a value
-- past 2^31 then met no function at all, not a range error).
drop function if exists @extschema@.ack(bigint[],int[],timestamptz);
create or replace function @extschema@.ack(
    i_ids       bigint[],
    i_attempts  bigint[] default null,
    i_now       timestamptz default null)
returns int
language plpgsql security definer
set search_path = pg_catalog, pg_temp
-- Generic plans: a custom plan is re-made on every call, which costs more
-- than these statements take to run; their plans do not depend on values.
set plan_cache_mode = force_generic_plan
-- Every statement here reaches messages by its primary key; a generic
-- plan made while the table looked empty would seq-scan it for good (each
-- ack then read the whole backlog: 2-10 ms per ack behind 27,000 queued).
-- No JIT: with seq scans priced out, a plan's cost passes jit_above_cost
-- (the queues probe alone compiled for ~100 ms on every ack).
set enable_seqscan = off
set jit = off
as $$
-- ----------------------------------------------------------------------
-- Function: ack(i_ids, i_attempts, i_now)
--
--      Acknowledges messages: they leave the queue (into the archive when
--      their queue keeps one) when the caller's transaction commits.
--      With i_attempts (one per id, as receive or take returned them) a
--      message is only acked while that attempt still holds it: a stale
--      holder whose claim lapsed and was claimed again acks nothing. A
--      taken message (take: held by a lock, not claimed) is held by the
--      attempt after its stored count. Without an attempt a message is
--      acked whatever holds it, which takes operate on its queue; else
--      receive (_may).
--
-- Returns:
--      how many messages were acked; fewer than given means the others
--      were not held (already acked, failed, or claimed again).
-- ----------------------------------------------------------------------
declare
    v_now timestamptz := case when i_now is null then now()
                          else @extschema@._clock(i_now) end;
    n int := 0;
    r record;
    v_queue_id int;
    v_hist boolean;
    v_archive boolean;
    v_priv text;
begin
    if i_ids is null then
        raise exception 'ids is null' using errcode = '22023';
    end if;
    if i_attempts is not null
       and coalesce(array_length(i_attempts, 1), 0)
           <> coalesce(array_length(i_ids, 1), 0) then
        raise exception 'attempts must have one element per id'
            using errcode = '22023';
    end if;
    -- Without every attempt, operate on the queues touched; with them,
    -- receive. Checked on the rows deleted: a refusal undoes the delete.
    v_priv := case when i_attempts is null
                        or array_position(i_attempts, null) is not null
                   then 'operate' else 'receive' end;
    -- One message, no queue keeping an archive (the consume loop's case):
    -- a primary-key delete and the counter, nothing else to plan or run.
    v_archive := exists (select 1 from @extschema@.queues
                          where archive_for is not null);
    if cardinality(i_ids) = 1 and not v_archive then
        delete from @extschema@.messages m
         where m.id = i_ids[1]
           and (i_attempts is null or i_attempts[1] is null
                or (m.attempts = i_attempts[1] and m.claimed_at is not null)
                or (m.attempts + 1 = i_attempts[1] and m.claimed_at is null))
        returning m.queue_id, m.last_error is not null or m.attempts > 1
             into v_queue_id, v_hist;
        if not found then
            return 0;
        end if;
        if not @extschema@._may(v_queue_id, v_priv) then
            perform @extschema@._need(v_queue_id, v_priv, 'ack');
        end if;
        if v_hist then
            delete from @extschema@.message_errors
             where message_id = i_ids[1];
        end if;
        update @extschema@.queue_counters set acked = acked + 1
         where queue_id = v_queue_id
           and slot = @extschema@._counter_slot();
        if not found then
            perform @extschema@._count(v_queue_id, 'acked');
        end if;
        return 1;
    end if;
    -- No queue keeps an archive: the rows need not come back whole.
    if not v_archive then
        for r in
            with d as (
                delete from @extschema@.messages m
                 using unnest(i_ids, coalesce(i_attempts,
                                  array_fill(null::int,
                                             array[cardinality(i_ids)])))
                       as a(id, attempt)
                 where m.id = a.id
                   and (a.attempt is null
                        or (m.attempts = a.attempt
                            and m.claimed_at is not null)
                        or (m.attempts + 1 = a.attempt
                            and m.claimed_at is null))
                returning m.id, m.queue_id,
                          m.last_error is not null or m.attempts > 1 as hist)
            select d.queue_id, count(*) as c,
                   array_agg(d.id) filter (where d.hist) as hist_ids
              from d group by d.queue_id
        loop
            if not @extschema@._may(r.queue_id, v_priv) then
                perform @extschema@._need(r.queue_id, v_priv, 'ack');
            end if;
            if r.hist_ids is not null then
                delete from @extschema@.message_errors
                 where message_id = any (r.hist_ids);
            end if;
            update @extschema@.queue_counters set acked = acked + r.c
             where queue_id = r.queue_id
               and slot = @extschema@._counter_slot();
            if not found then
                perform @extschema@._count(r.queue_id, 'acked', r.c);
            end if;
            n := n + r.c;
        end loop;
        return n;
    end if;
    for r in
        with d as (
            delete from @extschema@.messages m
             using unnest(i_ids, coalesce(i_attempts,
                                          array_fill(null::int,
                                              array[cardinality(i_ids)])))
                   as a(id, attempt)
             where m.id = a.id
               and (a.attempt is null
                    or (m.attempts = a.attempt and m.claimed_at is not null)
                    or (m.attempts + 1 = a.attempt and m.claimed_at is null))
            returning m.*),
        arch as (
            insert into @extschema@.archive (id, queue_id, attempts,
                enqueued_at, finished_at, outcome, correlation_id, headers,
                body)
            select d.id, d.queue_id, d.attempts, d.enqueued_at, v_now,
                   'acked', d.correlation_id, d.headers,
                   coalesce(d.body, (select b.body from @extschema@.bodies b
                                      where b.id = d.body_id))
              from d join @extschema@.queues q using (queue_id)
             where q.archive_for is not null),
        hist as (
            delete from @extschema@.message_errors e
             using d
             where (d.last_error is not null or d.attempts > 1)
               and e.message_id = d.id)
        select d.queue_id, count(*) as c from d group by d.queue_id
    loop
        if not @extschema@._may(r.queue_id, v_priv) then
            perform @extschema@._need(r.queue_id, v_priv, 'ack');
        end if;
        -- _count() inlined: this is the hot path. The backend's own row
        -- (_counter_slot()): no other session ever waits on it.
        update @extschema@.queue_counters set acked = acked + r.c
         where queue_id = r.queue_id
           and slot = @extschema@._counter_slot();
        if not found then
            insert into @extschema@.queue_counters (queue_id, slot, acked)
            values (r.queue_id, @extschema@._counter_slot(), r.c)
            on conflict (queue_id, slot) do update
               set acked = @extschema@.queue_counters.acked + excluded.acked;
        end if;
        n := n + r.c;
    end loop;
    return n;
end
$$;
