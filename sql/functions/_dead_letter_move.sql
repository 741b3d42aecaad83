create or replace function @extschema@._dead_letter_move(
    m @extschema@.messages, q @extschema@.queues, i_reason text,
    i_error text, i_now timestamptz)
returns bigint
language plpgsql
as $$
-- ----------------------------------------------------------------------
-- Function: _dead_letter_move(m, q, i_reason, i_error, i_now)
--
--      Moves message m of queue q, deleted by the caller in this
--      transaction, into q's dead_letter_queue (internal, from _exhaust):
--      an ordinary message there, with its id, body and headers, plus
--      the header txq_dead_letter saying where it came from:
--      {"source_queue", "id", "attempts", "reason" (exhausted or
--      permanent), "error" (the last, first 1000 characters),
--      "failed_at"}. A txq_dead_letter it had from an earlier move is
--      replaced. Its error history (message_errors) stays with its id.
--      Counted as dead on q.
--
-- Returns:
--      the message's id in the dead-letter queue.
-- ----------------------------------------------------------------------
declare
    t @extschema@.queues;
begin
    select * into t from @extschema@.queues
     where queue_id = q.dead_letter_queue_id;
    perform @extschema@._count(q.queue_id, 'dead');
    return @extschema@._place(m, t,
        m.headers || jsonb_build_object('txq_dead_letter',
            jsonb_build_object('source_queue', q.name, 'id', m.id,
                               'attempts', m.attempts, 'reason', i_reason,
                               'error', left(i_error, 1000),
                               'failed_at', i_now)),
        i_error);
end
$$;
