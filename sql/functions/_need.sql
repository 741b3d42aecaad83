create or replace function @extschema@._need(i_queue_id int,
                                             i_privilege text,
                                             i_call text)
returns void
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: _need(i_queue_id, i_privilege, i_call)
--
--      Refuses a call on a message of a queue whose privilege the caller
--      lacks (internal; the caller asked _may() first): 42501 from
--      _deny(). ack, fail and set_visibility given no attempt act on a
--      message whatever holds it, which takes operate: that refusal says
--      so.
-- ----------------------------------------------------------------------
declare
    v_name text;
begin
    select q.name into v_name from @extschema@.queues q
     where q.queue_id = i_queue_id;
    if i_privilege = 'operate'
       and i_call in ('ack', 'fail', 'set_visibility') then
        raise exception 'permission denied: role "%" must pass the attempt '
                        'it holds to %() (without it, it needs "operate" '
                        'on queue "%")', @extschema@._caller(), i_call,
                        v_name
            using errcode = '42501',
                  hint = 'Pass the attempts receive() returned. Acting on '
                         'a message whatever holds it takes operate (or '
                         'txq.cancel() with a reason).';
    end if;
    perform @extschema@._deny(v_name, i_privilege);
end
$$;
