create or replace function @extschema@._dedup(
    q @extschema@.queues, i_dedup_id text, i_now timestamptz)
returns bigint
language plpgsql
as $$
-- ----------------------------------------------------------------------
-- Function: _dedup(q, i_dedup_id, i_now)
--
--      Claims a dedup id for the queue's dedup window, and for as long as
--      the message it sent lives (internal). Two concurrent senders of one
--      id serialise on its row.
--
-- Returns:
--      null when the id is new (or its window passed and its message is
--      gone): the caller sends
--      and stores its message id; else the id of the first message.
-- ----------------------------------------------------------------------
declare
    v_first bigint;
begin
    insert into @extschema@.dedup as d (queue_id, dedup_id, message_id,
                                        expires_at)
    values (q.queue_id, i_dedup_id, 0, i_now + q.dedup_window)
    on conflict (queue_id, dedup_id) do update
       set message_id = 0, expires_at = excluded.expires_at
     where d.expires_at <= i_now
       -- an idempotency key lasts while its message does
       and not exists (select from @extschema@.messages m
                        where m.id = d.message_id);
    if found then
        return null;
    end if;
    select message_id into v_first from @extschema@.dedup
     where queue_id = q.queue_id and dedup_id = i_dedup_id;
    return v_first;
end
$$;
