create or replace function @extschema@.discard(i_id bigint, i_reason text)
returns boolean
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: discard(i_id, i_reason)
--
--      Deletes a dead letter for good. A reason is required; it goes to
--      audit_log with who did it and when.
--
-- Returns:
--      true. Errors: 22023 no reason, TQ002 no such dead letter.
-- ----------------------------------------------------------------------
declare
    d @extschema@.dead_letter_messages;
begin
    if i_reason is null or btrim(i_reason) = '' then
        raise exception 'a reason is required to discard a dead letter'
            using errcode = '22023';
    end if;
    delete from @extschema@.dead_letter_messages where id = i_id
    returning * into d;
    if not found then
        raise exception 'dead letter % not found', i_id
            using errcode = 'TQ002';
    end if;
    -- A refusal undoes the delete.
    if not @extschema@._may(d.queue_id, 'operate') then
        perform @extschema@._need(d.queue_id, 'operate', 'discard');
    end if;
    delete from @extschema@.message_errors where message_id = d.id;
    perform @extschema@._count(d.queue_id, 'discarded');
    insert into @extschema@.audit_log (action, queue, message_id, detail)
    select 'discard', q.name, d.id, left(i_reason, 2000)
      from @extschema@.queues q where q.queue_id = d.queue_id;
    return true;
end
$$;
