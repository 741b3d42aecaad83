create or replace function @extschema@.cancel(i_ids bigint[], i_reason text)
returns int
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: cancel(i_ids, i_reason)
--
--      An operator takes messages out of their queues, whether ready,
--      delayed, retrying or in flight (a holder's later ack or fail is
--      then fenced off: TQ003, or 0 acked). A reason is required; each
--      message gets an audit_log row (action 'cancel') with it and who
--      did it, and counts as discarded. A message another transaction
--      holds by its lock (take, pop) is waited for. Dead letters are not
--      messages: discard() them.
--
-- Returns:
--      how many messages were cancelled (ids not in a queue are skipped).
--      Errors: 22023 no reason or no ids.
-- ----------------------------------------------------------------------
declare
    r record;
    n int := 0;
begin
    if i_reason is null or btrim(i_reason) = '' then
        raise exception 'a reason is required to cancel messages'
            using errcode = '22023';
    end if;
    if i_ids is null or cardinality(i_ids) = 0
       or array_position(i_ids, null) is not null then
        raise exception 'ids must be a non-empty array without nulls'
            using errcode = '22023';
    end if;
    for r in
        with d as (
            delete from @extschema@.messages m
             where m.id = any (i_ids)
            returning m.id, m.queue_id),
        e as (
            delete from @extschema@.message_errors x
             using d where x.message_id = d.id),
        a as (
            insert into @extschema@.audit_log (action, queue, message_id,
                                               detail)
            select 'cancel', q.name, d.id, left(i_reason, 2000)
              from d join @extschema@.queues q using (queue_id))
        select d.queue_id, count(*) as c from d group by d.queue_id
    loop
        -- A refusal undoes every delete.
        if not @extschema@._may(r.queue_id, 'operate') then
            perform @extschema@._need(r.queue_id, 'operate', 'cancel');
        end if;
        perform @extschema@._count(r.queue_id, 'discarded', r.c);
        n := n + r.c;
    end loop;
    return n;
end
$$;
