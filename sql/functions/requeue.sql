create or replace function @extschema@.requeue(
    i_id     bigint,
    i_delay  interval default null)
returns bigint
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: requeue(i_id, i_delay)
--
--      Puts a dead letter back on its queue, with its (possibly edited)
--      body and headers, its id and error history, and a fresh attempt
--      count. Recorded in audit_log with who did it.
--
-- Returns:
--      the message id. Errors: TQ002 no such dead letter.
-- ----------------------------------------------------------------------
declare
    d @extschema@.dead_letter_messages;
    q @extschema@.queues;
begin
    perform @extschema@._check_interval('delay', i_delay, '0', '365 days');
    delete from @extschema@.dead_letter_messages where id = i_id
    returning * into d;
    if not found then
        raise exception 'dead letter % not found', i_id
            using errcode = 'TQ002';
    end if;
    select * into q from @extschema@.queues where queue_id = d.queue_id;
    insert into @extschema@.messages (id, queue_id, priority, visible_at,
        attempts, enqueued_at, expires_at, group_key, dedup_id,
        correlation_id, reply_to, last_error, headers, body)
    overriding system value
    values (d.id, d.queue_id, d.priority, now() + coalesce(i_delay, '0'), 0,
        d.enqueued_at, now() + q.expire_after, d.group_key, d.dedup_id,
        d.correlation_id, d.reply_to, d.last_error, d.headers, d.body);
    perform @extschema@._count(d.queue_id, 'requeued');
    insert into @extschema@.audit_log (action, queue, message_id, detail)
    values ('requeue', q.name, d.id, 'after ' || d.reason);
    perform @extschema@._wake(q);
    return d.id;
end
$$;
