/*
 * test_worker_consumer.c - the embeddable consume loop (txq_consumer_*):
 * a handler's writes commit with the ack; RETRY and PERMANENT roll them
 * back and record the failure through txq_fail; IGNORE acks without the
 * writes; OK over a failed transaction counts as a failure; a stale
 * holder's ack is fenced; stop, max_messages and exit_when_empty end the
 * loop; the session gets its timeouts.
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

struct ctx {
    const char *schema;
    txq_handler_result result;
    int calls;
    int events;
    int acked;
    txq_outcome last_outcome;
    txq_err last_err;
    txq_consumer *cons;
    int stop_after;
    PGconn *other; /* to steal a claim */
    txq_client *c;
    int sleep_ms; /* handler time */
    int max_held; /* most messages claimed at once, seen by the handler */
};

static txq_handler_result
handler(PGconn *pg, const txq_msg *m, void *arg, char *err, size_t errsize)
{
    struct ctx *x = arg;
    char sql[160];
    PGresult *r;

    x->calls++;
    snprintf(sql, sizeof sql,
             "select count(*) from %s.messages where claimed_at is not null",
             x->schema);
    r = PQexec(pg, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    if (atoi(PQgetvalue(r, 0, 0)) > x->max_held)
        x->max_held = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (x->sleep_ms)
        tt_sleep_ms(x->sleep_ms);
    snprintf(sql, sizeof sql, "insert into %s.biz values (%lld)", x->schema,
             (long long)txq_msg_id(m));
    r = PQexec(pg, sql);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    if (x->stop_after && x->calls >= x->stop_after)
        txq_consumer_stop(x->cons);
    if (x->result == TXQ_HANDLER_RETRY || x->result == TXQ_HANDLER_PERMANENT)
        snprintf(err, errsize, "handler says %d", (int)x->result);
    if (x->result == (txq_handler_result)99) {
        /* OK, but after a statement failed */
        r = PQexec(pg, "select 1/0");
        PQclear(r);
        return TXQ_HANDLER_OK;
    }
    if (x->result == (txq_handler_result)98) {
        /* Our claim lapses and another consumer takes the message. */
        txq_msg **msgs = NULL;
        size_t n = 0;

        snprintf(sql, sizeof sql,
                 "update %s.messages set visible_at = now() - interval '1s'",
                 x->schema);
        PQclear(PQexec(x->other, sql));
        assert_int_equal(txq_claim(x->c, x->other, "jobs", 1, NULL, &msgs, &n),
                         TXQ_OK);
        txq_msgs_free(msgs, n);
        return TXQ_HANDLER_OK;
    }
    return x->result;
}

static void
on_event(void *arg, const txq_consumer_event *ev)
{
    struct ctx *x = arg;

    x->events++;
    x->acked += ev->acked;
    x->last_outcome = ev->outcome;
    x->last_err = ev->err;
}

static int
setup(void **state)
{
    tt_fixture *f;

    tt_setup(state);
    f = *state;
    tt_exec(f->pg, "create table biz (msg bigint)");
    tt_exec(f->pg, "select create_queue('jobs', i_max_attempts => 2, "
                   "i_backoff_base => '0 s', i_backoff_jitter => 0)");
    return 0;
}

/* Run the loop until the queue is empty; returns its result. */
static txq_err
run(tt_fixture *f, struct ctx *x, txq_consumer_opts *o)
{
    PGconn *pg = tt_connect(NULL);
    txq_err rc;

    x->schema = f->schema;
    x->c = f->c;
    o->event_fn = on_event;
    o->event_arg = x;
    x->cons = txq_consumer_new(f->c, "jobs", o, handler, x);
    assert_non_null(x->cons);
    rc = txq_consumer_run(x->cons, pg);
    if (rc != TXQ_OK)
        print_message("run: %s\n", txq_consumer_errmsg(x->cons));
    txq_consumer_free(x->cons);
    x->cons = NULL;
    PQfinish(pg);
    return rc;
}

static void
test_ok_commits_with_ack(void **state)
{
    tt_fixture *f = *state;
    struct ctx x = {0};
    txq_consumer_opts o = TXQ_CONSUMER_OPTS_INIT;

    tt_send(f, f->pg, "jobs", "a");
    tt_send(f, f->pg, "jobs", "b");
    tt_send(f, f->pg, "jobs", "c");
    o.exit_when_empty = 1;
    o.prefetch = 2;
    x.result = TXQ_HANDLER_OK;
    assert_int_equal(run(f, &x, &o), TXQ_OK);
    assert_int_equal(x.calls, 3);
    assert_int_equal(x.acked, 3);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from biz"), 3);
    assert_int_equal(tt_depth(f), 0);
}

/* The default prefetch follows the handler's speed: several messages per
 * claim for a fast handler, one at a time for one slower than 50 ms. */
static void
test_auto_prefetch(void **state)
{
    tt_fixture *f = *state;
    struct ctx x = {0};
    txq_consumer_opts o = TXQ_CONSUMER_OPTS_INIT;
    int i;

    for (i = 0; i < 60; i++)
        tt_send(f, f->pg, "jobs", "a");
    o.exit_when_empty = 1;
    x.result = TXQ_HANDLER_OK;
    assert_int_equal(run(f, &x, &o), TXQ_OK);
    assert_int_equal(x.acked, 60);
    assert_true(x.max_held > 1);
    assert_true(x.max_held <= 16);

    memset(&x, 0, sizeof x);
    for (i = 0; i < 4; i++)
        tt_send(f, f->pg, "jobs", "a");
    x.result = TXQ_HANDLER_OK;
    x.sleep_ms = 80;
    assert_int_equal(run(f, &x, &o), TXQ_OK);
    assert_int_equal(x.acked, 4);
    assert_int_equal(x.max_held, 1);
}

static void
test_retry_then_dead(void **state)
{
    tt_fixture *f = *state;
    struct ctx x = {0};
    txq_consumer_opts o = TXQ_CONSUMER_OPTS_INIT;

    tt_send(f, f->pg, "jobs", "a");
    o.exit_when_empty = 1;
    x.result = TXQ_HANDLER_RETRY;
    assert_int_equal(run(f, &x, &o), TXQ_OK);
    /* backoff 0: both attempts in one run */
    assert_int_equal(x.calls, 2);
    assert_int_equal(x.last_outcome, TXQ_OUTCOME_DEAD);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from biz"), 0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from message_errors "
                                      "where error = 'handler says 1'"),
                     2);
}

static void
test_permanent_and_ignore(void **state)
{
    tt_fixture *f = *state;
    struct ctx x = {0};
    txq_consumer_opts o = TXQ_CONSUMER_OPTS_INIT;

    tt_send(f, f->pg, "jobs", "a");
    o.exit_when_empty = 1;
    x.result = TXQ_HANDLER_PERMANENT;
    assert_int_equal(run(f, &x, &o), TXQ_OK);
    assert_int_equal(x.calls, 1);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from "
                                      "dead_letter_messages where reason = "
                                      "'permanent'"),
                     1);

    memset(&x, 0, sizeof x);
    tt_send(f, f->pg, "jobs", "b");
    x.result = TXQ_HANDLER_IGNORE;
    assert_int_equal(run(f, &x, &o), TXQ_OK);
    assert_int_equal(x.acked, 1);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from biz"), 0);
    assert_int_equal(tt_depth(f), 0);
}

static void
test_ok_over_failed_transaction(void **state)
{
    tt_fixture *f = *state;
    struct ctx x = {0};
    txq_consumer_opts o = TXQ_CONSUMER_OPTS_INIT;

    tt_send(f, f->pg, "jobs", "a");
    o.exit_when_empty = 1;
    o.max_messages = 1;
    x.result = (txq_handler_result)99;
    assert_int_equal(run(f, &x, &o), TXQ_OK);
    assert_int_equal(x.last_outcome, TXQ_OUTCOME_RETRY);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from message_errors "
                                      "where error like '%%division by "
                                      "zero%%'"),
                     1);
}

/* A handler whose message was taken over meanwhile (result 98: x.other
 * claims it again): the ack is fenced, the attempt's writes roll back, the
 * new holder keeps it. pipelined: the next claim rides in the ack's round
 * trip (no max_messages), and the fenced ack fails before its COMMIT. */
static void
stale_ack_fenced(tt_fixture *f, int pipelined)
{
    struct ctx x = {0};
    txq_consumer_opts o = TXQ_CONSUMER_OPTS_INIT;

    tt_send(f, f->pg, "jobs", "a");
    x.other = tt_connect(NULL);
    if (pipelined)
        o.exit_when_empty = 1;
    else
        o.max_messages = 1;
    x.result = (txq_handler_result)98;
    assert_int_equal(run(f, &x, &o), TXQ_OK);
    assert_int_equal(x.calls, 1);
    assert_int_equal(x.last_err, TXQ_ESTATE);
    assert_int_equal(x.acked, 0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from biz"), 0);
    assert_int_equal(tt_scalar(f->pg, "select attempts from messages"), 2);
    PQfinish(x.other);
}

static void
test_stale_ack_fenced(void **state)
{
    stale_ack_fenced(*state, 0);
}

static void
test_stale_ack_fenced_pipelined(void **state)
{
    stale_ack_fenced(*state, 1);
}

static void
test_stop_and_session(void **state)
{
    tt_fixture *f = *state;
    struct ctx x = {0};
    txq_consumer_opts o = TXQ_CONSUMER_OPTS_INIT;
    PGconn *pg = tt_connect(NULL);
    char buf[64];

    tt_send(f, f->pg, "jobs", "a");
    tt_send(f, f->pg, "jobs", "b");
    tt_send(f, f->pg, "jobs", "c");
    x.result = TXQ_HANDLER_OK;
    x.stop_after = 2;
    x.schema = f->schema;
    o.timeout = 2;
    x.cons = txq_consumer_new(f->c, "jobs", &o, handler, &x);
    assert_int_equal(txq_consumer_run(x.cons, pg), TXQ_OK);
    assert_int_equal(x.calls, 2);
    assert_true(txq_consumer_stopping(x.cons));
    /* stopped: returns at once until reset */
    assert_int_equal(txq_consumer_run(x.cons, pg), TXQ_OK);
    assert_int_equal(x.calls, 2);
    tt_text(pg, buf, sizeof buf, "show idle_in_transaction_session_timeout");
    assert_string_equal(buf, "7s");
    tt_text(pg, buf, sizeof buf, "show statement_timeout");
    assert_string_equal(buf, "2s");
    txq_consumer_free(x.cons);

    /* bad use */
    x.cons = txq_consumer_new(f->c, "jobs", NULL, NULL, &x);
    assert_int_equal(txq_consumer_run(x.cons, pg), TXQ_EINVAL);
    assert_non_null(strstr(txq_consumer_errmsg(x.cons), "handler is NULL"));
    txq_consumer_free(x.cons);
    tt_exec(pg, "begin");
    x.cons = txq_consumer_new(f->c, "jobs", NULL, handler, &x);
    assert_int_equal(txq_consumer_run(x.cons, pg), TXQ_ESTATE);
    txq_consumer_free(x.cons);
    txq_consumer_free(NULL);
    PQfinish(pg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ok_commits_with_ack, setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_auto_prefetch, setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_retry_then_dead, setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_permanent_and_ignore, setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_ok_over_failed_transaction, setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_stale_ack_fenced, setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_stale_ack_fenced_pipelined, setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_stop_and_session, setup,
                                        tt_teardown),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("worker_consumer", tests, NULL, NULL);
}
