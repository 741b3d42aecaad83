create or replace function @extschema@._dead_letter_target(
    q @extschema@.queues, i_target text)
returns int
language plpgsql
as $$
-- ----------------------------------------------------------------------
-- Function: _dead_letter_target(q, i_target)
--
--      Checks the dead_letter_queue given for queue q (internal, from
--      create_queue and alter_queue; q holds the settings it will have,
--      its queue_id null before it is created). null keeps the current
--      one, '' removes it. A new target must exist, be another queue of
--      the same kind (the dead-letter queue of a fifo queue is fifo, of a
--      standard queue standard, as in SQS), not make a cycle (a message
--      would go round for ever), allow q as a source (its
--      dead_letter_sources), and the caller must hold send on it:
--      naming a dead-letter queue puts messages into it, so it takes what
--      sending there takes, and nobody widens their rights by it.
--      Concurrent changes of dead-letter queues take turns (the cycle
--      check reads the other queues).
--
-- Returns:
--      the target's queue_id, or null for none. Errors: TQ002 unknown
--      queue, 22023 itself, another kind, a cycle or a source the target
--      does not allow, 42501 no send.
-- ----------------------------------------------------------------------
declare
    t @extschema@.queues;
    v_next int;
    v_hops int := 0;
begin
    if i_target is null then
        return q.dead_letter_queue_id;
    end if;
    if i_target = '' then
        return null;
    end if;
    if i_target = q.name then
        raise exception 'queue "%" cannot be its own dead_letter_queue',
            q.name using errcode = '22023';
    end if;
    perform pg_advisory_xact_lock(hashtext('txq.dead_letter_queues'));
    select * into t from @extschema@.queues where name = i_target
       for key share;
    if not found then
        raise exception 'dead_letter_queue: unknown queue "%"',
            left(i_target, 100) using errcode = 'TQ002';
    end if;
    if t.queue_id is not distinct from q.dead_letter_queue_id then
        return t.queue_id;  -- unchanged: nothing new is allowed
    end if;
    if t.dead_letter_sources is not null
       and not q.name = any (t.dead_letter_sources) then
        raise exception 'queue "%" does not allow queue "%" to name it as '
            'its dead_letter_queue', t.name, q.name
            using errcode = '22023',
                  hint = 'Its dead_letter_sources say which queues may: '
                         'set_dead_letter_sources().';
    end if;
    if t.kind <> q.kind then
        raise exception 'dead_letter_queue "%" is a % queue and queue "%" '
            'a % queue: the dead-letter queue of a fifo queue must be fifo, '
            'of a standard queue standard', t.name, t.kind, q.name, q.kind
            using errcode = '22023';
    end if;
    if not @extschema@._may(t.queue_id, 'send') then
        raise exception 'permission denied: role "%" lacks "send" on queue '
            '"%", which it names as the dead_letter_queue of queue "%"',
            @extschema@._caller(), t.name, q.name
            using errcode = '42501',
                  hint = format('Naming a dead-letter queue puts messages '
                                'into it. An admin grants it: select '
                                '%s.grant(%L, %L, array[''send''])',
                                '@extschema@', t.name,
                                @extschema@._caller());
    end if;
    -- Where the target's own dead letters go, and theirs, ...
    v_next := t.dead_letter_queue_id;
    while v_next is not null loop
        if v_next = q.queue_id then
            raise exception 'dead_letter_queue "%" of queue "%" would make '
                'a cycle: its messages end in queue "%" again', t.name,
                q.name, q.name using errcode = '22023';
        end if;
        v_hops := v_hops + 1;
        exit when v_hops > 10000;
        select d.dead_letter_queue_id into v_next
          from @extschema@.queues d where d.queue_id = v_next;
    end loop;
    return t.queue_id;
end
$$;
