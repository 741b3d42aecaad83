create or replace function @extschema@._need_attempt(i_call text)
returns void
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: _need_attempt(i_call)
--
--      Called by ack, fail and set_visibility when no attempt was given
--      (internal): without one they act on a message whatever holds it,
--      which only an operator may (_may_operate()). Anyone else gets
--      42501 naming the role and the call, and nothing changes.
-- ----------------------------------------------------------------------
begin
    if not @extschema@._may_operate() then
        raise exception 'permission denied: role "%" must pass the attempt '
                        'it holds to %()', @extschema@._caller(), i_call
            using errcode = '42501',
                  hint = 'Pass the attempts receive() returned. Acting on '
                         'a message whatever holds it takes txq_operator '
                         '(or txq.cancel() with a reason).';
    end if;
end
$$;
