create or replace function @extschema@.drop_queue(
    i_name text, i_force boolean default false)
returns boolean
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: drop_queue(i_name, i_force)
--
--      Drops a queue. A queue that still holds messages or dead letters is
--      only dropped with i_force => true, which deletes them too: nothing
--      is lost without saying so.
--
-- Returns:
--      true. Errors: TQ002 unknown queue, 55000 not empty without force,
--      or the dead_letter_queue of another queue.
-- ----------------------------------------------------------------------
declare
    q @extschema@.queues;
    n_msg bigint;
    n_dead bigint;
    v_sources text;
begin
    if not @extschema@._may(null, 'admin') then
        perform @extschema@._deny(null, 'admin');
    end if;
    select * into q from @extschema@.queues where name = i_name for update;
    if not found then
        raise exception 'unknown queue "%"', left(i_name, 100)
            using errcode = 'TQ002';
    end if;
    -- Its sources would have nowhere to put their failed messages.
    select string_agg(format('"%s"', s.name), ', ' order by s.name)
      into v_sources
      from @extschema@.queues s where s.dead_letter_queue_id = q.queue_id;
    if v_sources is not null then
        raise exception 'queue "%" is the dead_letter_queue of queue %: '
            'remove it there first (alter_queue(..., i_dead_letter_queue '
            '=> ''''))', i_name, v_sources using errcode = '55000';
    end if;
    select count(*) into n_msg from @extschema@.messages
     where queue_id = q.queue_id;
    select count(*) into n_dead from @extschema@.dead_letter_messages
     where queue_id = q.queue_id;
    if (n_msg > 0 or n_dead > 0) and not coalesce(i_force, false) then
        raise exception 'queue "%" is not empty (% messages, % dead letters);'
            ' drop it with force to delete them', i_name, n_msg, n_dead
            using errcode = '55000';
    end if;
    delete from @extschema@.message_errors e
     using @extschema@.messages m
     where m.queue_id = q.queue_id and e.message_id = m.id;
    delete from @extschema@.message_errors e
     using @extschema@.dead_letter_messages d
     where d.queue_id = q.queue_id and e.message_id = d.id;
    delete from @extschema@.messages where queue_id = q.queue_id;
    delete from @extschema@.dead_letter_messages where queue_id = q.queue_id;
    delete from @extschema@.dedup where queue_id = q.queue_id;
    delete from @extschema@.queue_counters where queue_id = q.queue_id;
    delete from @extschema@.subscriptions where queue_id = q.queue_id;
    delete from @extschema@.routes where queue_id = q.queue_id;
    update @extschema@.topics set default_queue_id = null
     where default_queue_id = q.queue_id;
    delete from @extschema@.queues where queue_id = q.queue_id;
    -- regclass prints as a quoted, schema-qualified name.
    execute format('drop sequence %s, %s', q.waits_seq, q.wakes_seq);
    insert into @extschema@.audit_log (action, queue, detail)
    values ('drop_queue', q.name,
            format('%s messages, %s dead letters deleted', n_msg, n_dead));
    return true;
end
$$;
