-- Privileges, re-applied after every definition (migrate runs this last).
--
--      Functions run as their owner (security definer), so the roles get
--      EXECUTE on the calls they need and no table access, except what an
--      operator needs to read and fix: the stats, the dead letters (body,
--      headers and priority editable), alerts and the audit log.
--      One exception on the hot path: see "Direct send" below.
revoke all on all functions in schema @extschema@ from public;

-- Direct send. libtxq's txq_send inserts into messages itself, as the
-- caller, when the caller may (sql_text.h, SEND_DIRECT): a plpgsql call
-- costs more than the insert (docs/performance.md, "Performance decisions,
-- third pass"). A producer gets INSERT on the columns a send sets, SELECT
-- on the id it gets back, and the queue settings the insert reads; the
-- policies below hold such an insert to exactly what send() would write,
-- so the grant gives a producer nothing send() does not. Owners and
-- superusers bypass row security (enable, not force): the definer
-- functions are unaffected.
-- Made only when missing: ALTER TABLE and CREATE/DROP POLICY lock the
-- table against every reader and writer, and migrate runs on live queues
-- (test_migrate_beside_open_transaction). A changed policy gets a new
-- name, and the old one is dropped by a migration.
do $rls$
begin
    if not (select c.relrowsecurity from pg_catalog.pg_class c
             where c.oid = '@extschema@.messages'::regclass) then
        alter table @extschema@.messages enable row level security;
    end if;
    if not exists (select 1 from pg_catalog.pg_policy p
                    where p.polrelid = '@extschema@.messages'::regclass
                      and p.polname = 'producer_send_plain') then
        create policy producer_send_plain on @extschema@.messages
            for insert to txq_producer
            with check (
                -- _may(queue_id, 'send') inlined (a subquery, not a call:
                -- ~7 us less per row); current_user is the caller here.
                exists (select 1 from @extschema@.queue_grants g
                         where (g.queue_id = messages.queue_id
                                or g.queue_id is null)
                           and g.privilege in ('send', 'admin')
                           and pg_has_role(g.role, 'usage'))
                and enqueued_at = now()
                and visible_at between now() and now() + interval '365 days'
                and group_key is null and dedup_id is null
                and jsonb_typeof(headers) = 'object'
                and (correlation_id is null or length(correlation_id) <= 512)
                and (reply_to is null
                     or reply_to ~ '^[A-Za-z0-9_-]{1,80}$'
                     or reply_to ~ '^[A-Za-z0-9_-]{1,75}[.]fifo$')
                and exists (select 1 from @extschema@.queues q
                             where q.queue_id = messages.queue_id
                               and q.kind = 'standard'
                               and not q.encrypt
                               and octet_length(messages.body)
                                   <= q.max_body_bytes
                               and messages.expires_at
                                   is not distinct from
                                   now() + q.expire_after));
    end if;
    -- INSERT ... RETURNING id must see the new row: a producer sees the
    -- ids of rows enqueued at its own transaction's start, nothing else.
    if not exists (select 1 from pg_catalog.pg_policy p
                    where p.polrelid = '@extschema@.messages'::regclass
                      and p.polname = 'producer_read_back') then
        create policy producer_read_back on @extschema@.messages
            for select to txq_producer
            using (enqueued_at = now());
    end if;
end
$rls$;
grant select (id),
    insert (queue_id, priority, visible_at, enqueued_at, expires_at,
            correlation_id, reply_to, headers, body)
    on @extschema@.messages to txq_producer;
-- The default of messages.part reads the current rotating partition.
grant select on sequence @extschema@.messages_gen to txq_producer;
-- ... and who may send where, which the policy and the statement read.
grant select (queue_id, role, privilege) on @extschema@.queue_grants
    to txq_producer;
grant select (queue_id, name, kind, max_body_bytes, delay, expire_after,
               waiting, waits_seq, wakes_seq, encrypt)
    on @extschema@.queues to txq_producer;
-- ... and whether a registration is pending: SELECT on the wake-up
-- counters (read, not move: setval and nextval need UPDATE and USAGE).
-- create_queue grants it for a new queue (_wake_counters).
do $seq$
declare
    v_q record;
begin
    for v_q in select q.waits_seq, q.wakes_seq from @extschema@.queues q
    loop
        execute format('grant select on sequence %s, %s to txq_producer',
                       v_q.waits_seq, v_q.wakes_seq);
    end loop;
end
$seq$;

grant execute on function
    @extschema@._wake_queue(int)
    to txq_producer;
-- _may() is part of the views' filters and the row policies below, which
-- run as the caller; it tells a caller only what the caller itself holds.
grant execute on function @extschema@._queue_stats(),
    @extschema@._may(int, text),
    @extschema@._may_row(text, bigint, text) to public;

-- The tables txq_operator and txq_admin read (and, the dead letters, edit)
-- directly are held to the grants as the views are: row security shows a
-- role the rows of the queues it may operate. The owner's functions are not
-- under it (enable, not force). Made only when missing, as above.
do $ops$
declare
    v_t record;
begin
    for v_t in
        select * from (values
            ('dead_letter_messages', 'all',
             '@extschema@._may(queue_id, ''operate'')'),
            ('archive', 'select', '@extschema@._may(queue_id, ''operate'')'),
            ('alerts', 'select',
             '@extschema@._may_row(queue, null, ''operate'')'),
            ('audit_log', 'select',
             '@extschema@._may_row(queue, null, ''operate'')'),
            ('message_errors', 'select',
             '@extschema@._may_row(null, message_id, ''operate'')'),
            ('move_tasks', 'select',
             '@extschema@._may(source_queue_id, ''operate'')'))
            as t(name, cmd, expr)
    loop
        if not (select c.relrowsecurity from pg_catalog.pg_class c
                 where c.oid = ('@extschema@.' || v_t.name)::regclass) then
            execute format('alter table %s.%I enable row level security',
                           '@extschema@', v_t.name);
        end if;
        if not exists (select 1 from pg_catalog.pg_policy p
                        where p.polrelid = ('@extschema@.' || v_t.name)
                                           ::regclass
                          and p.polname = 'operate_granted') then
            execute format('create policy operate_granted on %s.%I for %s '
                           'using (%s)', '@extschema@', v_t.name, v_t.cmd,
                           v_t.expr);
        end if;
    end loop;
end
$ops$;
-- _encrypted() is part of libtxq's statements that return messages: it
-- tells whether a queue's bodies are sealed, and nothing else.
grant execute on function @extschema@._encrypted(text) to public;
-- _pooled() is part of libtxq's claiming statements through a transaction
-- pooler: it marks the caller's own transaction, and does nothing else.
grant execute on function @extschema@._pooled(anyelement) to public;

grant execute on function
    @extschema@.send(text, bytea, jsonb, interval, bigint, text, text, text,
                     text, timestamptz),
    @extschema@.send_batch(text, bytea[], jsonb[], interval, bigint, text[],
                           text[], text[], text, timestamptz),
    @extschema@.seal_prepare(text, bigint, jsonb),
    @extschema@.send_sealed(text, bigint[], bytea[], jsonb, interval, bigint,
                            text, text, text, timestamptz)
    to txq_producer, txq_consumer, txq_admin;

grant execute on function
    @extschema@.receive(text, bigint, interval, timestamptz),
    @extschema@.take(text, bigint, timestamptz),
    @extschema@.pop(text, bigint, timestamptz),
    @extschema@.ack(bigint[], bigint[], timestamptz),
    @extschema@.ack_receive(bigint[], bigint[], text, bigint, interval),
    @extschema@.fail(bigint, text, bigint, boolean, interval, timestamptz,
                     double precision),
    @extschema@.set_visibility(bigint, interval, bigint, timestamptz),
    @extschema@.wait_begin(text),
    @extschema@.wait_end(text),
    @extschema@.release_unstarted(int, bigint)
    to txq_consumer, txq_admin;

grant execute on function
    @extschema@.requeue(bigint, interval),
    @extschema@.requeue_all(text),
    @extschema@.discard(bigint, text),
    @extschema@.cancel(bigint[], text),
    @extschema@.purge(text, text),
    @extschema@.pause(text, text),
    @extschema@.resume(text, text),
    @extschema@.schedule(text, text, text, bytea, jsonb, text, boolean,
                         timestamptz),
    @extschema@.unschedule(text),
    @extschema@.maintain(timestamptz),
    @extschema@.start_move_task(text, text, bigint),
    @extschema@.cancel_move_task(bigint),
    @extschema@.run_move_task(bigint, bigint),
    @extschema@.list_move_tasks(text, bigint)
    to txq_operator, txq_admin;
-- It shows a login only the tasks of roles it may act as (txq-sqs).
grant execute on function @extschema@.move_tasks_to_run() to public;
grant select on @extschema@.move_tasks to txq_operator, txq_admin;

grant execute on function
    @extschema@.create_queue(text, text, interval, bigint, interval, interval,
                             double precision, text, bigint, interval, interval,
                             interval, interval, boolean, text),
    @extschema@.alter_queue(text, interval, bigint, interval, interval,
                            double precision, text, bigint, interval, interval,
                            interval, boolean, boolean, interval, boolean,
                            text),
    @extschema@.drop_queue(text, boolean),
    @extschema@.grant(text, name, text[]),
    @extschema@.revoke(text, name, text[])
    to txq_admin;

-- Every call checks the grants of this schema (grant(), _may()), which
-- give the four roles what they had, on every queue ('*'), until an admin
-- revokes them. Roles given grants of their own get what calling the API
-- takes from grant() (_grant_access).
grant select on @extschema@.grants to txq_operator, txq_admin;
grant execute on function @extschema@.peek(text, bigint),
    @extschema@.privileges(text)
    to txq_producer, txq_consumer, txq_operator, txq_admin;
-- A function added since a role got its grants (create or replace keeps
-- the privileges of the ones it had): what calling the API takes, again,
-- for every role that holds a grant here.
select @extschema@._grant_access(g.role, true)
  from (select distinct q.role from @extschema@.queue_grants q
         where exists (select 1 from pg_catalog.pg_roles r
                        where r.oid = q.role)) g;

-- _counter_slot() is part of libtxq's direct pop statement (sql_text.h),
-- which every caller plans; it reads only the backend's pid and xid.
grant execute on function
    @extschema@.backoff(bigint, interval, interval, double precision,
                        double precision),
    @extschema@.schema_version(),
    @extschema@._counter_slot()
    to txq_producer, txq_consumer, txq_operator, txq_admin;

grant select on @extschema@.queue_stats, @extschema@.schedules
    to txq_operator, txq_admin, txq_consumer, txq_producer;
grant select, update (headers, body, priority) on @extschema@.dead_letters
    to txq_operator, txq_admin;

grant execute on function
    @extschema@.publish(text, bytea, jsonb, interval, bigint, text, text, text,
                        text, timestamptz)
    to txq_producer, txq_consumer, txq_admin;

grant execute on function
    @extschema@.create_topic(text, text, text),
    @extschema@.drop_topic(text),
    @extschema@.subscribe(text, text, jsonb),
    @extschema@.unsubscribe(text, text),
    @extschema@.add_route(text, jsonb, text, bigint),
    @extschema@.remove_route(text, bigint)
    to txq_admin;

grant execute on function
    @extschema@.reply(text, text, bytea, jsonb, timestamptz)
    to txq_consumer, txq_admin;

-- txq-worker: run SQL handlers (security invoker: the handler runs as the
-- worker's role), take alerts for the notify command (of the queues the
-- caller may receive from). A worker's role needs receive on its queues
-- (txq_consumer has it on every queue), and operate on every queue
-- (txq_operator) for maintain(), which it skips without it.
grant execute on function
    @extschema@.run_sql_handler(text, @extschema@.message)
    to txq_consumer, txq_admin;
grant execute on function
    @extschema@.worker_take_alerts(text[])
    to txq_consumer, txq_operator, txq_admin;
