create or replace function @extschema@._bury(
    m @extschema@.messages, q @extschema@.queues, i_reason text,
    i_error text, i_now timestamptz)
returns void
language plpgsql
as $$
-- ----------------------------------------------------------------------
-- Function: _bury(m, q, i_reason, i_error, i_now)
--
--      Moves a message (already deleted from messages by the caller) to
--      the dead letters, counts it, and raises the alert of the notify
--      policy (internal).
-- ----------------------------------------------------------------------
begin
    insert into @extschema@.dead_letter_messages (id, queue_id, priority,
        attempts, enqueued_at, group_key, dedup_id, correlation_id,
        reply_to, last_error, headers, body, reason, failed_at)
    values (m.id, m.queue_id, m.priority, m.attempts, m.enqueued_at,
        m.group_key, m.dedup_id, m.correlation_id, m.reply_to, i_error,
        m.headers, coalesce(m.body, (select b.body from @extschema@.bodies b
                                      where b.id = m.body_id)),
        i_reason, i_now);
    perform @extschema@._count(q.queue_id,
        case when i_reason = 'expired' then 'expired' else 'dead' end);
    if q.on_exhausted = 'notify' then
        perform @extschema@._alert(q, m.id, m.attempts, i_reason, i_error,
                                   i_now);
    end if;
end
$$;
