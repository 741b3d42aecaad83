create or replace function @extschema@.set_dead_letter_sources(
    i_queue    text,
    i_sources  text[])
returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: set_dead_letter_sources(i_queue, i_sources)
--
--      Which queues may name i_queue as their dead_letter_queue (SQS's
--      RedriveAllowPolicy): null, any queue; an empty array, none; else
--      the names of those that may (at most 100, each a queue name; a
--      queue not made yet may be named). Applies when a queue's
--      dead_letter_queue is set from now on: a queue naming i_queue
--      already keeps it. Takes operate on the queue.
--
-- Errors: 42501 no operate, TQ002 unknown queue, 22023 a bad list.
-- ----------------------------------------------------------------------
declare
    q @extschema@.queues;
    v_name text;
begin
    q := @extschema@._queue(i_queue);
    if not @extschema@._may(q.queue_id, 'operate') then
        perform @extschema@._deny(q.name, 'operate');
    end if;
    if i_sources is not null then
        if coalesce(array_ndims(i_sources), 1) <> 1
           or cardinality(i_sources) > 100 then
            raise exception 'dead_letter_sources: at most 100 queue names '
                'in a one-dimensional array' using errcode = '22023';
        end if;
        foreach v_name in array i_sources loop
            if v_name is null
               or not (v_name ~ '^[A-Za-z0-9_-]{1,80}$'
                       or v_name ~ '^[A-Za-z0-9_-]{1,75}[.]fifo$') then
                raise exception 'dead_letter_sources: "%" is not a queue '
                    'name', left(coalesce(v_name, 'null'), 100)
                    using errcode = '22023';
            end if;
        end loop;
        select array_agg(distinct s order by s) into i_sources
          from unnest(i_sources) s;
        i_sources := coalesce(i_sources, '{}');
    end if;
    update @extschema@.queues set dead_letter_sources = i_sources
     where queue_id = q.queue_id;
end
$$;
