-- The signature before its integer arguments became bigint (a value
-- past 2^31 then met no function at all, not a range error).
drop function if exists @extschema@.fail(bigint,text,int,boolean,interval,timestamptz,double precision);
create or replace function @extschema@.fail(
    i_id           bigint,
    i_error        text,
    i_attempt      bigint default null,
    i_permanent    boolean default false,
    i_retry_after  interval default null,
    i_now          timestamptz default null,
    i_random       double precision default null)
returns text
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
-- Function: fail(i_id, i_error, i_attempt, i_permanent, i_retry_after,
--                i_now, i_random)
--
--      Records a failed attempt of a delivered message, with its error,
--      and applies the queue's failure policy: retry after the backoff
--      (or i_retry_after) while attempts remain; otherwise, or when
--      i_permanent, the queue's on_exhausted policy: review (dead letter),
--      notify (dead letter, alerts row, NOTIFY txq_alert) or ignore
--      (dropped, counted, archived when the queue keeps an archive); with
--      a dead_letter_queue, review and notify move it into that queue
--      instead of the dead letters ('moved').
--      With i_attempt, only that attempt may fail the message; a taken
--      message (take) is failed by the attempt after its stored count.
--      Needs receive on the message's queue; without i_attempt, operate.
--
-- Returns:
--      'retry', 'dead', 'notified', 'ignored' or 'moved'.
--      Errors: TQ002 no such message, TQ003 not held by that attempt.
-- ----------------------------------------------------------------------
declare
    m @extschema@.messages;
    q @extschema@.queues;
    v_now timestamptz := case when i_now is null then now()
                          else @extschema@._clock(i_now) end;
    v_err text := left(coalesce(i_error, '(no error text)'), 65536);
    v_delay interval;
    v_reason text;
begin
    if i_id is null then
        raise exception 'id is null' using errcode = '22023';
    end if;
    perform @extschema@._check_interval('retry_after', i_retry_after,
        '0', '365 days');
    select * into m from @extschema@.messages where id = i_id for update;
    if not found then
        raise exception 'message % is not in a queue', i_id
            using errcode = 'TQ002';
    end if;
    -- receive on its queue; operate without the attempt.
    if not @extschema@._may(m.queue_id, case when i_attempt is null
                                             then 'operate'
                                             else 'receive' end) then
        perform @extschema@._need(m.queue_id, case when i_attempt is null
                                                   then 'operate'
                                                   else 'receive' end,
                                  'fail');
    end if;
    -- A taken message (take: locked, not claimed) is at the attempt after
    -- its stored count; failing it counts that attempt.
    if m.claimed_at is null and i_attempt = m.attempts + 1 then
        m.attempts := i_attempt;
        update @extschema@.messages set attempts = i_attempt
         where id = m.id;
    -- claimed_at is null once a failure released the message (retry):
    -- a second fail of the same attempt is a stale holder's.
    elsif m.attempts = 0 or m.claimed_at is null
          or (i_attempt is not null and m.attempts <> i_attempt)
    then
        raise exception 'message % is not held by attempt % (it is at '
            'attempt %)', i_id, coalesce(i_attempt, 0), m.attempts
            using errcode = 'TQ003';
    end if;
    select * into q from @extschema@.queues where queue_id = m.queue_id;

    insert into @extschema@.message_errors (message_id, attempt, error,
                                            failed_at)
    values (m.id, m.attempts, v_err, v_now);

    if not coalesce(i_permanent, false) and m.attempts < q.max_attempts then
        v_delay := coalesce(i_retry_after,
            @extschema@.backoff(m.attempts, q.backoff_base, q.backoff_cap,
                                q.backoff_jitter, i_random));
        update @extschema@.messages
           set visible_at = v_now + v_delay, last_error = v_err,
               claimed_at = null, claimed_by = null
         where id = m.id;
        perform @extschema@._count(q.queue_id, 'retried');
        return 'retry';
    end if;

    v_reason := case when coalesce(i_permanent, false) then 'permanent'
                     else 'exhausted' end;
    return @extschema@._exhaust(m, q, v_reason, v_err, v_now);
end
$$;
