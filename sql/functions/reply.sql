create or replace function @extschema@.reply(
    i_reply_to        text,
    i_correlation_id  text,
    i_body            bytea,
    i_headers         jsonb default null,
    i_now             timestamptz default null)
returns bigint
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: reply(i_reply_to, i_correlation_id, i_body, i_headers, i_now)
--
--      Sends the reply to a request (request/reply): the body goes to the
--      request's reply_to queue with the request's correlation id, in the
--      caller's transaction, so a handler's writes and its reply commit
--      together. A SQL handler calls it as
--          txq.reply(m.reply_to, m.correlation_id, convert_to('ok', 'UTF8'))
--      When the reply queue no longer exists (its requester gave up and
--      dropped it), the reply is dropped: a row in audit_log records it and
--      the result is null; it is not an error, so the handler's work still
--      commits.
--
-- Returns:
--      the reply's message id, or null when dropped. Errors: 22023 no
--      reply_to or correlation id, bad headers; 54000 body too large.
-- ----------------------------------------------------------------------
begin
    if i_reply_to is null then
        raise exception 'the request has no reply_to queue'
            using errcode = '22023';
    end if;
    if i_correlation_id is null then
        raise exception 'the request has no correlation_id'
            using errcode = '22023';
    end if;
    if not exists (select 1 from @extschema@.queues where name = i_reply_to)
    then
        if (i_reply_to !~ '^[A-Za-z0-9_-]{1,80}$'
            and i_reply_to !~ '^[A-Za-z0-9_-]{1,75}[.]fifo$') then
            raise exception 'invalid reply_to queue name "%"',
                left(i_reply_to, 100) using errcode = '22023';
        end if;
        insert into @extschema@.audit_log (action, queue, detail)
        values ('reply_dropped', i_reply_to,
                'reply queue does not exist; correlation_id '
                || left(i_correlation_id, 200));
        return null;
    end if;
    return @extschema@.send(i_reply_to, i_body, i_headers,
        i_correlation_id => i_correlation_id, i_now => i_now);
end
$$;
