-- The signature before its integer arguments became bigint (a value
-- past 2^31 then met no function at all, not a range error).
drop function if exists @extschema@.create_queue(text, text, interval, int,
    interval, interval, double precision, text, int, interval, interval,
    interval, interval, boolean);
-- The signature before i_delay was added (a schema migrated by an earlier
-- build of this file has it; a second overload would make calls ambiguous).
drop function if exists @extschema@.create_queue(text, text, interval, int,
    interval, interval, double precision, text, int, interval, interval,
    interval);
create or replace function @extschema@.create_queue(
    i_name                text,
    i_kind                text default 'standard',
    i_visibility_timeout  interval default null,
    i_max_attempts        bigint default null,
    i_backoff_base        interval default null,
    i_backoff_cap         interval default null,
    i_backoff_jitter      double precision default null,
    i_on_exhausted        text default null,
    i_max_body_bytes      bigint default null,
    i_expire_after        interval default null,
    i_dedup_window        interval default null,
    i_archive_for         interval default null,
    i_delay               interval default null,
    i_encrypt             boolean default null,
    i_dead_letter_queue   text default null)
returns @extschema@.queues
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: create_queue(i_name, ...)
--
--      Creates a queue. Settings left null take their defaults: visibility
--      30 s, 5 attempts, backoff 1 s doubling to 1 h with 10% jitter,
--      on_exhausted review, 256 KiB bodies, no expiry, dedup window 5 min
--      (fifo), no archive, no delay. i_delay is the queue's default
--      delay: a send without its own delay becomes visible that long after
--      it commits. i_encrypt: the queue takes only bodies sealed by the
--      client (send_sealed()); not for fifo queues.
--      i_dead_letter_queue: the queue its exhausted and permanently
--      failed messages move to (_dead_letter_target: same kind, the
--      caller holds send on it); null or '': the dead letters.
--
-- Returns:
--      the new queues row. Errors: 22023 bad setting, 42710 exists.
-- ----------------------------------------------------------------------
declare
    q @extschema@.queues;
begin
    if not @extschema@._may(null, 'admin') then
        perform @extschema@._deny(null, 'admin');
    end if;
    perform @extschema@._check_queue_ints(coalesce(i_max_attempts, 5),
        coalesce(i_max_body_bytes, 262144));
    q.name := i_name;
    q.kind := coalesce(i_kind, 'standard');
    q.visibility_timeout := coalesce(i_visibility_timeout, '30 seconds');
    q.max_attempts := coalesce(i_max_attempts, 5);
    q.backoff_base := coalesce(i_backoff_base, '1 second');
    q.backoff_cap := coalesce(i_backoff_cap,
                              greatest('1 hour'::interval, q.backoff_base));
    q.backoff_jitter := coalesce(i_backoff_jitter, 0.1);
    q.on_exhausted := coalesce(i_on_exhausted, 'review');
    q.max_body_bytes := coalesce(i_max_body_bytes, 262144);
    q.expire_after := i_expire_after;
    q.dedup_window := coalesce(i_dedup_window, '5 minutes');
    q.archive_for := i_archive_for;
    q.delay := coalesce(i_delay, '0');
    q.encrypt := coalesce(i_encrypt, false);
    perform @extschema@._check_queue(q);
    q.dead_letter_queue_id := @extschema@._dead_letter_target(q,
                                                           i_dead_letter_queue);
    perform @extschema@._check_dead_letter(q);

    perform pg_advisory_xact_lock(hashtext('txq.queue:' || i_name));
    if exists (select 1 from @extschema@.queues where name = i_name) then
        raise exception 'queue "%" already exists', i_name
            using errcode = '42710';
    end if;

    insert into @extschema@.queues (name, kind, visibility_timeout,
        max_attempts, backoff_base, backoff_cap, backoff_jitter,
        on_exhausted, max_body_bytes, expire_after, dedup_window, archive_for,
        delay, encrypt, dead_letter_queue_id)
    values (q.name, q.kind, q.visibility_timeout, q.max_attempts,
        q.backoff_base, q.backoff_cap, q.backoff_jitter, q.on_exhausted,
        q.max_body_bytes, q.expire_after, q.dedup_window, q.archive_for,
        q.delay, q.encrypt, q.dead_letter_queue_id)
    returning queue_id into q.queue_id;
    perform @extschema@._wake_counters(q.queue_id);
    select * into q from @extschema@.queues where queue_id = q.queue_id;

    insert into @extschema@.queue_counters (queue_id, slot)
    select q.queue_id, s from generate_series(0, 15) s;

    insert into @extschema@.audit_log (action, queue, detail)
    values ('create_queue', q.name,
            q.kind || case when q.encrypt then ', encrypted' else '' end
            || case when i_dead_letter_queue <> ''
                    then ', dead_letter_queue ' || i_dead_letter_queue
                    else '' end);
    return q;
end
$$;
