create or replace function @extschema@._alert(
    q @extschema@.queues, i_id bigint, i_attempts int, i_reason text,
    i_error text, i_now timestamptz)
returns void
language plpgsql
as $$
-- ----------------------------------------------------------------------
-- Function: _alert(q, i_id, i_attempts, i_reason, i_error, i_now)
--
--      Raises the alert of the notify policy for message i_id of queue q
--      (internal, from _bury and _exhaust): a row in alerts and a
--      NOTIFY txq_alert with a JSON payload.
-- ----------------------------------------------------------------------
declare
    v_alert bigint;
begin
    insert into @extschema@.alerts (raised_at, queue, message_id, reason,
                                    error)
    values (i_now, q.name, i_id, i_reason, left(i_error, 1000))
    returning id into v_alert;
    perform pg_notify('txq_alert', json_build_object(
        'alert_id', v_alert, 'queue', q.name, 'message_id', i_id,
        'reason', i_reason, 'attempts', i_attempts,
        'error', left(i_error, 200))::text);
end
$$;
