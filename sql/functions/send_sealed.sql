-- The signature before its integer arguments became bigint (a value
-- past 2^31 then met no function at all, not a range error).
drop function if exists @extschema@.send_sealed(text,bigint[],bytea[],jsonb,interval,int,text,text,text,timestamptz);
create or replace function @extschema@.send_sealed(
    i_queue           text,
    i_ids             bigint[],
    i_bodies          bytea[],
    i_headers         jsonb default null,
    i_delay           interval default null,
    i_priority        bigint default null,
    i_group           text default null,
    i_correlation_id  text default null,
    i_reply_to        text default null,
    i_now             timestamptz default null)
returns setof bigint
language plpgsql security definer
set search_path = pg_catalog, pg_temp
set plan_cache_mode = force_generic_plan
as $$
-- ----------------------------------------------------------------------
-- Function: send_sealed(i_queue, i_ids, i_bodies, ...)
--
--      The second half of an encrypted send: enqueues bodies sealed by
--      the client to an encrypted queue, message i_ids[k] with body
--      i_bodies[k], in the caller's transaction. Each id must have been
--      reserved by this session with seal_prepare() and not used since;
--      the reservation is used up. i_headers should be the headers text
--      seal_prepare() returned: the seal authenticates it. The server
--      holds no key: it checks that each body is an envelope (magic
--      "TXQE", version 1, key id of 1 to 32 bytes, nonce and tag), never
--      what it holds. The options apply to every message; max_body_bytes
--      limits the envelope (the body plus its 46 to 77 bytes of seal).
--
-- Returns:
--      the ids, in the order of i_bodies. Errors: TQ002 unknown queue,
--      TQ005 the queue is not encrypted, 22023 an id not reserved by this
--      session, a body that is not an envelope, a bad option; 54000 an
--      envelope above max_body_bytes; 42501.
-- ----------------------------------------------------------------------
declare
    q @extschema@.queues;
    v_now timestamptz := case when i_now is null then now()
                          else @extschema@._clock(i_now) end;
    n int := coalesce(array_length(i_bodies, 1), 0);
    v_got bigint[];
    v_bad bigint;
    i int;
begin
    q := @extschema@._queue(i_queue);
    if not @extschema@._may(q.queue_id, 'send') then
        perform @extschema@._deny(q.name, 'send');
    end if;
    if not q.encrypt then
        raise exception 'queue "%" is not encrypted: send() its messages',
            q.name using errcode = 'TQ005';
    end if;
    if n = 0 or array_ndims(i_bodies) <> 1 then
        raise exception 'bodies must be a non-empty array'
            using errcode = '22023';
    end if;
    if i_ids is null or array_ndims(i_ids) <> 1
       or array_length(i_ids, 1) <> n then
        raise exception 'ids must have one element per body (% bodies)', n
            using errcode = '22023';
    end if;
    if (select count(distinct x) from unnest(i_ids) x) <> n then
        raise exception 'ids must be distinct and not null'
            using errcode = '22023';
    end if;
    select b.i into i
      from unnest(i_bodies) with ordinality as b(body, i)
     where case when b.body is null or octet_length(b.body) < 47 then true
                when substr(b.body, 1, 5) <> '\x5458514501'::bytea then true
                else get_byte(b.body, 5) not between 1 and 32
                     or octet_length(b.body) < 46 + get_byte(b.body, 5) end
     order by b.i limit 1;
    if found then
        raise exception 'body % is not a sealed envelope (TXQE version 1)', i
            using errcode = '22023';
    end if;
    select b.i into i
      from unnest(i_bodies) with ordinality as b(body, i)
     where octet_length(b.body) > q.max_body_bytes
     order by b.i limit 1;
    if found then
        raise exception 'body % of the batch: sealed, % bytes exceeds '
            'max_body_bytes % of queue "%"', i, octet_length(i_bodies[i]),
            q.max_body_bytes, q.name using errcode = '54000';
    end if;
    if i_headers is not null or i_delay is not null or i_priority is not null
       or i_group is not null or i_correlation_id is not null
       or i_reply_to is not null then
        perform @extschema@._check_send(q, i_headers, i_delay, i_priority,
            i_group, null, i_correlation_id, i_reply_to);
    end if;

    with d as (
        delete from @extschema@.id_reservations r
         where r.id = any (i_ids) and r.backend_pid = pg_backend_pid()
        returning r.id)
    select coalesce(array_agg(d.id), '{}') into v_got from d;
    if cardinality(v_got) <> n then
        select x into v_bad from unnest(i_ids) x
         where not x = any (v_got) limit 1;
        raise exception 'message id % was not reserved by this session: '
            'take ids from seal_prepare(), each once', v_bad
            using errcode = '22023';
    end if;

    return query
    insert into @extschema@.messages (id, queue_id, priority, visible_at,
        enqueued_at, expires_at, group_key, correlation_id, reply_to,
        headers, body)
    overriding system value
    select i_ids[b.i], q.queue_id, coalesce(i_priority, 0),
           v_now + coalesce(i_delay, q.delay), v_now, v_now + q.expire_after,
           i_group, i_correlation_id, i_reply_to,
           coalesce(i_headers, '{}'), b.body
      from unnest(i_bodies) with ordinality as b(body, i)
     order by b.i
    returning id;
    if q.waiting then
        perform @extschema@._wake(q);
    end if;
end
$$;
