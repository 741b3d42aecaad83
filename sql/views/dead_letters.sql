-- View: dead_letters
--
--      What a person must look at: each dead letter with its queue, why it
--      died, its attempts, body, headers and the error of every attempt.
--      Body, headers and priority can be edited with a plain UPDATE of this
--      view before txq.requeue(id). Each caller sees the dead letters of
--      the queues it may operate (grant()). encrypted: the body is sealed
--      (an encrypted queue): `txq dead show --key-file` opens it.
create or replace view @extschema@.dead_letters with (security_barrier) as
select d.id,
       (select q.name from @extschema@.queues q
         where q.queue_id = d.queue_id) as queue,
       d.reason,
       d.attempts,
       d.failed_at,
       d.last_error,
       d.headers,
       d.body,
       d.priority,
       d.enqueued_at,
       d.group_key,
       d.correlation_id,
       d.reply_to,
       (select coalesce(jsonb_agg(jsonb_build_object(
                   'attempt', e.attempt, 'error', e.error,
                   'failed_at', e.failed_at) order by e.id), '[]')
          from @extschema@.message_errors e
         where e.message_id = d.id) as errors,
       (select q.encrypt from @extschema@.queues q
         where q.queue_id = d.queue_id) as encrypted
  from @extschema@.dead_letter_messages d
 where @extschema@._may(d.queue_id, 'operate');
