-- The signature before its integer arguments became bigint (a value
-- past 2^31 then met no function at all, not a range error).
drop function if exists @extschema@.alter_queue(text, interval, int, interval,
    interval, double precision, text, int, interval, interval, interval,
    boolean, boolean, interval, boolean);
-- The signature before i_delay was added (see create_queue.sql).
drop function if exists @extschema@.alter_queue(text, interval, int, interval,
    interval, double precision, text, int, interval, interval, interval,
    boolean, boolean);
create or replace function @extschema@.alter_queue(
    i_name                text,
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
    i_clear_expire_after  boolean default false,
    i_clear_archive_for   boolean default false,
    i_delay               interval default null,
    i_encrypt             boolean default null,
    i_dead_letter_queue   text default null)
returns @extschema@.queues
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: alter_queue(i_name, ...)
--
--      Changes the settings given (non-null); the others stay. The kind of
--      a queue cannot change. i_clear_expire_after / i_clear_archive_for
--      turn those optional settings off. i_encrypt changes only on a
--      queue that holds no messages and no dead letters (each reader
--      decides by this setting whether bodies are sealed): it waits for
--      the transactions writing messages to end, and holds their writes
--      (every queue's) until it commits. i_dead_letter_queue names the
--      queue its exhausted and permanently failed messages move to
--      (_dead_letter_target: same kind, no cycle, the caller holds send
--      on it), '' removes it.
--
-- Returns:
--      the updated queues row. Errors: 22023 bad setting, TQ002 unknown.
-- ----------------------------------------------------------------------
declare
    q @extschema@.queues;
begin
    select * into q from @extschema@.queues where name = i_name for update;
    if not found then
        raise exception 'unknown queue "%"', left(i_name, 100)
            using errcode = 'TQ002';
    end if;
    if not @extschema@._may(q.queue_id, 'operate') then
        perform @extschema@._deny(q.name, 'operate');
    end if;
    perform @extschema@._check_queue_ints(
        coalesce(i_max_attempts, q.max_attempts),
        coalesce(i_max_body_bytes, q.max_body_bytes));
    q.visibility_timeout := coalesce(i_visibility_timeout,
                                     q.visibility_timeout);
    q.max_attempts := coalesce(i_max_attempts, q.max_attempts);
    q.backoff_base := coalesce(i_backoff_base, q.backoff_base);
    q.backoff_cap := coalesce(i_backoff_cap, q.backoff_cap);
    q.backoff_jitter := coalesce(i_backoff_jitter, q.backoff_jitter);
    q.on_exhausted := coalesce(i_on_exhausted, q.on_exhausted);
    q.max_body_bytes := coalesce(i_max_body_bytes, q.max_body_bytes);
    q.expire_after := case when i_clear_expire_after then null
                           else coalesce(i_expire_after, q.expire_after) end;
    q.dedup_window := coalesce(i_dedup_window, q.dedup_window);
    q.delay := coalesce(i_delay, q.delay);
    if i_encrypt is not null and i_encrypt <> q.encrypt then
        -- No send in flight may write a body of the other kind.
        lock table @extschema@.messages in share mode;
        if exists (select 1 from @extschema@.messages m
                    where m.queue_id = q.queue_id)
           or exists (select 1 from @extschema@.dead_letter_messages d
                       where d.queue_id = q.queue_id) then
            raise exception 'queue "%" holds messages or dead letters: '
                'encrypt changes only on an empty queue', q.name
                using errcode = '55000';
        end if;
        q.encrypt := i_encrypt;
    end if;
    q.archive_for := case when i_clear_archive_for then null
                          else coalesce(i_archive_for, q.archive_for) end;
    perform @extschema@._check_queue(q);
    q.dead_letter_queue_id := @extschema@._dead_letter_target(q,
                                                           i_dead_letter_queue);
    perform @extschema@._check_dead_letter(q);

    update @extschema@.queues set
        visibility_timeout = q.visibility_timeout,
        max_attempts = q.max_attempts,
        backoff_base = q.backoff_base,
        backoff_cap = q.backoff_cap,
        backoff_jitter = q.backoff_jitter,
        on_exhausted = q.on_exhausted,
        max_body_bytes = q.max_body_bytes,
        expire_after = q.expire_after,
        dedup_window = q.dedup_window,
        archive_for = q.archive_for,
        delay = q.delay,
        encrypt = q.encrypt,
        dead_letter_queue_id = q.dead_letter_queue_id
    where queue_id = q.queue_id
    returning * into q;

    insert into @extschema@.audit_log (action, queue, detail)
    values ('alter_queue', q.name,
            case when i_dead_letter_queue = '' then 'no dead_letter_queue'
                 when i_dead_letter_queue is not null
                 then 'dead_letter_queue ' || i_dead_letter_queue end);
    return q;
end
$$;
