create or replace function @extschema@._deny(i_queue text,
                                             i_privilege text)
returns void
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: _deny(i_queue, i_privilege)
--
--      Refuses the call (internal): 42501 naming the caller's role, the
--      queue (null: every queue, what the schema-wide calls need) and the
--      privilege it lacks. Raised before anything is written, or after,
--      which the error then undoes: nothing changes.
-- ----------------------------------------------------------------------
begin
    raise exception 'permission denied: role "%" lacks "%" on %',
                    @extschema@._caller(), i_privilege,
                    case when i_queue is null
                         then 'every queue (''*'')'
                         else format('queue "%s"', left(i_queue, 100)) end
        using errcode = '42501',
              hint = format('An admin grants it: select %s.grant(%L, %L, '
                            'array[%L])', '@extschema@',
                            coalesce(i_queue, '*'),
                            @extschema@._caller(), i_privilege);
end
$$;
