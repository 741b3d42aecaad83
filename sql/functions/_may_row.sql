create or replace function @extschema@._may_row(i_queue text,
                                                i_message_id bigint,
                                                i_privilege text)
returns boolean
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: _may_row(i_queue, i_message_id, i_privilege)
--
--      _may() for a row that names its queue (internal, for the row
--      policies of the tables operators read directly: alerts and the
--      audit log name the queue, message_errors the message): by name,
--      else by the message (in a queue, a dead letter or the archive).
--      A queue or message that is no longer there asks for every queue
--      ('*'). Granted to public: it answers about the caller only.
-- ----------------------------------------------------------------------
declare
    v_queue_id int;
begin
    if i_queue is not null then
        select q.queue_id into v_queue_id from @extschema@.queues q
         where q.name = i_queue;
    elsif i_message_id is not null then
        select m.queue_id into v_queue_id from @extschema@.messages m
         where m.id = i_message_id limit 1;
        if not found then
            select d.queue_id into v_queue_id
              from @extschema@.dead_letter_messages d
             where d.id = i_message_id;
        end if;
        if v_queue_id is null then
            select a.queue_id into v_queue_id from @extschema@.archive a
             where a.id = i_message_id limit 1;
        end if;
    end if;
    return @extschema@._may(v_queue_id, i_privilege);
end
$$;
