create or replace function @extschema@._check_body(
    q @extschema@.queues, i_body bytea)
returns void
language plpgsql immutable
as $$
-- ----------------------------------------------------------------------
-- Function: _check_body(q, i_body)
--
--      Raises 22023 when a body is null, or 54000 when it is larger than
--      the queue's max_body_bytes (internal).
-- ----------------------------------------------------------------------
begin
    if i_body is null then
        raise exception 'body is null' using errcode = '22023';
    end if;
    if octet_length(i_body) > q.max_body_bytes then
        raise exception 'body of % bytes exceeds max_body_bytes % of queue "%"',
            octet_length(i_body), q.max_body_bytes, q.name
            using errcode = '54000';
    end if;
end
$$;
