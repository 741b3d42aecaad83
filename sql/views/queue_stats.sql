-- View: queue_stats
--
--      One row per queue: what it holds now (depth = ready + delayed +
--      in_flight + retrying), its dead letters, the age of its oldest
--      ready message, every outcome counted since it was created, and
--      whether it is paused (pause()). Each caller sees the queues it may
--      monitor (grant()).
--
--      Its cost does not grow with the backlog: while the messages'
--      storage is small (at most 2,000 pages, 16 MB: about 100,000
--      messages) the counts are exact; above, they are read from a sample
--      of about 1,000 pages (TABLESAMPLE SYSTEM) and scaled, and
--      estimated is true. Dead letters and the outcome counters are
--      always exact.
create or replace view @extschema@.queue_stats with (security_barrier) as
with size as (
    select coalesce(sum(pg_relation_size(t.relid)), 0) / 8192 as pages
      from pg_partition_tree('@extschema@.messages'::regclass) t
     where t.isleaf),
how as (
    select s.pages > 2000 as estimated,
           least(100, 100.0 * 1000 / greatest(s.pages, 1)) as pct
      from size s),
sample as (
    select mm.queue_id,
           count(*) as depth,
           count(*) filter (where mm.visible_at <= now()) as ready,
           count(*) filter (where mm.visible_at > now()
                              and mm.attempts = 0) as delayed,
           count(*) filter (where mm.visible_at > now()
                              and mm.claimed_at is not null) as in_flight,
           count(*) filter (where mm.visible_at > now()
                              and mm.attempts > 0
                              and mm.claimed_at is null) as retrying,
           now() - min(mm.enqueued_at)
               filter (where mm.visible_at <= now()) as oldest_ready_age
      from @extschema@.messages mm
           tablesample system ((select h.pct from how h))
     where (select h.estimated from how h)
     group by mm.queue_id)
select q.name as queue,
       q.kind,
       coalesce(m.depth, 0) as depth,
       coalesce(m.ready, 0) as ready,
       coalesce(m.delayed, 0) as delayed,
       coalesce(m.in_flight, 0) as in_flight,
       coalesce(m.retrying, 0) as retrying,
       coalesce(d.dead, 0) as dead,
       m.oldest_ready_age,
       c.acked, c.retried, c.dead_lettered, c.ignored, c.expired,
       c.requeued, c.discarded,
       q.paused,
       h.estimated
  from @extschema@.queues q
  cross join how h
  left join lateral (
       -- exact, while the storage is small
       select count(*) as depth,
              count(*) filter (where mm.visible_at <= now()) as ready,
              count(*) filter (where mm.visible_at > now()
                                 and mm.attempts = 0) as delayed,
              count(*) filter (where mm.visible_at > now()
                                 and mm.claimed_at is not null) as in_flight,
              count(*) filter (where mm.visible_at > now()
                                 and mm.attempts > 0
                                 and mm.claimed_at is null) as retrying,
              now() - min(mm.enqueued_at)
                  filter (where mm.visible_at <= now()) as oldest_ready_age
         from @extschema@.messages mm
        where mm.queue_id = q.queue_id and not h.estimated
       union all
       -- scaled from the sample, above
       select round(sm.depth * 100 / h.pct)::bigint,
              round(sm.ready * 100 / h.pct)::bigint,
              round(sm.delayed * 100 / h.pct)::bigint,
              round(sm.in_flight * 100 / h.pct)::bigint,
              round(sm.retrying * 100 / h.pct)::bigint,
              sm.oldest_ready_age
         from sample sm
        where sm.queue_id = q.queue_id and h.estimated
       limit 1) m on true
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
 where @extschema@._may(q.queue_id, 'monitor');
