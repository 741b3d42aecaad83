create or replace function @extschema@._fifo_id(
    q @extschema@.queues, i_group text, i_id bigint, i_dedup_id text)
returns bigint
language plpgsql
as $$
-- ----------------------------------------------------------------------
-- Function: _fifo_id(q, i_group, i_id, i_dedup_id)
--
--      The id under which message i_id goes back into (or into) fifo
--      queue q, group i_group (internal; requeue, a dead-letter move, a
--      move task). Its old id makes it its group's head again, before
--      the messages sent after it, unless the group's head is in flight
--      (claimed, or held by a take): handed out beside it, two messages
--      of the group would be in flight at once. It then takes a new id
--      and waits behind the group, as a redrive to an SQS FIFO queue
--      does; its errors and its dedup id (in q) follow it. Takes the
--      group's writer lock, as send() does, until commit.
--
-- Returns:
--      i_id, or the new id.
-- ----------------------------------------------------------------------
declare
    v_id bigint := i_id;
    v_head bigint;
    v_live boolean;
begin
    perform pg_advisory_xact_lock(q.queue_id, hashtext(coalesce(i_group, '')));
    -- The group's head (messages_group_idx), and whether it is in
    -- flight: a live claim, or a row lock (take) that a key-share lock
    -- must skip.
    select m.id, m.claimed_at is not null and m.visible_at > now()
      into v_head, v_live
      from @extschema@.messages m
     where m.queue_id = q.queue_id and m.group_key = i_group
     order by m.group_key, m.id
     limit 1;
    if v_head > i_id
       and (v_live
            or not exists (select 1 from @extschema@.messages m
                            where m.id = v_head
                              and m.queue_id = q.queue_id
                              for key share skip locked)) then
        v_id := nextval('@extschema@.messages_id_seq');
        update @extschema@.message_errors set message_id = v_id
         where message_id = i_id;
        update @extschema@.dedup set message_id = v_id
         where queue_id = q.queue_id and dedup_id = i_dedup_id
           and message_id = i_id;
    end if;
    return v_id;
end
$$;
