create or replace function @extschema@._lapsed(
    q @extschema@.queues, i_id bigint, i_attempts int, i_now timestamptz)
returns boolean
language plpgsql
as $$
-- ----------------------------------------------------------------------
-- Function: _lapsed(q, i_id, i_attempts, i_now)
--
--      receive() just claimed message i_id for attempt i_attempts, and the
--      attempt before it had been claimed and was neither acked nor
--      failed before its claim lapsed: its consumer died or overran
--      (internal). Records that attempt as failed; when this claim is past
--      the queue's max_attempts, the message is not delivered: the
--      exhausted policy applies to it, so a message that kills its
--      consumer never loops forever.
--
-- Returns:
--      true when the message was buried (not to be delivered).
-- ----------------------------------------------------------------------
declare
    v_msg @extschema@.messages;
begin
    insert into @extschema@.message_errors (message_id, attempt, error,
                                            failed_at)
    values (i_id, i_attempts - 1, 'claim lapsed: the consumer died or did '
            'not finish within its visibility timeout', i_now);
    if i_attempts <= q.max_attempts then
        return false;
    end if;
    select * into v_msg from @extschema@.messages where id = i_id;
    v_msg.attempts := i_attempts - 1;
    perform @extschema@._exhaust(v_msg, q, 'exhausted',
        'claim lapsed on the last attempt', i_now);
    return true;
end
$$;
