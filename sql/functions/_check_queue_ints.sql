create or replace function @extschema@._check_queue_ints(
    i_max_attempts bigint, i_max_body_bytes bigint)
returns void
language plpgsql immutable
as $$
-- ----------------------------------------------------------------------
-- Function: _check_queue_ints(i_max_attempts, i_max_body_bytes)
--
--      Validates a queue's integer settings as given (internal), before
--      they go into the row's int columns: a value past int's range is
--      named, as any other, instead of failing the assignment.
-- ----------------------------------------------------------------------
begin
    if i_max_attempts is null or i_max_attempts not between 1 and 1000 then
        raise exception 'max_attempts must be between 1 and 1000 (got %)',
            i_max_attempts using errcode = '22023';
    end if;
    if i_max_body_bytes is null
       or i_max_body_bytes not between 1 and 268435456 then
        raise exception 'max_body_bytes must be between 1 and 268435456 '
            '(got %)', i_max_body_bytes using errcode = '22023';
    end if;
end
$$;
