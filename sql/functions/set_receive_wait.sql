create or replace function @extschema@.set_receive_wait(
    i_queue  text,
    i_wait   interval)
returns void
language plpgsql security definer
set search_path = pg_catalog, pg_temp
as $$
-- ----------------------------------------------------------------------
-- Function: set_receive_wait(i_queue, i_wait)
--
--      Sets the queue's receive_wait: how long a receive that gives no
--      wait of its own waits for a message (SQS's
--      ReceiveMessageWaitTimeSeconds, which txq-sqs applies), 0 to 20
--      seconds. Takes operate on the queue.
--
-- Errors: 42501 no operate, TQ002 unknown queue, 22023 out of range.
-- ----------------------------------------------------------------------
declare
    q @extschema@.queues;
begin
    q := @extschema@._queue(i_queue);
    if not @extschema@._may(q.queue_id, 'operate') then
        perform @extschema@._deny(q.name, 'operate');
    end if;
    if i_wait is null or i_wait < '0' or i_wait > '20 seconds' then
        raise exception 'receive_wait must be 0 to 20 seconds, not %',
                        coalesce(i_wait::text, 'null')
            using errcode = '22023';
    end if;
    update @extschema@.queues set receive_wait = i_wait
     where queue_id = q.queue_id;
end
$$;
