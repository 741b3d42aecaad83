-- View: schedules
--
--      The periodic messages (schedule()): one row per schedule, its cron
--      expression and time zone, its queue, the next tick, the last tick
--      sent, how many it sent and how many missed ticks it skipped. Each
--      caller sees the schedules of the queues it may monitor.
create or replace view @extschema@.schedules with (security_barrier) as
select s.name,
       s.cron,
       s.time_zone,
       q.name as queue,
       s.catch_up,
       s.next_run,
       s.last_run,
       s.runs,
       s.skipped,
       s.headers,
       s.body,
       s.created_at
  from @extschema@.cron_schedules s
  join @extschema@.queues q on q.queue_id = s.queue_id
 where @extschema@._may(s.queue_id, 'monitor');
