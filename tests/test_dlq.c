/*
 * test_dlq.c - dead-letter queues: a queue's dead_letter_queue takes its
 * exhausted and permanently failed messages in the transaction that
 * failed them (a rollback leaves them where they were), as ordinary
 * messages received from it with their id, body, error history and the
 * txq_dead_letter header; a lapsed last claim moves too; txq-worker's
 * failure path moves them; the hostile and wrong settings (unknown, itself,
 * another kind, a cycle, ignore, encrypted, no send on the target, no
 * operate on the source, dropping a target) get an error naming the
 * problem and change nothing; move tasks take them back in batches and
 * stop when cancelled; the CLI sets, shows and removes the setting.
 *
 * Needs TXQ_TEST_DSN (ctest's pg_start fixture provides it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt.h"

#include "handlers/wt.h"

/* Queues dlq and src (2 attempts, its dead-letter queue dlq), made through
 * libtxq's options. */
static void
make_pair(tt_fixture *f, const char *kind)
{
    int fifo = strcmp(kind, "fifo") == 0;

    tt_queue(f, "dlq", TXQ_QUEUE_OPTS(.fifo = fifo));
    tt_queue(f, "src",
             TXQ_QUEUE_OPTS(.fifo = fifo, .max_attempts = 2,
                            .dead_letter_queue = "dlq"));
}

/* Receive the one message of queue and fail it at once (retry_after 0);
 * returns the outcome. */
static txq_outcome
fail_one(tt_fixture *f, const char *queue, int permanent)
{
    txq_msg **m = tt_take(f, f->pg, queue, 0);
    txq_outcome out = 0;

    assert_txq_ok(f->c, txq_fail(f->c, f->pg, m[0], "it broke",
                                 TXQ_FAIL_OPTS(.permanent = permanent,
                                               .set = TXQ_FAIL_SET_RETRY_AFTER),
                                 &out));
    txq_msgs_free(m, 1);
    return out;
}

/* Where message id is: rows of it in messages (any queue) plus rows in
 * the dead letters. Exactly one place, always. */
static long long
places(tt_fixture *f, int64_t id)
{
    return tt_scalar(f->pg,
                     "select (select count(*) from messages where id = %lld) "
                     "+ (select count(*) from dead_letter_messages "
                     "where id = %lld)",
                     (long long)id, (long long)id);
}

static long long
in_queue(tt_fixture *f, const char *queue)
{
    return tt_scalar(f->pg,
                     "select count(*) from messages m join queues q "
                     "using (queue_id) where q.name = '%s'",
                     queue);
}

static void
test_exhausted_moves_in_its_transaction(void **state)
{
    tt_fixture *f = *state;
    txq_msg **m;
    int64_t id;
    char buf[256];

    make_pair(f, "standard");
    id = tt_send(f, f->pg, "src", "order 7");
    assert_int_equal(fail_one(f, "src", 0), TXQ_OUTCOME_RETRY);

    /* The last attempt fails inside a transaction that rolls back: the
     * message stays in src, nowhere else. */
    m = tt_take(f, f->pg, "src", 0);
    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c, txq_fail(f->c, f->pg, m[0], "last straw",
                                 TXQ_FAIL_OPTS(.set = TXQ_FAIL_SET_RETRY_AFTER),
                                 NULL));
    assert_int_equal(in_queue(f, "dlq"), 1);
    assert_int_equal(in_queue(f, "src"), 0);
    tt_exec(f->pg, "rollback");
    assert_int_equal(in_queue(f, "src"), 1);
    assert_int_equal(in_queue(f, "dlq"), 0);
    assert_int_equal(places(f, id), 1);

    /* Committed: in dlq only, not in the dead letters. */
    tt_exec(f->pg, "begin");
    txq_outcome out = 0;
    assert_txq_ok(f->c, txq_fail(f->c, f->pg, m[0], "last straw",
                                 TXQ_FAIL_OPTS(.set = TXQ_FAIL_SET_RETRY_AFTER),
                                 &out));
    tt_exec(f->pg, "commit");
    txq_msgs_free(m, 1);
    assert_int_equal(out, TXQ_OUTCOME_MOVED);
    assert_int_equal(in_queue(f, "src"), 0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from "
                                      "dead_letter_messages"),
                     0);
    assert_int_equal(places(f, id), 1);

    /* Received from dlq like any other message: same id and body, a fresh
     * attempt count, where it came from in its headers. */
    m = tt_take(f, f->pg, "dlq", 0);
    assert_int_equal(txq_msg_id(m[0]), id);
    assert_string_equal(txq_msg_queue(m[0]), "dlq");
    assert_int_equal(txq_msg_attempt(m[0]), 1);
    assert_string_equal(txq_msg_body(m[0], NULL), "order 7");
    assert_true(tt_json_eq(f->pg,
                           "{\"source_queue\": \"src\", \"attempts\": 2, "
                           "\"reason\": \"exhausted\", \"error\": "
                           "\"last straw\"}",
                           tt_text(f->pg, buf, sizeof buf,
                                   "select (headers->'txq_dead_letter') "
                                   "- 'failed_at' - 'id' from messages "
                                   "where id = %lld",
                                   (long long)id)));
    assert_int_equal(tt_scalar(f->pg,
                               "select (headers->'txq_dead_letter'->>'id')"
                               "::bigint from messages where id = %lld",
                               (long long)id),
                     id);
    /* Its error history stays with its id; counted dead on src. */
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from message_errors "
                               "where message_id = %lld",
                               (long long)id),
                     2);
    assert_int_equal(tt_scalar(f->pg, "select dead_lettered from queue_stats "
                                      "where queue = 'src'"),
                     1);
    assert_txq_ok(f->c, txq_ack(f->c, f->pg, m[0]));
    txq_msgs_free(m, 1);
    assert_int_equal(places(f, id), 0);
}

/* A permanent failure moves at once; notify still raises its alert. */
static void
test_permanent_moves_and_notify_alerts(void **state)
{
    tt_fixture *f = *state;
    int64_t id;

    make_pair(f, "standard");
    tt_exec(f->pg, "select alter_queue('src', i_on_exhausted => 'notify')");
    id = tt_send(f, f->pg, "src", "x");
    assert_int_equal(fail_one(f, "src", 1), TXQ_OUTCOME_MOVED);
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from messages where id = %lld "
                               "and headers->'txq_dead_letter'->>'reason' = "
                               "'permanent' and queue_id = (select queue_id "
                               "from queues where name = 'dlq')",
                               (long long)id),
                     1);
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from alerts where queue = "
                               "'src' and message_id = %lld",
                               (long long)id),
                     1);
}

/* A consumer that dies on the last attempt: its lapsed claim moves the
 * message when the next receive finds it (the clock passed as i_now). */
static void
test_lapsed_last_claim_moves(void **state)
{
    tt_fixture *f = *state;
    int64_t id;

    make_pair(f, "standard");
    id = tt_send(f, f->pg, "src", "x");
    tt_exec(f->pg, "select count(*) from receive('src', 1)");
    tt_exec(f->pg, "select count(*) from receive('src', 1, "
                   "i_now => now() + interval '1 minute')");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from receive('src', 1, "
                                      "i_now => now() + interval '2 minutes')"),
                     0);
    assert_int_equal(in_queue(f, "dlq"), 1);
    assert_int_equal(places(f, id), 1);
    assert_int_equal(tt_scalar(f->pg,
                               "select (headers->'txq_dead_letter'->>"
                               "'attempts')::int from messages where id = %lld",
                               (long long)id),
                     2);
}

/* A fifo source moves into a fifo dead-letter queue. */
static void
test_fifo_pair(void **state)
{
    tt_fixture *f = *state;
    txq_msg **m;
    int64_t id;

    make_pair(f, "fifo");
    id = tt_scalar(f->pg, "select send('src', 'a'::bytea, i_group => 'g')");
    fail_one(f, "src", 0);
    assert_int_equal(fail_one(f, "src", 0), TXQ_OUTCOME_MOVED);
    m = tt_take(f, f->pg, "dlq", 0);
    assert_int_equal(txq_msg_id(m[0]), id);
    assert_string_equal(txq_msg_group(m[0]), "g");
    txq_msgs_free(m, 1);
}

/* Each wrong setting: the error names it, and nothing changed. */
static void
refused(tt_fixture *f, const char *state, const char *needle, const char *sql)
{
    char msg[512];

    assert_string_equal(tt_fails(f->pg, msg, sizeof msg, "%s", sql), state);
    if (strstr(msg, needle) == NULL)
        fail_msg("\"%s\" not in \"%s\"", needle, msg);
}

static void
test_bad_settings_refused(void **state)
{
    tt_fixture *f = *state;
    char before[512], after[512];
    const char *snap = "select string_agg(name || ':' || coalesce("
                       "dead_letter_queue_id::text, '-') || on_exhausted, ',' "
                       "order by name) from queues";

    make_pair(f, "standard");
    tt_queue(f, "ff", TXQ_QUEUE_OPTS(.fifo = 1));
    tt_queue(f, "sealed", TXQ_QUEUE_OPTS(.encrypt = 1));
    tt_text(f->pg, before, sizeof before, "%s", snap);

    refused(f, "TQ002", "dead_letter_queue: unknown queue \"nope\"",
            "select create_queue('x', i_dead_letter_queue => 'nope')");
    refused(f, "22023", "cannot be its own dead_letter_queue",
            "select create_queue('x', i_dead_letter_queue => 'x')");
    refused(f, "22023", "cannot be its own dead_letter_queue",
            "select alter_queue('dlq', i_dead_letter_queue => 'dlq')");
    refused(f, "22023", "the dead-letter queue of a fifo queue must be fifo",
            "select create_queue('x', i_kind => 'fifo', "
            "i_dead_letter_queue => 'dlq')");
    refused(f, "22023", "standard queue standard",
            "select alter_queue('src', i_dead_letter_queue => 'ff')");
    refused(f, "22023", "would make a cycle",
            "select alter_queue('dlq', i_dead_letter_queue => 'src')");
    refused(f, "22023", "on_exhausted ignore",
            "select alter_queue('src', i_on_exhausted => 'ignore')");
    refused(f, "22023", "on_exhausted ignore",
            "select create_queue('x', i_on_exhausted => 'ignore', "
            "i_dead_letter_queue => 'dlq')");
    refused(f, "22023", "encrypted",
            "select alter_queue('src', i_dead_letter_queue => 'sealed')");
    refused(f, "22023", "encrypted",
            "select create_queue('x', i_encrypt => true, "
            "i_dead_letter_queue => 'dlq')");
    refused(f, "22023", "is a dead_letter_queue: it cannot be encrypted",
            "select alter_queue('dlq', i_encrypt => true)");
    refused(f, "55000", "is the dead_letter_queue of queue \"src\"",
            "select drop_queue('dlq', i_force => true)");
    tt_text(f->pg, after, sizeof after, "%s", snap);
    assert_string_equal(before, after);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues "
                                      "where name = 'x'"),
                     0);

    /* libtxq checks the name before the server sees it. */
    assert_txq_rc(f->c,
                  txq_queue_alter(f->c, f->pg, "src",
                                  TXQ_QUEUE_OPTS(.dead_letter_queue = "B.d")),
                  TXQ_EINVAL);
    assert_non_null(strstr(txq_errmsg(f->c), "dead_letter_queue"));
    /* Removed with the set bit and no name; then the target drops. */
    assert_txq_ok(f->c,
                  txq_queue_alter(
                      f->c, f->pg, "src",
                      TXQ_QUEUE_OPTS(.set = TXQ_QUEUE_SET_DEAD_LETTER_QUEUE)));
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues where "
                                      "dead_letter_queue_id is not null"),
                     0);
    assert_txq_ok(f->c, txq_queue_drop(f->c, f->pg, "dlq", 0));
}

/* A session acting as a fresh role without grants (its name into role). */
static PGconn *
as_role(tt_fixture *f, char *role, size_t size, const char *tag)
{
    PGconn *pg = tt_connect(f->schema);

    tt_role(f, role, size, tag, NULL);
    tt_exec(pg, "set role %s", role);
    return pg;
}

static void
test_no_rights_widened(void **state)
{
    tt_fixture *f = *state;
    char op[64], snd[64], msg[512], hint[128];
    PGconn *a, *b;

    tt_queue(f, "src", NULL);
    tt_queue(f, "secret", NULL);
    tt_queue(f, "dlq", NULL);
    /* op operates src but may not send to secret. */
    a = as_role(f, op, sizeof op, "op");
    tt_exec(f->pg, "select %s.grant('src', '%s', array['operate'])", f->schema,
            op);
    tt_exec(f->pg, "select %s.grant('dlq', '%s', array['send'])", f->schema,
            op);
    assert_string_equal(tt_fails(a, msg, sizeof msg,
                                 "select alter_queue('src', "
                                 "i_dead_letter_queue => 'secret')"),
                        "42501");
    snprintf(hint, sizeof hint, "role \"%s\" lacks \"send\"", op);
    assert_non_null(strstr(msg, hint));
    assert_non_null(strstr(msg, "queue \"secret\""));
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues where "
                                      "dead_letter_queue_id is not null"),
                     0);
    /* With send on dlq it may. */
    tt_exec(a, "select alter_queue('src', i_dead_letter_queue => 'dlq')");

    /* snd may send to secret but operates nothing: src stays as it is. */
    b = as_role(f, snd, sizeof snd, "snd");
    tt_exec(f->pg, "select %s.grant('secret', '%s', array['send'])", f->schema,
            snd);
    assert_string_equal(tt_fails(b, msg, sizeof msg,
                                 "select alter_queue('src', "
                                 "i_dead_letter_queue => 'secret')"),
                        "42501");
    assert_non_null(strstr(msg, "lacks \"operate\" on queue \"src\""));
    /* Only admin creates queues, whatever it names. */
    assert_string_equal(tt_fails(b, msg, sizeof msg,
                                 "select create_queue('x', "
                                 "i_dead_letter_queue => 'secret')"),
                        "42501");
    /* A move task out of dlq needs operate on it, and send where it goes. */
    assert_string_equal(
        tt_fails(b, msg, sizeof msg, "select start_move_task('dlq', 'secret')"),
        "42501");
    tt_exec(f->pg, "select %s.grant('dlq', '%s', array['operate'])", f->schema,
            op);
    assert_string_equal(
        tt_fails(a, msg, sizeof msg, "select start_move_task('dlq', 'secret')"),
        "42501");
    assert_non_null(strstr(msg, "lacks \"send\" on queue \"secret\""));
    assert_int_equal(tt_scalar(f->pg, "select count(*) from move_tasks"), 0);
    assert_int_equal(tt_scalar(f->pg, "select (dead_letter_queue_id = "
                                      "(select queue_id from queues where "
                                      "name = 'dlq'))::int from queues "
                                      "where name = 'src'"),
                     1);
    PQfinish(a);
    PQfinish(b);
    tt_exec(f->pg, "select %s.revoke('src', '%s')", f->schema, op);
    tt_exec(f->pg, "select %s.revoke('dlq', '%s')", f->schema, op);
    tt_exec(f->pg, "select %s.revoke('secret', '%s')", f->schema, snd);
    tt_exec(f->pg, "drop role %s", op);
    tt_exec(f->pg, "drop role %s", snd);
}

/* A queue's dead_letter_sources say which queues may name it (SQS's
 * RedriveAllowPolicy): null any, {} none, else those named; bad lists and
 * callers without operate are refused and change nothing; a queue naming
 * it already keeps it. */
static void
test_dead_letter_sources(void **state)
{
    tt_fixture *f = *state;
    char op[64], msg[512], sources[256];
    PGconn *a;
    const char *src_dlq = "select coalesce((select d.name from queues s join "
                          "queues d on d.queue_id = s.dead_letter_queue_id "
                          "where s.name = 'src'), '-')";

    tt_queue(f, "src", NULL);
    tt_queue(f, "other", NULL);
    tt_queue(f, "dlq", NULL);
    /* None may: src cannot name it, nothing changes. */
    tt_exec(f->pg, "select set_dead_letter_sources('dlq', '{}')");
    refused(f, "22023",
            "queue \"dlq\" does not allow queue \"src\" to name it as its "
            "dead_letter_queue",
            "select alter_queue('src', i_dead_letter_queue => 'dlq')");
    refused(f, "22023", "does not allow queue \"x\"",
            "select create_queue('x', i_dead_letter_queue => 'dlq')");
    tt_text(f->pg, msg, sizeof msg, "%s", src_dlq);
    assert_string_equal(msg, "-");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues "
                                      "where name = 'x'"),
                     0);
    /* By name: src may (duplicates and order do not matter), other not. */
    tt_exec(f->pg, "select set_dead_letter_sources('dlq', "
                   "array['src', 'later.fifo', 'src'])");
    tt_text(f->pg, sources, sizeof sources,
            "select dead_letter_sources::text from queues where name = 'dlq'");
    assert_string_equal(sources, "{later.fifo,src}");
    tt_exec(f->pg, "select alter_queue('src', i_dead_letter_queue => 'dlq')");
    tt_text(f->pg, msg, sizeof msg, "%s", src_dlq);
    assert_string_equal(msg, "dlq");
    refused(f, "22023", "does not allow queue \"other\"",
            "select alter_queue('other', i_dead_letter_queue => 'dlq')");
    /* Bad lists change nothing. */
    refused(f, "22023", "\"bad name\" is not a queue name",
            "select set_dead_letter_sources('dlq', array['bad name'])");
    refused(f, "22023", "\"null\" is not a queue name",
            "select set_dead_letter_sources('dlq', array[null])");
    refused(f, "22023", "one-dimensional",
            "select set_dead_letter_sources('dlq', array[['a'], ['b']])");
    refused(f, "22023", "at most 100",
            "select set_dead_letter_sources('dlq', "
            "array(select 'q' || i from generate_series(1, 101) i))");
    refused(f, "TQ002", "nope", "select set_dead_letter_sources('nope', '{}')");
    tt_text(f->pg, msg, sizeof msg,
            "select dead_letter_sources::text from queues where name = 'dlq'");
    assert_string_equal(msg, sources);
    /* Operate on the queue is what it takes: send on another is not. */
    a = as_role(f, op, sizeof op, "op");
    tt_exec(f->pg, "select %s.grant('other', '%s', array['send', 'operate'])",
            f->schema, op);
    assert_string_equal(tt_fails(a, msg, sizeof msg,
                                 "select set_dead_letter_sources('dlq', null)"),
                        "42501");
    assert_non_null(strstr(msg, "lacks \"operate\" on queue \"dlq\""));
    tt_exec(f->pg, "select %s.grant('dlq', '%s', array['operate'])", f->schema,
            op);
    tt_exec(a, "select set_dead_letter_sources('dlq', '{}')");
    /* A queue naming it already keeps it; null lets any queue again. */
    tt_text(f->pg, msg, sizeof msg, "%s", src_dlq);
    assert_string_equal(msg, "dlq");
    tt_exec(a, "select set_dead_letter_sources('dlq', null)");
    tt_exec(f->pg, "select alter_queue('other', i_dead_letter_queue => 'dlq')");
    PQfinish(a);
    tt_exec(f->pg, "select %s.revoke('dlq', '%s')", f->schema, op);
    tt_exec(f->pg, "select %s.revoke('other', '%s')", f->schema, op);
    tt_exec(f->pg, "drop role %s", op);
}

/* Three messages dead-lettered from src; a task takes them back in
 * batches, each atomic, counting; a second task to another queue is
 * cancelled half-way. */
static void
test_move_tasks(void **state)
{
    tt_fixture *f = *state;
    int64_t task;
    int i;
    char st[32], sql[64];

    make_pair(f, "standard");
    tt_queue(f, "other", NULL);
    for (i = 0; i < 3; i++)
        tt_send(f, f->pg, "src", "x");
    for (i = 0; i < 3; i++)
        assert_int_equal(fail_one(f, "src", 1), TXQ_OUTCOME_MOVED);
    /* One without provenance, sent to dlq directly: no source to go to. */
    tt_send(f, f->pg, "dlq", "direct");
    assert_int_equal(in_queue(f, "dlq"), 4);

    task = tt_scalar(f->pg, "select start_move_task('dlq')");
    assert_int_equal(tt_scalar(f->pg, "select to_move from move_tasks"), 3);
    /* One task per source queue at a time. */
    refused(f, "55000", "has a move task running already",
            "select start_move_task('dlq', 'other')");
    tt_text(f->pg, st, sizeof st, "select run_move_task(%lld, 2)",
            (long long)task);
    assert_string_equal(st, "RUNNING");
    assert_int_equal(in_queue(f, "src"), 2);
    assert_int_equal(tt_scalar(f->pg, "select moved from move_tasks"), 2);
    tt_text(f->pg, st, sizeof st, "select run_move_task(%lld, 2)",
            (long long)task);
    assert_string_equal(st, "COMPLETED");
    assert_int_equal(in_queue(f, "src"), 3);
    assert_int_equal(in_queue(f, "dlq"), 1);
    assert_int_equal(tt_scalar(f->pg, "select moved from move_tasks"), 3);
    /* Back in src with a fresh count: receivable again. */
    assert_int_equal(tt_scalar(f->pg, "select count(*) from receive('src', "
                                      "10) where attempts = 1"),
                     3);

    /* To another queue, cancelled after the first batch. */
    task = tt_scalar(f->pg, "select start_move_task('dlq', 'other', 1)");
    tt_send(f, f->pg, "dlq", "direct 2");
    assert_int_equal(tt_scalar(f->pg,
                               "select to_move from move_tasks where "
                               "task_id = %lld",
                               (long long)task),
                     1);
    tt_text(f->pg, st, sizeof st, "select run_move_task(%lld, 1)",
            (long long)task);
    assert_string_equal(st, "COMPLETED");
    task = tt_scalar(f->pg, "select start_move_task('dlq', 'other')");
    assert_int_equal(
        tt_scalar(f->pg, "select cancel_move_task(%lld)", (long long)task), 0);
    tt_text(f->pg, st, sizeof st, "select run_move_task(%lld, 10)",
            (long long)task);
    assert_string_equal(st, "CANCELLED");
    assert_int_equal(in_queue(f, "dlq"), 1);
    assert_int_equal(in_queue(f, "other"), 1);
    snprintf(sql, sizeof sql, "select cancel_move_task(%lld)", (long long)task);
    refused(f, "55000", "only a running task can be cancelled", sql);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from audit_log where "
                                      "action in ('start_move_task', "
                                      "'cancel_move_task')"),
                     4);
}

/* A task runs with its role's rights: another role is refused, and the
 * task fails, naming why, once its own role lost what it needs. */
static void
test_move_task_keeps_to_its_rights(void **state)
{
    tt_fixture *f = *state;
    char op[64], other[64], msg[512], st[32];
    PGconn *a, *b;
    long long task;

    tt_queue(f, "dlq", NULL);
    tt_queue(f, "dest", NULL);
    tt_send(f, f->pg, "dlq", "x");
    a = as_role(f, op, sizeof op, "op");
    b = as_role(f, other, sizeof other, "other");
    tt_exec(f->pg, "select %s.grant('dlq', '%s', array['operate'])", f->schema,
            op);
    tt_exec(f->pg, "select %s.grant('dest', '%s', array['send'])", f->schema,
            op);
    tt_exec(f->pg, "select %s.grant('dest', '%s', array['send'])", f->schema,
            other);
    task = tt_scalar(a, "select start_move_task('dlq', 'dest')");
    assert_string_equal(
        tt_fails(b, msg, sizeof msg, "select run_move_task(%lld)", task),
        "42501");
    tt_exec(f->pg, "select %s.revoke('dest', '%s')", f->schema, op);
    tt_text(a, st, sizeof st, "select run_move_task(%lld)", task);
    assert_string_equal(st, "FAILED");
    tt_text(f->pg, msg, sizeof msg,
            "select failure_reason from move_tasks where task_id = %lld", task);
    assert_non_null(strstr(msg, "lacks \"send\" on queue \"dest\""));
    assert_int_equal(in_queue(f, "dlq"), 1);
    assert_int_equal(in_queue(f, "dest"), 0);
    PQfinish(a);
    PQfinish(b);
    tt_exec(f->pg, "select %s.revoke('dlq', '%s')", f->schema, op);
    tt_exec(f->pg, "select %s.revoke('dest', '%s')", f->schema, other);
    tt_exec(f->pg, "delete from move_tasks");
    tt_exec(f->pg, "drop role %s", op);
    tt_exec(f->pg, "drop role %s", other);
}

/* txq-worker: a handler that always fails; the message ends in dlq. */
static void
test_worker_moves(void **state)
{
    wt_test *w = wt_test_new(state);
    tt_fixture *f = w->f;
    char h[128], buf[64];
    const char *args[] = {"--handle", h, NULL};
    int64_t id;

    *state = w;
    tt_exec(f->pg,
            "create function h_fail(m message) returns void language plpgsql "
            "as $$ begin raise exception 'no luck'; end $$");
    tt_exec(f->pg, "select create_queue('dlq')");
    wt_test_queue(w, "jobs", "i_dead_letter_queue => 'dlq'");
    snprintf(h, sizeof h, "jobs=sql:%s.h_fail", f->schema);
    id = tt_send(f, f->pg, "jobs", "x");
    wt_test_start(w, args);
    wt_await(f->pg, 1, 20,
             "select count(*) from messages m join queues q using (queue_id) "
             "where q.name = 'dlq'");
    wt_test_stop(w);
    assert_int_equal(places(f, id), 1);
    tt_text(f->pg, buf, sizeof buf,
            "select headers->'txq_dead_letter'->>'attempts' from messages "
            "where id = %lld",
            (long long)id);
    assert_string_equal(buf, "3");
    {
        char *log = wt_read(w->log);

        assert_non_null(log);
        assert_non_null(strstr(log, "action=moved"));
        free(log);
    }
}

static void
test_cli(void **state)
{
    tt_fixture *f = *state;
    tt_run r;

    TT_RUN_OK(f, "queue", "create", "dlq");
    TT_RUN_OK(f, "queue", "create", "src", "--dead-letter-queue", "dlq");
    TT_RUN(f, &r, "queue", "list", "--json");
    tt_run_ok(&r);
    assert_non_null(strstr(r.out, "\"dead_letter_queue\":\"dlq\""));
    tt_run_free(&r);
    TT_RUN_FAILS(f, 1, "would make a cycle", "queue", "alter", "dlq",
                 "--dead-letter-queue", "src");
    TT_RUN_FAILS(f, 1, "is the dead_letter_queue of queue \"src\"", "queue",
                 "drop", "dlq");
    TT_RUN_OK(f, "queue", "alter", "src", "--dead-letter-queue", "off");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues where "
                                      "dead_letter_queue_id is not null"),
                     0);
    TT_RUN_OK(f, "queue", "drop", "dlq");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_exhausted_moves_in_its_transaction,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_permanent_moves_and_notify_alerts,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_lapsed_last_claim_moves, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_fifo_pair, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_bad_settings_refused, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_no_rights_widened, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_dead_letter_sources, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_move_tasks, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_move_task_keeps_to_its_rights,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_worker_moves, NULL,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_cli, tt_setup, tt_teardown),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("dlq", tests, NULL, NULL);
}
