-- The signature before its integer arguments became bigint (a value
-- past 2^31 then met no function at all, not a range error).
drop function if exists @extschema@.peek(text,int);
create or replace function @extschema@.peek(
    i_queue  text,
    i_max    bigint default 10)
returns table (id bigint, state text, attempts int, priority smallint,
               visible_at timestamptz, enqueued_at timestamptz,
               group_key text, correlation_id text, reply_to text,
               last_error text, headers jsonb, body bytea)
language plpgsql stable security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: peek(i_queue, i_max)
--
--      Reads up to i_max messages of a queue without claiming, locking
--      or counting anything, in the order receive() would take the ready
--      ones (then the others, by when they become visible): for a person
--      looking at what a queue holds. state is ready, delayed, in_flight
--      or retrying, as in queue_stats. Needs monitor on the queue.
--
-- Returns:
--      the rows. Errors: TQ002 unknown queue, 22023 bad max, 42501.
-- ----------------------------------------------------------------------
declare
    q @extschema@.queues := @extschema@._queue(i_queue);
begin
    if not @extschema@._may(q.queue_id, 'monitor') then
        perform @extschema@._deny(q.name, 'monitor');
    end if;
    if i_max is null or i_max not between 1 and 1000 then
        raise exception 'max must be between 1 and 1000 (got %)', i_max
            using errcode = '22023';
    end if;
    return query
    select m.id,
           case when m.visible_at <= now() then 'ready'
                when m.claimed_at is not null then 'in_flight'
                when m.attempts > 0 then 'retrying'
                else 'delayed' end,
           m.attempts, m.priority, m.visible_at, m.enqueued_at,
           m.group_key, m.correlation_id, m.reply_to, m.last_error,
           m.headers,
           coalesce(m.body, (select b.body from @extschema@.bodies b
                              where b.id = m.body_id))
      from @extschema@.messages m
     where m.queue_id = q.queue_id
       and (m.expires_at is null or m.expires_at > now())
     order by m.visible_at > now(), m.priority desc, m.visible_at, m.id
     limit i_max;
end
$$;
