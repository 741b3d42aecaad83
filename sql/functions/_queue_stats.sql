create or replace function @extschema@._queue_stats()
returns table (queue text, kind text, depth bigint, ready bigint,
               delayed bigint, in_flight bigint, retrying bigint,
               dead bigint, oldest_ready_age interval, acked bigint,
               retried bigint, dead_lettered bigint, ignored bigint,
               expired bigint, requeued bigint, discarded bigint,
               paused boolean, estimated boolean)
language sql stable security definer
set search_path = pg_catalog, pg_temp
-- A plan made for a big backlog is costed high enough for JIT, which
-- then compiles it on every call (about 30 ms, more than the query).
set jit = off
as $$
-- ----------------------------------------------------------------------
-- Function: _queue_stats()
--
--      The rows of the queue_stats view (internal; see its comment), for
--      the queues the caller may monitor (_may() knows the caller inside
--      a security definer function).
-- ----------------------------------------------------------------------
with size as (
    -- the three partitions (migration 0005), by name: cheaper than
    -- walking the partition tree
    select (pg_relation_size('@extschema@.messages_0'::regclass)
            + pg_relation_size('@extschema@.messages_1'::regclass)
            + pg_relation_size('@extschema@.messages_later'::regclass))
           / 8192 as pages),
how as (
    select s.pages > 2000 as estimated,
           case when s.pages > 2000 then 100.0 * 500 / s.pages
                else 100 end as pct
      from size s),
-- once for all queues (not once per queue, as an inlined CTE would be)
sample as materialized (
    select mm.queue_id, mm.visible_at, mm.attempts, mm.claimed_at,
           mm.enqueued_at, mm.tableoid, (mm.ctid::text::point)[0] as block
      from @extschema@.messages mm
           tablesample system ((select h.pct from how h))
     -- only when some queue may need it
     where (select h.estimated from how h)),
-- The scale: the pages there are over the pages the sample read (those
-- holding a message), rather than over the share asked for, whose number
-- of pages varies from call to call.
scale as materialized (
    select case when h.estimated
                then s.pages::numeric / greatest(1, (
                     select count(*) from (
                            select distinct x.tableoid, x.block
                              from sample x) b))
                else 1 end as f
      from how h, size s),
counts as (
    select x.queue_id,
           count(*) as depth,
           count(*) filter (where x.visible_at <= now()) as ready,
           count(*) filter (where x.visible_at > now()
                              and x.attempts = 0) as delayed,
           count(*) filter (where x.visible_at > now()
                              and x.claimed_at is not null) as in_flight,
           count(*) filter (where x.visible_at > now()
                              and x.attempts > 0
                              and x.claimed_at is null) as retrying,
           now() - min(x.enqueued_at)
               filter (where x.visible_at <= now()) as oldest_ready_age
      from sample x
     group by x.queue_id)
select q.name as queue,
       q.kind,
       case when e.exact then e.depth
            else coalesce(round(m.depth * k.f), 0)::bigint end as depth,
       case when e.exact then e.ready
            else coalesce(round(m.ready * k.f), 0)::bigint end as ready,
       case when e.exact then e.delayed
            else coalesce(round(m.delayed * k.f), 0)::bigint end as delayed,
       case when e.exact then e.in_flight
            else coalesce(round(m.in_flight * k.f), 0)::bigint
       end as in_flight,
       case when e.exact then e.retrying
            else coalesce(round(m.retrying * k.f), 0)::bigint
       end as retrying,
       coalesce(d.dead, 0) as dead,
       case when e.exact then e.oldest_ready_age
            else m.oldest_ready_age end as oldest_ready_age,
       c.acked, c.retried, c.dead_lettered, c.ignored, c.expired,
       c.requeued, c.discarded,
       q.paused,
       not e.exact as estimated
  from @extschema@.queues q
  cross join how h
  cross join scale k
  left join counts m on m.queue_id = q.queue_id
  -- A queue of at most 10,000 messages is counted exactly (through the
  -- index, whatever the table's size): reading 10,001 says it is bigger.
  left join lateral (
       select count(*) <= 10000 or not h.estimated as exact,
              count(*) as depth,
              count(*) filter (where z.visible_at <= now()) as ready,
              count(*) filter (where z.visible_at > now()
                                 and z.attempts = 0) as delayed,
              count(*) filter (where z.visible_at > now()
                                 and z.claimed_at is not null) as in_flight,
              count(*) filter (where z.visible_at > now()
                                 and z.attempts > 0
                                 and z.claimed_at is null) as retrying,
              now() - min(z.enqueued_at)
                  filter (where z.visible_at <= now()) as oldest_ready_age
         from (select mm.visible_at, mm.attempts, mm.claimed_at,
                      mm.enqueued_at
                 from @extschema@.messages mm
                where mm.queue_id = q.queue_id
                -- the ready index's order: read from the index, not a
                -- scan of the table
                order by mm.priority desc, mm.visible_at, mm.id
                limit case when h.estimated then 10001 end) z) e on true
  left join lateral (
       select count(*) as dead
         from @extschema@.dead_letter_messages dd
        where dd.queue_id = q.queue_id) d on true
  left join lateral (
       select coalesce(sum(cc.acked), 0)::bigint as acked,
              coalesce(sum(cc.retried), 0)::bigint as retried,
              coalesce(sum(cc.dead), 0)::bigint as dead_lettered,
              coalesce(sum(cc.ignored), 0)::bigint as ignored,
              coalesce(sum(cc.expired), 0)::bigint as expired,
              coalesce(sum(cc.requeued), 0)::bigint as requeued,
              coalesce(sum(cc.discarded), 0)::bigint as discarded
         from @extschema@.queue_counters cc
        where cc.queue_id = q.queue_id) c on true
 where @extschema@._may(q.queue_id, 'monitor')
$$;
