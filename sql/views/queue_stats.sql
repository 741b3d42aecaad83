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
--      messages) every page is read and the counts are exact; above, a
--      queue of at most 10,000 messages is still counted exactly, and a
--      bigger one's counts are read from a sample of about 500 pages
--      (TABLESAMPLE SYSTEM), scaled by the pages there are over the pages
--      read, and estimated is true. The plan's cost stays small (no JIT
--      compiling it on every call). Dead letters and the outcome counters
--      are always exact.
create or replace view @extschema@.queue_stats with (security_barrier) as
select s.queue, s.kind, s.depth, s.ready, s.delayed, s.in_flight,
       s.retrying, s.dead, s.oldest_ready_age, s.acked, s.retried,
       s.dead_lettered, s.ignored, s.expired, s.requeued, s.discarded,
       s.paused, s.estimated
  from @extschema@._queue_stats() s;
