create or replace function @extschema@.run_move_task(
    i_task  bigint,
    i_max   bigint default 100)
returns text
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: run_move_task(i_task, i_max)
--
--      Moves the next batch of a running move task, up to i_max messages
--      (1 to 10000), in the caller's transaction: each message leaves its
--      source queue and enters its destination in this one transaction
--      (_place: same id, a fresh attempt count, its headers as they are),
--      and the task's counter moves with them, so a restart anywhere
--      loses or repeats nothing. Messages in flight are left alone, and
--      locked ones skipped. A task whose run lands on a locked task row
--      (another runner's batch) does nothing. The task completes once it
--      moved to_move messages or its source has none left to move.
--      The caller's grants decide, as for any call: operate on the
--      source, send on each destination. When the caller is the task's
--      role (txq-sqs runs tasks as the role that started them) a missing
--      privilege, a destination dropped since, or a message whose queue
--      of origin is gone fails the task, with the reason in
--      failure_reason; another caller gets the error.
--
-- Returns:
--      the task's status: RUNNING, COMPLETED, CANCELLED or FAILED.
--      Errors: TQ002 no such task, 42501.
-- ----------------------------------------------------------------------
declare
    t @extschema@.move_tasks;
    s @extschema@.queues;
    d @extschema@.queues;
    m @extschema@.messages;
    v_limit bigint;
    v_n bigint := 0;
    v_fail text;
    v_own boolean;
    v_status text;
begin
    if i_max is null or i_max not between 1 and 10000 then
        raise exception 'max must be between 1 and 10000 (got %)', i_max
            using errcode = '22023';
    end if;
    select * into t from @extschema@.move_tasks where task_id = i_task
       for update skip locked;
    if not found then
        select mt.status into v_status from @extschema@.move_tasks mt
         where mt.task_id = i_task;
        if not found then
            raise exception 'move task % not found', i_task
                using errcode = 'TQ002';
        end if;
        return v_status;  -- another runner holds it
    end if;
    if t.status <> 'RUNNING' then
        return t.status;
    end if;
    select * into s from @extschema@.queues where queue_id = t.source_queue_id;
    v_own := pg_has_role(@extschema@._caller(), t.started_by::oid, 'usage');
    v_fail := @extschema@._move_refusal(s.queue_id, s.name, 'operate',
                                        v_own);
    if v_fail is null and t.destination_queue_id is not null then
        select * into d from @extschema@.queues
         where queue_id = t.destination_queue_id;
        if not found then
            v_fail := format('the destination queue "%s" was dropped',
                             t.destination_name);
        else
            v_fail := @extschema@._move_refusal(d.queue_id, d.name, 'send',
                                                v_own);
        end if;
    end if;
    v_limit := least(i_max, t.to_move - t.moved);
    if v_fail is null and v_limit > 0 then
        for m in
            select * from @extschema@.messages mm
             where mm.queue_id = s.queue_id
               and (mm.claimed_at is null or mm.visible_at <= now())
               and (t.destination_queue_id is not null
                    or mm.headers ? 'txq_dead_letter')
             order by mm.id
             limit v_limit
               for update skip locked
        loop
            if t.destination_queue_id is null then
                select * into d from @extschema@.queues q
                 where q.name = m.headers -> 'txq_dead_letter'
                                          ->> 'source_queue';
                if not found then
                    v_fail := format('message %s came from queue "%s", '
                        'which no longer exists', m.id,
                        left(m.headers -> 'txq_dead_letter'
                                       ->> 'source_queue', 100));
                elsif d.kind <> s.kind or d.encrypt
                      or d.queue_id = s.queue_id then
                    v_fail := format('message %s cannot go back to queue '
                        '"%s" (%s)', m.id, d.name, d.kind
                        || case when d.encrypt then ', encrypted' else '' end);
                else
                    v_fail := @extschema@._move_refusal(d.queue_id, d.name,
                                                        'send', v_own);
                end if;
                exit when v_fail is not null;
            end if;
            delete from @extschema@.messages where id = m.id;
            perform @extschema@._place(m, d, m.headers, m.last_error);
            perform @extschema@._count(d.queue_id, 'requeued');
            v_n := v_n + 1;
        end loop;
    end if;
    v_status := case
        when v_fail is not null then 'FAILED'
        when t.moved + v_n >= t.to_move then 'COMPLETED'
        when v_n = 0 and not exists (
                select 1 from @extschema@.messages mm
                 where mm.queue_id = s.queue_id
                   and (t.destination_queue_id is not null
                        or mm.headers ? 'txq_dead_letter'))
            then 'COMPLETED'
        else 'RUNNING' end;
    update @extschema@.move_tasks
       set moved = moved + v_n, last_batch_at = now(), status = v_status,
           failure_reason = v_fail,
           finished_at = case when v_status <> 'RUNNING' then now() end
     where task_id = i_task;
    return v_status;
end
$$;
