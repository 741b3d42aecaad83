-- The signature before its integer arguments became bigint (a value
-- past 2^31 then met no function at all, not a range error).
drop function if exists @extschema@.set_visibility(bigint,interval,int,timestamptz);
create or replace function @extschema@.set_visibility(
    i_id       bigint,
    i_timeout  interval,
    i_attempt  bigint default null,
    i_now      timestamptz default null)
returns timestamptz
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
-- Function: set_visibility(i_id, i_timeout, i_attempt, i_now)
--
--      Extends (or shortens) the claim on a delivered message: it stays
--      invisible until now + i_timeout. A timeout of 0 releases it at once
--      without counting a failure. With i_attempt, only that attempt may;
--      without it, only an operator of its queue (_may).
--
-- Returns:
--      the new visible_until. Errors: TQ003 not held, 22023 bad timeout.
-- ----------------------------------------------------------------------
declare
    v_now timestamptz := case when i_now is null then now()
                          else @extschema@._clock(i_now) end;
    v_until timestamptz;
    v_queue_id int;
begin
    if i_timeout is null then
        raise exception 'timeout is null' using errcode = '22023';
    end if;
    perform @extschema@._check_interval('timeout', i_timeout, '0',
                                        '12 hours');
    -- A release (timeout 0) ends the claim, so the next delivery does not
    -- take it for a lapsed (failed) attempt.
    -- A taken message (take: locked, not claimed; at the attempt after its
    -- stored count) becomes claimed by that attempt, as receive would
    -- have claimed it; with timeout 0 it just stays ready.
    update @extschema@.messages
       set visible_at = v_now + i_timeout,
           attempts = case when claimed_at is null and i_timeout <> '0'
                           then i_attempt else attempts end,
           claimed_at = case when i_timeout = '0' then null
                             else coalesce(claimed_at, v_now) end,
           claimed_by = case when i_timeout = '0' then null
                             when claimed_at is null
                             then @extschema@._claimant()
                             else claimed_by end
     where id = i_id
       and ((attempts > 0 and claimed_at is not null
             and (i_attempt is null or attempts = i_attempt))
            or (claimed_at is null and attempts + 1 = i_attempt))
    returning visible_at, queue_id into v_until, v_queue_id;
    if not found then
        raise exception 'message % is not held by attempt %', i_id,
            coalesce(i_attempt::text, 'any') using errcode = 'TQ003';
    end if;
    -- receive on its queue; operate without the attempt. A refusal
    -- undoes the update.
    if not @extschema@._may(v_queue_id, case when i_attempt is null
                                             then 'operate'
                                             else 'receive' end) then
        perform @extschema@._need(v_queue_id, case when i_attempt is null
                                                   then 'operate'
                                                   else 'receive' end,
                                  'set_visibility');
    end if;
    return v_until;
end
$$;
