create or replace function @extschema@._check_queue(q @extschema@.queues)
returns void
language plpgsql immutable
as $$
-- ----------------------------------------------------------------------
-- Function: _check_queue(q)
--
--      Validates every setting of a queue row before it is written
--      (internal), so a bad value is named instead of reported as a
--      constraint violation. Its integers are checked before they are
--      in the row, by _check_queue_ints().
-- ----------------------------------------------------------------------
begin
    if q.name is null or (q.name !~ '^[A-Za-z0-9_-]{1,80}$'
                          and q.name !~ '^[A-Za-z0-9_-]{1,75}[.]fifo$') then
        raise exception 'invalid queue name "%": use 1 to 80 characters '
            'A-Z, a-z, 0-9, - and _, the last 5 of which may be ".fifo"',
            left(q.name, 100) using errcode = '22023';
    end if;
    if q.kind is null or q.kind not in ('standard', 'fifo') then
        raise exception 'kind must be standard or fifo (got "%")',
            left(q.kind, 100) using errcode = '22023';
    end if;
    if q.kind <> 'fifo' and q.name ~ '[.]fifo$' then
        raise exception 'queue "%" is named like a FIFO queue: a name '
            'ending in ".fifo" is for a fifo queue only', q.name
            using errcode = '22023';
    end if;
    perform @extschema@._check_interval('visibility_timeout',
        q.visibility_timeout, '1 second', '12 hours');
    perform @extschema@._check_interval('backoff_base', q.backoff_base,
        '0', '30 days');
    perform @extschema@._check_interval('backoff_cap', q.backoff_cap,
        '0', '30 days');
    if q.backoff_cap < q.backoff_base then
        raise exception 'backoff_cap (%) must not be below backoff_base (%)',
            q.backoff_cap, q.backoff_base using errcode = '22023';
    end if;
    if q.backoff_jitter is null or q.backoff_jitter not between 0 and 1
       or q.backoff_jitter = 'NaN' then
        raise exception 'backoff_jitter must be between 0 and 1 (got %)',
            q.backoff_jitter using errcode = '22023';
    end if;
    if q.on_exhausted is null
       or q.on_exhausted not in ('review', 'ignore', 'notify') then
        raise exception 'on_exhausted must be review, ignore or notify '
            '(got "%")', left(q.on_exhausted, 100) using errcode = '22023';
    end if;
    perform @extschema@._check_interval('expire_after', q.expire_after,
        '1 second', '365 days');
    perform @extschema@._check_interval('dedup_window', q.dedup_window,
        '0', '30 days');
    perform @extschema@._check_interval('archive_for', q.archive_for,
        '1 second', '3650 days');
    if q.delay is null then
        raise exception 'delay is null' using errcode = '22023';
    end if;
    perform @extschema@._check_interval('delay', q.delay, '0', '365 days');
    if q.encrypt and q.kind = 'fifo' then
        raise exception 'a fifo queue cannot be encrypted: its dedup ids '
            'and requeues may give a message another id than the one its '
            'body was sealed with' using errcode = '22023';
    end if;
end
$$;
