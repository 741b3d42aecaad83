-- The signature before its integer arguments became bigint (a value
-- past 2^31 then met no function at all, not a range error).
drop function if exists @extschema@._check_send(txq.queues,jsonb,interval,int,text,text,text,text);
create or replace function @extschema@._check_send(
    q @extschema@.queues, i_headers jsonb, i_delay interval,
    i_priority bigint, i_group text, i_dedup_id text, i_correlation_id text,
    i_reply_to text)
returns void
language plpgsql immutable
as $$
-- ----------------------------------------------------------------------
-- Function: _check_send(q, ...)
--
--      Validates the message attributes of a send (internal); the body is
--      checked by the caller. Raises 22023 naming the bad field.
-- ----------------------------------------------------------------------
begin
    if i_headers is not null and jsonb_typeof(i_headers) <> 'object' then
        raise exception 'headers must be a JSON object (got %)',
            jsonb_typeof(i_headers) using errcode = '22023';
    end if;
    perform @extschema@._check_interval('delay', i_delay, '0', '365 days');
    if i_priority is not null and i_priority not between -32768 and 32767 then
        raise exception 'priority must be between -32768 and 32767 (got %)',
            i_priority using errcode = '22023';
    end if;
    if length(i_group) > 512 then
        raise exception 'group must be at most 512 characters'
            using errcode = '22023';
    end if;
    if length(i_dedup_id) > 512 then
        raise exception 'dedup_id must be at most 512 characters'
            using errcode = '22023';
    end if;
    if length(i_correlation_id) > 512 then
        raise exception 'correlation_id must be at most 512 characters'
            using errcode = '22023';
    end if;
    if i_reply_to is not null and (i_reply_to !~ '^[A-Za-z0-9_-]{1,80}$'
            and i_reply_to !~ '^[A-Za-z0-9_-]{1,75}[.]fifo$') then
        raise exception 'invalid reply_to queue name "%"', left(i_reply_to, 100)
            using errcode = '22023';
    end if;
end
$$;
