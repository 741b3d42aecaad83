create or replace function @extschema@._rotate_move(
    i_from smallint,
    i_to smallint,
    i_ready_before timestamptz,
    i_later_after timestamptz,
    i_lapsed_before timestamptz)
returns int
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: _rotate_move(i_from, i_to, i_ready_before, i_later_after,
--                        i_lapsed_before)
--
--      Moves up to 10,000 messages of partition i_from that become ready
--      before i_ready_before to partition i_to, or to part 2 those that
--      are unclaimed and become ready after i_later_after (internal, for
--      _rotate()). A row that a transaction holds (SKIP LOCKED), or that
--      a claim holds which has not lapsed before i_lapsed_before, stays:
--      its holder may ack or fail it at any moment. A moved row keeps its
--      id, attempts, claim and body; a shared body keeps its count (the
--      delete counts it out at commit, this counts it in again).
--
-- Returns:
--      the number of messages moved.
-- ----------------------------------------------------------------------
declare
    v_n int;
begin
    with mv as (
        select m.id from @extschema@.messages m
         where m.part = i_from and m.visible_at < i_ready_before
           and (m.claimed_at is null or m.visible_at < i_lapsed_before)
         order by m.visible_at
         limit 10000
           for update skip locked),
    d as (
        delete from @extschema@.messages m
         where m.part = i_from and m.id = any (array(select mv.id from mv))
        returning m.*),
    b as (
        update @extschema@.bodies b set refs = b.refs + x.n
          from (select d.body_id, count(*)::int as n from d
                 where d.body_id is not null group by d.body_id) x
         where b.id = x.body_id),
    ins as (
        insert into @extschema@.messages (id, queue_id, priority,
            visible_at, attempts, enqueued_at, expires_at, group_key,
            dedup_id, correlation_id, reply_to, last_error, claimed_at,
            claimed_by, headers, body, body_id, part)
        overriding system value
        select d.id, d.queue_id, d.priority, d.visible_at, d.attempts,
               d.enqueued_at, d.expires_at, d.group_key, d.dedup_id,
               d.correlation_id, d.reply_to, d.last_error, d.claimed_at,
               d.claimed_by, d.headers, d.body, d.body_id,
               case when d.visible_at > i_later_after
                         and d.claimed_at is null then 2::smallint
                    else i_to end
          from d
        returning 1)
    select count(*) into v_n from ins;
    return v_n;
end
$$;
