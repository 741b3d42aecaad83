create or replace function @extschema@._exhaust(
    m @extschema@.messages, q @extschema@.queues, i_reason text,
    i_error text, i_now timestamptz)
returns text
language plpgsql
as $$
-- ----------------------------------------------------------------------
-- Function: _exhaust(m, q, i_reason, i_error, i_now)
--
--      Applies the queue's on_exhausted policy to a message whose attempts
--      are used up or that failed permanently (internal): ignore drops it
--      (counted, archived when the queue keeps an archive); review and
--      notify move it to the dead letters (notify also alerts), or, when
--      the queue has a dead_letter_queue, into that queue, in this
--      transaction (_dead_letter_move; notify still alerts).
--
-- Returns:
--      'ignored', 'dead', 'notified' or 'moved'.
-- ----------------------------------------------------------------------
begin
    delete from @extschema@.messages where id = m.id;
    if q.on_exhausted = 'ignore' then
        delete from @extschema@.message_errors where message_id = m.id;
        if q.archive_for is not null then
            insert into @extschema@.archive (id, queue_id, attempts,
                enqueued_at, finished_at, outcome, correlation_id, headers,
                body)
            values (m.id, m.queue_id, m.attempts, m.enqueued_at, i_now,
                    'ignored', m.correlation_id, m.headers,
                    coalesce(m.body, (select b.body
                                        from @extschema@.bodies b
                                       where b.id = m.body_id)));
        end if;
        perform @extschema@._count(q.queue_id, 'ignored');
        return 'ignored';
    end if;
    if q.dead_letter_queue_id is not null then
        perform @extschema@._dead_letter_move(m, q, i_reason, i_error, i_now);
        if q.on_exhausted = 'notify' then
            perform @extschema@._alert(q, m.id, m.attempts, i_reason,
                                       i_error, i_now);
        end if;
        return 'moved';
    end if;
    perform @extschema@._bury(m, q, i_reason, i_error, i_now);
    return case when q.on_exhausted = 'notify' then 'notified'
                else 'dead' end;
end
$$;
