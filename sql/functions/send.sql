-- The signature before its integer arguments became bigint (a value
-- past 2^31 then met no function at all, not a range error).
drop function if exists @extschema@.send(text,bytea,jsonb,interval,int,text,text,text,text,timestamptz);
create or replace function @extschema@.send(
    i_queue           text,
    i_body            bytea,
    i_headers         jsonb default null,
    i_delay           interval default null,
    i_priority        bigint default null,
    i_group           text default null,
    i_dedup_id        text default null,
    i_correlation_id  text default null,
    i_reply_to        text default null,
    i_now             timestamptz default null)
returns bigint
language plpgsql security definer
set search_path = pg_catalog, pg_temp
-- Generic plans: a custom plan is re-made on every call, which costs more
-- than these statements take to run; their plans do not depend on values.
set plan_cache_mode = force_generic_plan
as $$
-- ----------------------------------------------------------------------
-- Function: send(i_queue, i_body, ...)
--
--      Enqueues one message in the caller's transaction: it becomes
--      visible when that transaction commits (plus i_delay, else the
--      queue's delay), and never if it rolls back. A dedup id (an
--      idempotency key, on any queue) seen inside the queue's dedup window,
--      or while the message it sent still lives, returns that message's id
--      and writes nothing: a producer that lost a COMMIT's reply sends
--      again with the same id. On a fifo queue sends to one group take
--      turns until they commit.
--      i_now replaces now() (tests, replays; the schema owner only,
--      _clock()).
--
-- Returns:
--      the message id. Errors: TQ002 unknown queue, 22023 bad argument,
--      54000 body too large, TQ005 an encrypted queue (send_sealed()).
-- ----------------------------------------------------------------------
declare
    q @extschema@.queues;
    v_now timestamptz := case when i_now is null then now()
                          else @extschema@._clock(i_now) end;
    v_id bigint;
    v_group text := i_group;
begin
    -- _queue() inlined: this is the hot path.
    select * into q from @extschema@.queues where name = i_queue;
    if not found then
        q := @extschema@._queue(i_queue);  -- raises the error
    end if;
    if not @extschema@._may(q.queue_id, 'send') then
        perform @extschema@._deny(q.name, 'send');
    end if;
    if q.encrypt then
        perform @extschema@._refuse_plain(q.name);
    end if;
    -- The checks run (and raise) only when something is to be checked: a
    -- plain send skips two function calls.
    if i_body is null or octet_length(i_body) > q.max_body_bytes then
        perform @extschema@._check_body(q, i_body);
    end if;
    if i_headers is not null or i_delay is not null or i_priority is not null
       or i_group is not null or i_dedup_id is not null
       or i_correlation_id is not null or i_reply_to is not null then
        perform @extschema@._check_send(q, i_headers, i_delay, i_priority,
            i_group, i_dedup_id, i_correlation_id, i_reply_to);
    end if;
    if q.kind = 'fifo' then
        v_group := coalesce(i_group, '');
        -- Senders of one group take turns until commit, so the ids of a
        -- group (its delivery order) follow the order the sends commit in:
        -- a lower id committing after a higher one was claimed would become
        -- a second head with one already in flight.
        perform pg_advisory_xact_lock(q.queue_id, hashtext(v_group));
    end if;
    if i_dedup_id is not null then
        v_id := @extschema@._dedup(q, i_dedup_id, v_now);
        if v_id is not null then
            return v_id;
        end if;
    end if;

    insert into @extschema@.messages (queue_id, priority, visible_at,
        enqueued_at, expires_at, group_key, dedup_id, correlation_id,
        reply_to, headers, body)
    values (q.queue_id, coalesce(i_priority, 0),
        v_now + coalesce(i_delay, q.delay), v_now, v_now + q.expire_after,
        v_group, i_dedup_id, i_correlation_id, i_reply_to,
        coalesce(i_headers, '{}'), i_body)
    returning id into v_id;

    if i_dedup_id is not null then
        update @extschema@.dedup set message_id = v_id
         where queue_id = q.queue_id and dedup_id = i_dedup_id;
    end if;
    -- _wake() when somebody waits; its tests inlined: a queue nobody
    -- waits on costs no call (its flag is off), nor one whose waiters
    -- were all woken already (no registration pending).
    if q.waiting
       and coalesce(pg_sequence_last_value(q.waits_seq), 0)
           > coalesce(pg_sequence_last_value(q.wakes_seq), 0) then
        perform @extschema@._wake(q);
    end if;
    return v_id;
end
$$;
