-- Privileges, re-applied after every definition (migrate runs this last).
--
--      Functions run as their owner (security definer), so the roles get
--      EXECUTE on the calls they need and no table access, except what an
--      operator needs to read and fix: the stats, the dead letters (body,
--      headers and priority editable), alerts and the audit log.
revoke all on all functions in schema @extschema@ from public;

grant execute on function
    @extschema@.send(text, bytea, jsonb, interval, int, text, text, text,
                     text, timestamptz),
    @extschema@.send_batch(text, bytea[], jsonb[], interval, int, text[],
                           text[], text[], text, timestamptz)
    to txq_producer, txq_consumer, txq_admin;

grant execute on function
    @extschema@.receive(text, int, interval, timestamptz),
    @extschema@.take(text, int, timestamptz),
    @extschema@.pop(text, int, timestamptz),
    @extschema@.ack(bigint[], int[], timestamptz),
    @extschema@.ack_receive(bigint[], int[], text, int, interval),
    @extschema@.fail(bigint, text, int, boolean, interval, timestamptz,
                     double precision),
    @extschema@.set_visibility(bigint, interval, int, timestamptz),
    @extschema@.wait_begin(text),
    @extschema@.wait_end(text)
    to txq_consumer, txq_admin;

grant execute on function
    @extschema@.requeue(bigint, interval),
    @extschema@.requeue_all(text),
    @extschema@.discard(bigint, text),
    @extschema@.maintain(timestamptz)
    to txq_operator, txq_admin;

grant execute on function
    @extschema@.create_queue(text, text, interval, int, interval, interval,
                             double precision, text, int, interval, interval,
                             interval, interval),
    @extschema@.alter_queue(text, interval, int, interval, interval,
                            double precision, text, int, interval, interval,
                            interval, boolean, boolean, interval),
    @extschema@.drop_queue(text, boolean)
    to txq_admin;

grant execute on function
    @extschema@.backoff(int, interval, interval, double precision,
                        double precision),
    @extschema@.schema_version()
    to txq_producer, txq_consumer, txq_operator, txq_admin;

grant select on @extschema@.queue_stats to txq_operator, txq_admin,
    txq_consumer, txq_producer;
grant select, update (headers, body, priority) on @extschema@.dead_letters
    to txq_operator, txq_admin;

grant execute on function
    @extschema@.publish(text, bytea, jsonb, interval, int, text, text, text,
                        text, timestamptz)
    to txq_producer, txq_consumer, txq_admin;

grant execute on function
    @extschema@.create_topic(text, text, text),
    @extschema@.drop_topic(text),
    @extschema@.subscribe(text, text, jsonb),
    @extschema@.unsubscribe(text, text),
    @extschema@.add_route(text, jsonb, text, int),
    @extschema@.remove_route(text, int)
    to txq_admin;

grant execute on function
    @extschema@.reply(text, text, bytea, jsonb, timestamptz)
    to txq_consumer, txq_admin;

-- txq-worker: run SQL handlers (security invoker: the handler runs as the
-- worker's role), take alerts for the notify command. A worker's role needs
-- txq_consumer and txq_operator (it also runs maintain()).
grant execute on function
    @extschema@.run_sql_handler(text, @extschema@.message)
    to txq_consumer, txq_admin;
grant execute on function
    @extschema@.worker_take_alerts(text[])
    to txq_operator, txq_admin;
