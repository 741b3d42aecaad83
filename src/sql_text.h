/*
 * sql_text.h - every statement libtxq sends, in one place.
 *
 * @extschema@ stands for the client's quoted schema identifier; client.c
 * splices it in once, when the handle is created (the name is validated, so
 * this is the only text built into SQL). Everything else is a $n parameter.
 */
#ifndef TXQ_SQL_TEXT_H
#define TXQ_SQL_TEXT_H

/*
 * TXQ__STATEMENTS(X) - every statement as X(NAME, hot), the one list the
 * rest is made from: the enum (TXQ__Q_NAME, a stable index), the text
 * (TXQ__SQL_NAME, defined below), the name of its prepared statement
 * (txq_<hash of the text>_<name in lower case>, query.c) and whether it is
 * hot: a per-message call, run as a named prepared statement (query.c);
 * the others run unprepared. client.c builds txq__statements from it.
 */
#define TXQ__STATEMENTS(X)                                               \
    X(SCHEMA_PROBE, 0)                                                   \
    X(SCHEMA_VERSION, 0)                                                 \
    X(MIG_SETUP, 0)                                                      \
    X(MIG_LOCK, 0)                                                       \
    X(MIG_VERSION, 0)                                                    \
    X(MIG_RECORDED, 0)                                                   \
    X(MIG_RECORD, 0)                                                     \
    X(QUIET, 0)                                                          \
    X(NO_BODY_CHECK, 0)                                                  \
    X(QUEUE_CREATE, 0)                                                   \
    X(QUEUE_ALTER, 0)                                                    \
    X(QUEUE_DROP, 0)                                                     \
    X(SEND, 1)                                                           \
    X(SEND_DIRECT, 1)                                                    \
    X(SEND_BATCH, 1)                                                     \
    X(SEND_BATCH_DIRECT, 1)                                              \
    X(RECEIVE, 1)                                                        \
    X(LISTEN, 0)                                                         \
    X(UNLISTEN, 0)                                                       \
    X(WAIT_BEGIN, 1)                                                     \
    X(ACK, 1)                                                            \
    X(FAIL, 1)                                                           \
    X(SET_VISIBILITY, 1)                                                 \
    X(REQUEUE, 0)                                                        \
    X(REQUEUE_ALL, 0)                                                    \
    X(DISCARD, 0)                                                        \
    X(TOPIC_CREATE, 0)                                                   \
    X(TOPIC_DROP, 0)                                                     \
    X(SUBSCRIBE, 0)                                                      \
    X(UNSUBSCRIBE, 0)                                                    \
    X(ROUTE_ADD, 0)                                                      \
    X(ROUTE_REMOVE, 0)                                                   \
    X(PUBLISH, 1)                                                        \
    X(REPLY, 1)                                                          \
    X(ACK_RECEIVE, 1)                                                    \
    X(TAKE, 1)                                                           \
    X(POP, 1)                                                            \
    X(POP_DIRECT, 1)                                                     \
    X(SEAL_PREPARE, 1)                                                   \
    X(SEND_SEALED, 1)                                                    \
    X(DEAD_LETTER, 0)                                                    \
    /* The claiming statements as a client behind a transaction pooler   \
     * runs them (txq__variant): RECEIVE, ACK_RECEIVE and SET_VISIBILITY \
     * with a parameter passed through _pooled(). */                     \
    X(RECEIVE_POOLED, 1)                                                 \
    X(ACK_RECEIVE_POOLED, 1)                                             \
    X(SET_VISIBILITY_POOLED, 1)

enum txq__q {
#define TXQ__Q_ENUM(name, hot) TXQ__Q_##name,
    TXQ__STATEMENTS(TXQ__Q_ENUM)
#undef TXQ__Q_ENUM
        TXQ__Q_COUNT
};

/* $1 = the quoted schema: does the schema, its version table, and its
 * version function exist? */
#define TXQ__SQL_SCHEMA_PROBE                               \
    "select to_regnamespace($1) is not null, "              \
    "to_regclass($1 || '.schema_migrations') is not null, " \
    "to_regprocedure($1 || '.schema_version()') is not null"

/* The version, whether this role may send directly (SEND_DIRECT) and
 * whether it may pop directly (POP_DIRECT), and the backend's pid (a
 * pooler shows libpq another: client.c): asked once per connection.
 * has_table_privilege with a list is true when any one is held: one
 * call per privilege (rows from pairs each table with a privilege).
 * UPDATE on messages: POP_DIRECT locks the rows it deletes (FOR UPDATE);
 * SELECT on bodies: it reads a shared body (a fanout copy's). */
#define TXQ__SQL_SCHEMA_VERSION                                            \
    "select @extschema@.schema_version(), "                                \
    "pg_catalog.has_column_privilege("                                     \
    "pg_catalog.to_regclass('@extschema@.messages'), 'body', 'INSERT') "   \
    "and pg_catalog.has_function_privilege("                               \
    "pg_catalog.to_regprocedure('@extschema@._wake_queue(int)'), "         \
    "'EXECUTE'), "                                                         \
    "(select pg_catalog.bool_and(coalesce(pg_catalog.has_table_privilege(" \
    "pg_catalog.to_regclass('@extschema@.' || t), p), false)) "            \
    "from rows from (pg_catalog.unnest("                                   \
    "array['messages', 'messages', 'messages', 'message_errors', "         \
    "'message_errors', 'queue_counters', 'queue_counters', "               \
    "'queue_counters', 'queues', 'bodies']), "                             \
    "pg_catalog.unnest(array['SELECT', 'UPDATE', 'DELETE', 'SELECT', "     \
    "'DELETE', 'SELECT', 'INSERT', 'UPDATE', 'SELECT', 'SELECT'])) "       \
    "as x(t, p)) "                                                         \
    "and not pg_catalog.row_security_active("                              \
    "pg_catalog.to_regclass('@extschema@.messages')), "                    \
    "pg_catalog.pg_backend_pid()"

/* Run with the simple protocol: two statements. */
#define TXQ__SQL_MIG_SETUP                                      \
    "create schema if not exists @extschema@;\n"                \
    "create table if not exists @extschema@.schema_migrations " \
    "(version int primary key, name text not null, "            \
    "applied_at timestamptz not null default now())"

/* $1 = the schema name. */
#define TXQ__SQL_MIG_LOCK                                      \
    "select pg_advisory_xact_lock(hashtext('txq.migrate:' || " \
    "$1::text))"

#define TXQ__SQL_MIG_VERSION            \
    "select coalesce(max(version), 0) " \
    "from @extschema@.schema_migrations"

#define TXQ__SQL_MIG_RECORDED                             \
    "select count(*) from @extschema@.schema_migrations " \
    "where version = $1::int"

#define TXQ__SQL_MIG_RECORD                                      \
    "insert into @extschema@.schema_migrations (version, name) " \
    "values ($1::int, $2::text)"

#define TXQ__SQL_QUIET "set local client_min_messages = warning"

#define TXQ__SQL_NO_BODY_CHECK "set local check_function_bodies = off"

#define TXQ__SQL_QUEUE_CREATE                                     \
    "select 1 from @extschema@.create_queue($1::text, "           \
    "i_kind => $2::text, "                                        \
    "i_visibility_timeout => make_interval(secs => $3::float8), " \
    "i_max_attempts => $4::int, "                                 \
    "i_backoff_base => make_interval(secs => $5::float8), "       \
    "i_backoff_cap => make_interval(secs => $6::float8), "        \
    "i_backoff_jitter => $7::float8, "                            \
    "i_on_exhausted => $8::text, "                                \
    "i_max_body_bytes => $9::int, "                               \
    "i_expire_after => make_interval(secs => $10::float8), "      \
    "i_dedup_window => make_interval(secs => $11::float8), "      \
    "i_archive_for => make_interval(secs => $12::float8), "       \
    "i_delay => make_interval(secs => $13::float8), "             \
    "i_encrypt => $14::boolean, "                                 \
    "i_dead_letter_queue => $15::text)"

#define TXQ__SQL_QUEUE_ALTER                                      \
    "select 1 from @extschema@.alter_queue($1::text, "            \
    "i_visibility_timeout => make_interval(secs => $2::float8), " \
    "i_max_attempts => $3::int, "                                 \
    "i_backoff_base => make_interval(secs => $4::float8), "       \
    "i_backoff_cap => make_interval(secs => $5::float8), "        \
    "i_backoff_jitter => $6::float8, "                            \
    "i_on_exhausted => $7::text, "                                \
    "i_max_body_bytes => $8::int, "                               \
    "i_expire_after => make_interval(secs => $9::float8), "       \
    "i_dedup_window => make_interval(secs => $10::float8), "      \
    "i_archive_for => make_interval(secs => $11::float8), "       \
    "i_clear_expire_after => $12::boolean, "                      \
    "i_clear_archive_for => $13::boolean, "                       \
    "i_delay => make_interval(secs => $14::float8), "             \
    "i_encrypt => $15::boolean, "                                 \
    "i_dead_letter_queue => $16::text)"

#define TXQ__SQL_QUEUE_DROP \
    "select @extschema@.drop_queue($1::text, $2::boolean)"

/* $2 is a binary bytea. */
#define TXQ__SQL_SEND_CALL                                   \
    "@extschema@.send($1::text, $2, "                        \
    "i_headers => $3::jsonb, "                               \
    "i_delay => make_interval(secs => $4::float8), "         \
    "i_priority => $5::int, i_group => $6::text, "           \
    "i_dedup_id => $7::text, i_correlation_id => $8::text, " \
    "i_reply_to => $9::text)"

#define TXQ__SQL_SEND "select " TXQ__SQL_SEND_CALL

/* The same send without a plpgsql call, for a caller allowed to insert
 * into messages (a txq_producer, the owner): one INSERT ... SELECT when the
 * queue is standard and the send is plain enough for it (no group or dedup
 * id, body within the queue's limit, every option in range); it writes
 * what send() would. Anything else (fifo, an unknown queue, a bad value)
 * inserts nothing here and goes to send() in the same statement, which
 * does it or raises its error. A queue whose waiting flag (set by
 * wait_begin) is on and that has a registration pending (its waits
 * counter ahead of its wakes counter, _wake_pending) goes through
 * _wake_queue. Parameters as in SEND. Row security holds a
 * producer's insert to the same rules (sql/views/zz_privileges.sql). */
#define TXQ__SQL_DIRECT_COLUMNS                                          \
    "insert into @extschema@.messages (queue_id, priority, visible_at, " \
    "enqueued_at, expires_at, correlation_id, reply_to, headers, body) " \
    "select q.queue_id, coalesce($5::int, 0), "                          \
    "now() + coalesce(make_interval(secs => $4::float8), q.delay), "     \
    "now(), now() + q.expire_after, $8::text, $9::text, "                \
    "coalesce($3::jsonb, '{}'), "

/* Conditions on the queue row q only (so they run once per statement):
 * the grant (_may() inlined, as the row policy has it; refused, send()
 * raises the error; a role not under row security, the owner, may), a
 * plain queue (an encrypted one: send() refuses the plaintext), the
 * options' and the wake-up. */
#define TXQ__SQL_DIRECT_CHECKS                                          \
    "q.name = $1::text and q.kind = 'standard' and not q.encrypt "      \
    "and (not pg_catalog.row_security_active('@extschema@.messages') "  \
    "or exists (select from @extschema@.queue_grants g "                \
    "where (g.queue_id = q.queue_id or g.queue_id is null) "            \
    "and g.privilege in ('send', 'admin') "                             \
    "and pg_catalog.pg_has_role(g.role, 'usage'))) "                    \
    "and $6::text is null and $7::text is null "                        \
    "and ($3::jsonb is null or jsonb_typeof($3::jsonb) = 'object') "    \
    "and ($4::float8 is null or $4::float8 between 0 and 31536000) "    \
    "and ($5::int is null or $5::int between -32768 and 32767) "        \
    "and ($8::text is null or length($8::text) <= 512) "                \
    "and ($9::text is null or $9::text ~ '^[A-Za-z0-9_-]{1,80}$' "      \
    "or $9::text ~ '^[A-Za-z0-9_-]{1,75}[.]fifo$') "                    \
    "and (not q.waiting or coalesce(pg_catalog.pg_sequence_last_value(" \
    "q.waits_seq), 0) <= coalesce(pg_catalog.pg_sequence_last_value("   \
    "q.wakes_seq), 0) or @extschema@._wake_queue(q.queue_id)) "

#define TXQ__SQL_SEND_DIRECT                    \
    "with m as (" TXQ__SQL_DIRECT_COLUMNS "$2 " \
    "from @extschema@.queues q "                \
    "where " TXQ__SQL_DIRECT_CHECKS             \
    "and octet_length($2) <= q.max_body_bytes " \
    "returning id) "                            \
    "select coalesce((select m.id from m), " TXQ__SQL_SEND_CALL ")"

/* $2 is a binary bytea[]; $10 is the number of bodies. The per-message
 * arrays repeat the batch's one value. */
#define TXQ__SQL_SEND_BATCH \
    "select t.id from " TXQ__SQL_SEND_BATCH_CALL " as t(id)"
#define TXQ__SQL_SEND_BATCH_CALL                                   \
    "@extschema@.send_batch($1::text, $2, "                        \
    "i_headers => array_fill($3::jsonb, array[$10::int]), "        \
    "i_delay => make_interval(secs => $4::float8), "               \
    "i_priority => $5::int, "                                      \
    "i_groups => array_fill($6::text, array[$10::int]), "          \
    "i_dedup_ids => array_fill($7::text, array[$10::int]), "       \
    "i_correlation_ids => array_fill($8::text, array[$10::int]), " \
    "i_reply_to => $9::text)"

/* SEND_BATCH as SEND_DIRECT is to SEND: the whole batch inserted here, in
 * order, or (nothing inserted) send_batch() does it or raises its error.
 * Parameters as in SEND_BATCH. */
#define TXQ__SQL_SEND_BATCH_DIRECT                                         \
    "with m as (" TXQ__SQL_DIRECT_COLUMNS "b.body "                        \
    "from @extschema@.queues q, unnest($2) with ordinality as b(body, i) " \
    "where " TXQ__SQL_DIRECT_CHECKS                                        \
    "and array_ndims($2) = 1 and not exists (select from unnest($2) x "    \
    "where x is null or octet_length(x) > q.max_body_bytes) "              \
    "order by b.i returning id) "                                          \
    "select m.id from m union all "                                        \
    "select t.id from " TXQ__SQL_SEND_BATCH_CALL " as t(id) "              \
    "where not exists (select from m)"

/* The last column of the statements that return messages: whether the
 * queue named by parameter $1 ($3 for ACK_RECEIVE) is encrypted (its
 * bodies are sealed, and msg.c opens them). A subquery without outer
 * references: evaluated once per statement, when a row comes back. */
#define TXQ__SQL_SEALED_1 "(select @extschema@._encrypted($1::text)) "
#define TXQ__SQL_SEALED_3 "(select @extschema@._encrypted($3::text)) "

/* Requested with binary results; msg.c decodes the columns in this order
 * and checks their types. The timestamps go out as they are (8 bytes,
 * decoded in msg.c): extract(epoch ...) is numeric since PostgreSQL 14,
 * and converting it took ~10% of a 100-message pop's server time. */
#define TXQ__SQL_RECEIVE                                    \
    "select id, queue, attempts, headers::text, body, "     \
    "correlation_id, reply_to, priority::int4, group_key, " \
    "enqueued_at, visible_until, " TXQ__SQL_SEALED_1        \
    "from @extschema@.receive($1::text, $2::int, "          \
    "i_visibility_timeout => make_interval(secs => $3::float8))"

/* RECEIVE through a transaction pooler: _pooled() marks the transaction,
 * so the claims record no backend pid (_claimant()). An argument is
 * evaluated before the function it is passed to runs. */
#define TXQ__SQL_RECEIVE_POOLED                                         \
    "select id, queue, attempts, headers::text, body, "                 \
    "correlation_id, reply_to, priority::int4, group_key, "             \
    "enqueued_at, visible_until, " TXQ__SQL_SEALED_1                    \
    "from @extschema@.receive(@extschema@._pooled($1::text), $2::int, " \
    "i_visibility_timeout => make_interval(secs => $3::float8))"

/* txq_receive inside a transaction: held by a row lock, nothing written;
 * columns as in RECEIVE, visible_until infinite (the transaction's end). */
#define TXQ__SQL_TAKE                                                      \
    "select id, queue, attempts, headers::text, body, "                    \
    "correlation_id, reply_to, priority::int4, group_key, "                \
    "enqueued_at, coalesce(visible_until, 'infinity'), " TXQ__SQL_SEALED_1 \
    "from @extschema@.take($1::text, $2::int)"

/* txq_pop: taken and acked in one statement; columns as in TAKE. */
#define TXQ__SQL_POP                                                       \
    "select id, queue, attempts, headers::text, body, "                    \
    "correlation_id, reply_to, priority::int4, group_key, "                \
    "enqueued_at, coalesce(visible_until, 'infinity'), " TXQ__SQL_SEALED_1 \
    "from @extschema@.pop($1::text, $2::int)"

/* The same pop without a plpgsql call, for a role that may delete from
 * messages itself and is not under row security (the owner, a superuser:
 * asked once per connection, SCHEMA_VERSION): one statement deletes the
 * front of a standard queue that keeps no archive and sets no expiry,
 * deletes the error history of those that had failed, and counts them
 * acked in this backend's counter row, as pop() does. Any other queue (an
 * encrypted one too: this branch's bodies are never sealed; a paused one), an
 * unknown one, a bad max or row security in force: nothing deleted here,
 * pop() does it (or raises its error) in the same statement. Columns as
 * in TAKE, in pop()'s order. The limit is a subquery so that the plan
 * cache keeps the generic plan: with $2 itself the planner prices the
 * generic plan's unknown limit at a tenth of the table, and re-plans
 * (~1 ms) on every call. */
#define TXQ__SQL_POP_DIRECT                                                  \
    "with q as (select q.queue_id, q.name from @extschema@.queues q "        \
    "where q.name = $1::text and q.kind = 'standard' "                       \
    "and q.archive_for is null and q.expire_after is null "                  \
    "and not q.encrypt and not q.paused "                                    \
    "and $2::int between 1 and 100000 "                                      \
    "and not pg_catalog.row_security_active('@extschema@.messages')), "      \
    "d as (delete from @extschema@.messages m where m.id = any (array("      \
    "select s.id from @extschema@.messages s "                               \
    "where s.queue_id = (select q.queue_id from q) "                         \
    "and s.visible_at <= now() "                                             \
    "and (s.expires_at is null or s.expires_at > now()) "                    \
    "order by s.priority desc, s.visible_at, s.id "                          \
    "limit (select $2::int) for update skip locked)) "                       \
    "returning m.id, m.attempts, m.headers, coalesce(m.body, (select "       \
    "b.body from @extschema@.bodies b where b.id = m.body_id)) as body, "    \
    "m.correlation_id, "                                                     \
    "m.reply_to, m.priority, m.group_key, m.enqueued_at, m.visible_at, "     \
    "m.last_error is not null or m.attempts > 0 as failed), "                \
    "hist as (delete from @extschema@.message_errors e "                     \
    "where e.message_id = any (array(select d.id from d where d.failed))), " \
    "ctr as (insert into @extschema@.queue_counters as c "                   \
    "(queue_id, slot, acked) "                                               \
    "select q.queue_id, @extschema@._counter_slot(), n.n from q, "           \
    "(select count(*) as n from d) n where n.n > 0 "                         \
    "on conflict (queue_id, slot) do update "                                \
    "set acked = c.acked + excluded.acked) "                                 \
    "(select d.id, (select q.name from q), d.attempts + 1, "                 \
    "d.headers::text, d.body, d.correlation_id, d.reply_to, "                \
    "d.priority::int4, d.group_key, d.enqueued_at, "                         \
    "'infinity'::timestamptz, false "                                        \
    "from d order by d.priority desc, d.visible_at, d.id) "                  \
    "union all (" TXQ__SQL_POP " where not exists (select from q))"

#define TXQ__SQL_LISTEN     "listen txq_wake"
#define TXQ__SQL_UNLISTEN   "unlisten txq_wake"
#define TXQ__SQL_WAIT_BEGIN "select @extschema@.wait_begin($1::text)"

#define TXQ__SQL_ACK "select @extschema@.ack($1::bigint[], $2::int[])"

/* The consumer's ack of one message plus the claim of its next ones, in
 * the handler's transaction; columns as in RECEIVE. */
#define TXQ__SQL_ACK_RECEIVE                                           \
    "select id, queue, attempts, headers::text, body, "                \
    "correlation_id, reply_to, priority::int4, group_key, "            \
    "enqueued_at, visible_until, " TXQ__SQL_SEALED_3                   \
    "from @extschema@.ack_receive($1::bigint[], $2::int[], $3::text, " \
    "$4::int, i_visibility_timeout => make_interval(secs => $5::float8))"

/* ACK_RECEIVE through a transaction pooler (as RECEIVE_POOLED). */
#define TXQ__SQL_ACK_RECEIVE_POOLED                          \
    "select id, queue, attempts, headers::text, body, "      \
    "correlation_id, reply_to, priority::int4, group_key, "  \
    "enqueued_at, visible_until, " TXQ__SQL_SEALED_3         \
    "from @extschema@.ack_receive($1::bigint[], $2::int[], " \
    "@extschema@._pooled($3::text), $4::int, "               \
    "i_visibility_timeout => make_interval(secs => $5::float8))"

#define TXQ__SQL_FAIL                                    \
    "select @extschema@.fail($1::bigint, $2::text, "     \
    "i_attempt => $3::int, i_permanent => $4::boolean, " \
    "i_retry_after => make_interval(secs => $5::float8))"

#define TXQ__SQL_SET_VISIBILITY                      \
    "select @extschema@.set_visibility($1::bigint, " \
    "make_interval(secs => $2::float8), i_attempt => $3::int)"

/* SET_VISIBILITY through a transaction pooler (as RECEIVE_POOLED). */
#define TXQ__SQL_SET_VISIBILITY_POOLED                                    \
    "select @extschema@.set_visibility(@extschema@._pooled($1::bigint), " \
    "make_interval(secs => $2::float8), i_attempt => $3::int)"

#define TXQ__SQL_REQUEUE     "select @extschema@.requeue($1::bigint)"
#define TXQ__SQL_REQUEUE_ALL "select @extschema@.requeue_all($1::text)"
#define TXQ__SQL_DISCARD     "select @extschema@.discard($1::bigint, $2::text)"

/* === topics (topic.c) and request/reply (request.c) === */

#define TXQ__SQL_TOPIC_CREATE                                     \
    "select 1 from @extschema@.create_topic($1::text, $2::text, " \
    "$3::text)"

#define TXQ__SQL_TOPIC_DROP "select @extschema@.drop_topic($1::text)"

#define TXQ__SQL_SUBSCRIBE \
    "select @extschema@.subscribe($1::text, $2::text, $3::jsonb)"

#define TXQ__SQL_UNSUBSCRIBE \
    "select @extschema@.unsubscribe($1::text, $2::text)"

#define TXQ__SQL_ROUTE_ADD                                         \
    "select @extschema@.add_route($1::text, $2::jsonb, $3::text, " \
    "$4::int)"

#define TXQ__SQL_ROUTE_REMOVE \
    "select @extschema@.remove_route($1::text, $2::int)"

/* $2 is a binary bytea; $3..$9 as in SEND. One row per copy, in order. */
#define TXQ__SQL_PUBLISH                                         \
    "select t.id from unnest(@extschema@.publish($1::text, $2, " \
    "i_headers => $3::jsonb, "                                   \
    "i_delay => make_interval(secs => $4::float8), "             \
    "i_priority => $5::int, i_group => $6::text, "               \
    "i_dedup_id => $7::text, i_correlation_id => $8::text, "     \
    "i_reply_to => $9::text)) with ordinality as t(id, n) "      \
    "order by t.n"

/* $3 is a binary bytea. NULL when the reply queue is gone. */
#define TXQ__SQL_REPLY \
    "select @extschema@.reply($1::text, $2::text, $3, $4::jsonb)"

/* === encrypted queues (seal.c) === */

/* $1 queue, $2 how many ids, $3 headers (NULL: {}). One row: the reserved
 * ids as a bigint[] text (NULL for a plain queue), the headers as the
 * server prints jsonb, and whether the queue is encrypted. */
#define TXQ__SQL_SEAL_PREPARE       \
    "select ids, headers, encrypt " \
    "from @extschema@.seal_prepare($1::text, $2::int, $3::jsonb)"

/* $1 queue, $2 the ids (bigint[] text), $3 a binary bytea[] of envelopes;
 * $4..$9: headers, delay, priority, group, correlation_id, reply_to. */
#define TXQ__SQL_SEND_SEALED                                            \
    "select t.id from @extschema@.send_sealed($1::text, $2::bigint[], " \
    "$3, i_headers => $4::jsonb, "                                      \
    "i_delay => make_interval(secs => $5::float8), "                    \
    "i_priority => $6::int, i_group => $7::text, "                      \
    "i_correlation_id => $8::text, i_reply_to => $9::text) as t(id)"

/* A dead letter as a message (dead.c): columns as in RECEIVE, the time
 * it failed for visible_until, whether its queue is encrypted last. */
#define TXQ__SQL_DEAD_LETTER                                \
    "select id, queue, attempts, headers::text, body, "     \
    "correlation_id, reply_to, priority::int4, group_key, " \
    "enqueued_at, failed_at, coalesce(encrypted, false) "   \
    "from @extschema@.dead_letters where id = $1::bigint"

#endif /* TXQ_SQL_TEXT_H */
