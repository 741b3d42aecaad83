create or replace function @extschema@._grant_target(
    i_queue       text,
    i_privileges  text[])
returns int
language plpgsql stable
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: _grant_target(i_queue, i_privileges)
--
--      Checks grant()'s and revoke()'s arguments (internal) and returns
--      the queue's id, null for '*'. Errors: TQ002 unknown queue, 22023
--      no or unknown privileges, admin on a single queue.
-- ----------------------------------------------------------------------
declare
    v_bad text;
begin
    if i_privileges is null or cardinality(i_privileges) = 0 then
        raise exception 'privileges must be a non-empty array of send, '
                        'receive, operate, monitor, admin'
            using errcode = '22023';
    end if;
    select p into v_bad from unnest(i_privileges) p
     where p is null
        or p not in ('send', 'receive', 'operate', 'monitor', 'admin')
     limit 1;
    if found then
        raise exception 'unknown privilege "%" (send, receive, operate, '
                        'monitor, admin)', coalesce(left(v_bad, 100), 'null')
            using errcode = '22023';
    end if;
    if i_queue = '*' then
        return null;
    end if;
    if 'admin' = any (i_privileges) then
        raise exception 'admin is granted on every queue (''*''), not on '
                        'queue "%"', left(i_queue, 100)
            using errcode = '22023';
    end if;
    return (@extschema@._queue(i_queue)).queue_id;
end
$$;
