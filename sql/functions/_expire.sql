create or replace function @extschema@._expire(
    q @extschema@.queues, i_now timestamptz, i_limit int default 1000)
returns int
language plpgsql
as $$
-- ----------------------------------------------------------------------
-- Function: _expire(q, i_now, i_limit)
--
--      Moves up to i_limit expired, unclaimed messages of a queue to the
--      dead letters with reason 'expired' (internal): an expired message
--      is never delivered and never silently lost.
--
-- Returns:
--      how many were moved.
-- ----------------------------------------------------------------------
declare
    m @extschema@.messages;
    n int := 0;
begin
    for m in
        -- By an array of ids, so that no plan can join them to a scan of
        -- the whole table.
        delete from @extschema@.messages
         where id = any (array(select id from @extschema@.messages
                                where queue_id = q.queue_id
                                  and expires_at <= i_now
                                  and visible_at <= i_now
                                limit i_limit
                                  for update skip locked))
        returning *
    loop
        perform @extschema@._bury(m, q, 'expired',
            coalesce(m.last_error, 'expired before it was handled'), i_now);
        n := n + 1;
    end loop;
    return n;
end
$$;
