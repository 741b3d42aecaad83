create or replace function @extschema@.start_move_task(
    i_source          text,
    i_destination     text default null,
    i_max_per_second  bigint default null)
returns bigint
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: start_move_task(i_source, i_destination, i_max_per_second)
--
--      Starts a task that moves the messages of queue i_source (usually
--      a dead-letter queue) to queue i_destination, or, when it is null,
--      each back to the queue it was dead-lettered from (its
--      txq_dead_letter header; messages without one stay). The task is a
--      row of move_tasks; run_move_task() moves its messages in small
--      transactions (txq-sqs runs the tasks in the background, as the
--      role that started them). It moves at most the messages counted
--      now (to_move), ready or waiting, not those in flight. One task
--      runs per source queue at a time.
--      Needs operate on i_source, and send on i_destination (null: on
--      every queue whose dead_letter_queue i_source is; each batch checks
--      again, as the task's role, for the queue each message goes to).
--
-- Returns:
--      the task's id (SQS's TaskHandle). Errors: TQ002 unknown queue,
--      22023 bad destination or rate, 42501 a privilege missing, 55000 a
--      task of that queue is running.
-- ----------------------------------------------------------------------
declare
    s @extschema@.queues;
    d @extschema@.queues;
    v_src record;
    v_to_move bigint;
    v_id bigint;
begin
    s := @extschema@._queue(i_source);
    if not @extschema@._may(s.queue_id, 'operate') then
        perform @extschema@._deny(s.name, 'operate');
    end if;
    if i_max_per_second is not null
       and i_max_per_second not between 1 and 500 then
        raise exception 'max_per_second must be between 1 and 500 (got %)',
            i_max_per_second using errcode = '22023';
    end if;
    if i_destination is not null then
        select * into d from @extschema@.queues where name = i_destination;
        if not found then
            raise exception 'destination: unknown queue "%"',
                left(i_destination, 100) using errcode = 'TQ002';
        end if;
        if d.queue_id = s.queue_id then
            raise exception 'a move task moves messages to another queue '
                '(source and destination are both "%")', s.name
                using errcode = '22023';
        end if;
        if d.kind <> s.kind or d.encrypt or s.encrypt then
            raise exception 'a move task moves messages between two plain '
                'queues of one kind ("%" is %, "%" is %)', s.name,
                s.kind || case when s.encrypt then ', encrypted' else '' end,
                d.name,
                d.kind || case when d.encrypt then ', encrypted' else '' end
                using errcode = '22023';
        end if;
        if not @extschema@._may(d.queue_id, 'send') then
            perform @extschema@._deny(d.name, 'send');
        end if;
    else
        for v_src in select q.name from @extschema@.queues q
                      where q.dead_letter_queue_id = s.queue_id
                      order by q.name
        loop
            if not @extschema@._may((select q.queue_id
                                       from @extschema@.queues q
                                      where q.name = v_src.name), 'send')
            then
                perform @extschema@._deny(v_src.name, 'send');
            end if;
        end loop;
    end if;
    select count(*) into v_to_move from @extschema@.messages m
     where m.queue_id = s.queue_id
       and (m.claimed_at is null or m.visible_at <= now())
       and (i_destination is not null or m.headers ? 'txq_dead_letter');
    begin
        insert into @extschema@.move_tasks (source_queue_id,
            destination_queue_id, destination_name, max_per_second, to_move,
            started_by)
        values (s.queue_id, d.queue_id, d.name, i_max_per_second, v_to_move,
                @extschema@._caller()::regrole)
        returning task_id into v_id;
    exception when unique_violation then
        raise exception 'queue "%" has a move task running already: cancel '
            'it first (cancel_move_task)', s.name using errcode = '55000';
    end;
    insert into @extschema@.audit_log (action, queue, detail)
    values ('start_move_task', s.name,
            format('task %s: %s messages to %s', v_id, v_to_move,
                   case when d.name is null then 'the queues they came from'
                        else format('queue "%s"', d.name) end));
    return v_id;
end
$$;
