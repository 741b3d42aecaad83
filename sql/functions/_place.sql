create or replace function @extschema@._place(
    m @extschema@.messages, t @extschema@.queues, i_headers jsonb,
    i_last_error text)
returns bigint
language plpgsql
as $$
-- ----------------------------------------------------------------------
-- Function: _place(m, t, i_headers, i_last_error)
--
--      Puts message m, which the caller deleted from its queue in this
--      transaction, into queue t as a message ready now (internal; a
--      dead-letter move, a move task): its id (unless a fifo group needs
--      a new one, _fifo_id), priority, group, dedup and correlation ids,
--      reply-to, enqueue time and body, the headers i_headers, a fresh
--      attempt count, t's expiry counted from now. A shared body is
--      copied in. Wakes t's waiting consumers at commit.
--
-- Returns:
--      the message's id in t.
-- ----------------------------------------------------------------------
declare
    v_id bigint := m.id;
begin
    if t.kind = 'fifo' then
        v_id := @extschema@._fifo_id(t, m.group_key, m.id, m.dedup_id);
    end if;
    insert into @extschema@.messages (id, queue_id, priority, visible_at,
        attempts, enqueued_at, expires_at, group_key, dedup_id,
        correlation_id, reply_to, last_error, headers, body)
    overriding system value
    values (v_id, t.queue_id, m.priority, now(), 0, m.enqueued_at,
        now() + t.expire_after, m.group_key, m.dedup_id, m.correlation_id,
        m.reply_to, i_last_error, i_headers,
        coalesce(m.body, (select b.body from @extschema@.bodies b
                           where b.id = m.body_id)));
    perform @extschema@._wake(t);
    return v_id;
end
$$;
