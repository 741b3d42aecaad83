-- The signature before its integer arguments became bigint (a value
-- past 2^31 then met no function at all, not a range error).
drop function if exists @extschema@.seal_prepare(text,int,jsonb);
create or replace function @extschema@.seal_prepare(
    i_queue    text,
    i_n        bigint default 1,
    i_headers  jsonb default null)
returns table (ids bigint[], headers text, encrypt boolean)
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: seal_prepare(i_queue, i_n, i_headers)
--
--      The first half of an encrypted send (send_sealed() is the second):
--      what a client must know before it seals i_n bodies for i_queue.
--      The message ids come from the messages' own sequence, as send()'s
--      do, and are reserved for this session (id_reservations) until
--      send_sealed() uses them, each once; the reservation is part of the
--      caller's transaction. Takes send on the queue.
--
-- Returns:
--      one row: ids, the i_n reserved ids (null when the queue is not
--      encrypted: nothing is reserved, send() it); headers, i_headers
--      (null: {}) as the server prints jsonb, the text the seal
--      authenticates; encrypt, the queue's setting.
--      Errors: TQ002 unknown queue, 22023 bad argument, 42501.
-- ----------------------------------------------------------------------
declare
    q @extschema@.queues;
    v_headers jsonb := coalesce(i_headers, '{}');
begin
    q := @extschema@._queue(i_queue);
    if not @extschema@._may(q.queue_id, 'send') then
        perform @extschema@._deny(q.name, 'send');
    end if;
    if i_n is null or i_n not between 1 and 100000 then
        raise exception 'n must be between 1 and 100000 (got %)', i_n
            using errcode = '22023';
    end if;
    if jsonb_typeof(v_headers) <> 'object' then
        raise exception 'headers must be a JSON object (got %)',
            jsonb_typeof(v_headers) using errcode = '22023';
    end if;
    headers := v_headers::text;
    encrypt := q.encrypt;
    if not q.encrypt then
        return next;
        return;
    end if;
    ids := array(select nextval('@extschema@.messages_id_seq')
                   from generate_series(1, i_n));
    insert into @extschema@.id_reservations (id, backend_pid)
    select x, pg_backend_pid() from unnest(ids) x;
    return next;
end
$$;
