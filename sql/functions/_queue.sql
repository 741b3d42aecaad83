create or replace function @extschema@._queue(i_name text)
returns @extschema@.queues
language plpgsql stable
as $$
-- ----------------------------------------------------------------------
-- Function: _queue(i_name)
--
--      Looks a queue up by name (internal).
--
-- Parameters:
--      i_name - queue name
--
-- Returns:
--      the queues row; raises TQ002 when there is no such queue.
-- ----------------------------------------------------------------------
declare
    q @extschema@.queues;
begin
    if i_name is null then
        raise exception 'queue name is null' using errcode = '22023';
    end if;
    select * into q from @extschema@.queues where name = i_name;
    if not found then
        raise exception 'unknown queue "%"', left(i_name, 100)
            using errcode = 'TQ002';
    end if;
    return q;
end
$$;
