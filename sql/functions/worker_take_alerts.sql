create or replace function @extschema@.worker_take_alerts(
    i_skip  text[] default null)
returns table (queue text, alert_count bigint, message_id bigint,
               reason text, error text)
language sql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: worker_take_alerts(i_skip)
--
--      Takes the undelivered alerts of one queue (the one with the oldest
--      undelivered alert, leaving out the queues in i_skip: those whose
--      notify command ran less than notify_interval ago) and marks them
--      delivered, for txq-worker's notify command. Alerts another worker
--      is taking are skipped (SKIP LOCKED), so each alert goes to one
--      command. A storm of failures becomes one summary row. Only the
--      queues the caller may receive from (the worker's own).
--
-- Returns:
--      at most one row: the queue, how many alerts were taken, and the
--      message id, reason and error of the latest.
-- ----------------------------------------------------------------------
    with q as (
        select a.queue from @extschema@.alerts a
         where not a.delivered
           and a.queue <> all (coalesce(i_skip, '{}'))
           and @extschema@._may((select qq.queue_id
                                   from @extschema@.queues qq
                                  where qq.name = a.queue), 'receive')
         order by a.id
         limit 1),
    taken as (
        update @extschema@.alerts a
           set delivered = true
         where a.id in (select a2.id from @extschema@.alerts a2
                          join q on a2.queue = q.queue
                         where not a2.delivered
                           for update of a2 skip locked)
        returning a.id, a.queue, a.message_id, a.reason, a.error)
    select t.queue, count(*),
           (array_agg(t.message_id order by t.id desc))[1],
           (array_agg(t.reason order by t.id desc))[1],
           (array_agg(t.error order by t.id desc))[1]
      from taken t
     group by t.queue;
$$;
