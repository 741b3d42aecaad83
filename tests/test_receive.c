/*
 * test_receive.c - consuming: transactional consume (rollback redelivers,
 * commit removes for good), visibility of claimed messages, fencing of
 * stale holders, extending and releasing a claim, long-poll waits, and
 * misuse of the waiting calls.
 *
 * Needs TXQ_TEST_DSN (ctest's pg_start fixture provides it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt.h"

static void
test_rollback_redelivers(void **state)
{
    tt_fixture *f = *state;
    txq_msg **msgs, **none = NULL;
    size_t n = 0;
    int64_t id = tt_send(f, f->pg, "jobs", "a");

    tt_exec(f->pg, "create table effects (msg bigint)");
    tt_exec(f->pg, "begin");
    msgs = tt_take(f, f->pg, "jobs", 0);
    assert_int_equal(txq_msg_attempt(msgs[0]), 1);
    tt_exec(f->pg, "insert into effects values (%lld)",
            (long long)txq_msg_id(msgs[0]));
    assert_txq_ok(f->c, txq_ack(f->c, f->pg, msgs[0]));
    tt_exec(f->pg, "rollback");
    txq_msgs_free(msgs, 1);
    /* The effect and the ack rolled back together; the claim too. */
    assert_int_equal(tt_scalar(f->pg, "select count(*) from effects"), 0);
    assert_int_equal(tt_depth(f), 1);
    assert_int_equal(tt_scalar(f->pg, "select attempts from messages"), 0);

    tt_exec(f->pg, "begin");
    msgs = tt_take(f, f->pg, "jobs", 0);
    assert_int_equal(txq_msg_id(msgs[0]), id);
    assert_int_equal(txq_msg_attempt(msgs[0]), 1);
    tt_exec(f->pg, "insert into effects values (%lld)",
            (long long)txq_msg_id(msgs[0]));
    assert_txq_ok(f->c, txq_ack(f->c, f->pg, msgs[0]));
    tt_exec(f->pg, "commit");
    txq_msgs_free(msgs, 1);

    /* Applied exactly once, gone for good. */
    assert_int_equal(tt_scalar(f->pg, "select count(*) from effects"), 1);
    assert_int_equal(tt_depth(f), 0);
    assert_txq_rc(f->c, txq_receive(f->c, f->pg, "jobs", 5, NULL, &none, &n),
                  TXQ_EMPTY);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from receive('jobs', "
                                      "5, null, now() + interval '1 day')"),
                     0);
    assert_int_equal(tt_scalar(f->pg, "select acked from queue_stats"), 1);
}

static void
test_claim_invisible_until_timeout(void **state)
{
    tt_fixture *f = *state;
    PGconn *b = tt_connect(f->schema);
    txq_msg **msgs, **none = NULL;
    size_t n = 0;
    PGresult *res;
    double until;
    char buf[64];
    int64_t id = tt_send(f, f->pg, "jobs", "a");

    msgs = tt_take(f, f->pg, "jobs", 1);
    assert_int_equal(txq_msg_attempt(msgs[0]), 1);
    until = txq_msg_visible_until(msgs[0]);
    assert_true(until > txq_msg_enqueued_at(msgs[0]) + 29);
    assert_true(until < txq_msg_enqueued_at(msgs[0]) + 40);
    /* The timestamps are the row's, to the microsecond. */
    assert_true(fabs(txq_msg_enqueued_at(msgs[0]) -
                     strtod(tt_text(b, buf, sizeof buf,
                                    "select extract(epoch from enqueued_at) "
                                    "from messages"),
                            NULL)) < 1e-6);
    assert_true(fabs(until - strtod(tt_text(b, buf, sizeof buf,
                                            "select extract(epoch from "
                                            "visible_at) from messages"),
                                    NULL)) < 1e-6);
    /* The claim committed: the row says so from another session. */
    assert_int_equal(tt_scalar(b, "select attempts from messages"), 1);
    assert_txq_rc(f->c, txq_receive(f->c, b, "jobs", 5, NULL, &none, &n),
                  TXQ_EMPTY);
    assert_txq_rc(f->c, txq_claim(f->c, b, "jobs", 5, NULL, &none, &n),
                  TXQ_EMPTY);
    assert_int_equal(tt_scalar(b, "select in_flight from queue_stats"), 1);
    assert_int_equal(tt_scalar(b, "select count(*) from receive('jobs', 5, "
                                  "null, now() + interval '28 s')"),
                     0);
    res = tt_query(b, "select id, attempts from receive('jobs', 5, null, "
                      "now() + interval '31 s')");
    assert_int_equal(PQntuples(res), 1);
    assert_int_equal(strtoll(PQgetvalue(res, 0, 0), NULL, 10), id);
    assert_string_equal(PQgetvalue(res, 0, 1), "2");
    PQclear(res);
    txq_msgs_free(msgs, 1);
    PQfinish(b);
}

static void
test_stale_holder_fenced(void **state)
{
    tt_fixture *f = *state;
    PGconn *b = tt_connect(f->schema);
    txq_msg **a;
    txq_outcome out = 0;
    int64_t id = tt_send(f, f->pg, "jobs", "a");

    a = tt_take(f, f->pg, "jobs", 1);
    assert_int_equal(txq_msg_attempt(a[0]), 1);
    /* A's claim lapses; B takes the message (attempt 2, committed). */
    assert_int_equal(tt_scalar(b, "select attempts from receive('jobs', 1, "
                                  "null, now() + interval '31 s')"),
                     2);

    tt_exec(f->pg, "begin");
    assert_txq_rc(f->c, txq_ack(f->c, f->pg, a[0]), TXQ_ESTATE);
    tt_exec(f->pg, "commit");
    assert_int_equal(tt_depth(f), 1);
    assert_txq_rc(f->c, txq_fail(f->c, f->pg, a[0], "stale", NULL, &out),
                  TXQ_ESTATE);
    assert_txq_rc(f->c, txq_set_visibility(f->c, f->pg, a[0], 0), TXQ_ESTATE);
    assert_txq_rc(f->c, txq_ack_batch(f->c, f->pg, a, 1, NULL), TXQ_ESTATE);
    /* Nothing of A's changed B's attempt. */
    assert_int_equal(tt_scalar(b, "select attempts from messages"), 2);
    assert_int_equal(tt_scalar(b, "select count(*) from message_errors "
                                  "where error = 'stale'"),
                     0);
    assert_int_equal(tt_scalar(b, "select retried + acked from queue_stats"),
                     0);

    /* B's ack, fenced by its attempt, works. */
    assert_int_equal(
        tt_scalar(b, "select ack(array[%lld], array[2])", (long long)id), 1);
    assert_int_equal(tt_depth(f), 0);
    txq_msgs_free(a, 1);
    PQfinish(b);
}

static void
test_set_visibility_extends(void **state)
{
    tt_fixture *f = *state;
    PGconn *b = tt_connect(f->schema);
    txq_msg **a;

    tt_send(f, f->pg, "jobs", "a");
    a = tt_take(f, f->pg, "jobs", 1);
    assert_txq_ok(f->c, txq_set_visibility(f->c, f->pg, a[0], 3600));
    assert_int_equal(tt_scalar(b, "select count(*) from receive('jobs', 1, "
                                  "null, now() + interval '31 s')"),
                     0);
    assert_int_equal(tt_scalar(b, "select count(*) from receive('jobs', 1, "
                                  "null, now() + interval '3590 s')"),
                     0);
    assert_int_equal(tt_scalar(b, "select attempts from receive('jobs', 1, "
                                  "null, now() + interval '3601 s')"),
                     2);
    /* Out of range values are rejected. */
    assert_txq_rc(f->c, txq_set_visibility(f->c, f->pg, a[0], -1), TXQ_EINVAL);
    assert_txq_rc(f->c, txq_set_visibility(f->c, f->pg, a[0], NAN), TXQ_EINVAL);
    assert_txq_rc(f->c, txq_set_visibility(f->c, f->pg, a[0], 13 * 3600),
                  TXQ_EINVAL);
    txq_msgs_free(a, 1);
    PQfinish(b);
}

static void
test_set_visibility_zero_releases(void **state)
{
    tt_fixture *f = *state;
    PGconn *b = tt_connect(f->schema);
    txq_msg **a, **again;

    /* One attempt only: a release must not be taken for a failure. */
    tt_queue(f, "jobs", TXQ_QUEUE_OPTS(.max_attempts = 1));
    tt_send(f, f->pg, "jobs", "a");
    a = tt_take(f, f->pg, "jobs", 1);
    assert_txq_ok(f->c, txq_set_visibility(f->c, f->pg, a[0], 0));
    again = tt_take(f, b, "jobs", 1);
    assert_int_equal(txq_msg_id(again[0]), txq_msg_id(a[0]));
    assert_int_equal(txq_msg_attempt(again[0]), 2);
    assert_int_equal(tt_scalar(b, "select count(*) from message_errors"), 0);
    assert_int_equal(tt_scalar(b, "select count(*) from dead_letters"), 0);
    assert_int_equal(tt_scalar(b, "select retried from queue_stats"), 0);
    tt_exec(b, "begin");
    assert_txq_ok(f->c, txq_ack(f->c, b, again[0]));
    tt_exec(b, "commit");
    assert_int_equal(tt_depth(f), 0);
    txq_msgs_free(a, 1);
    txq_msgs_free(again, 1);
    PQfinish(b);
}

struct late_send {
    const char *schema;
    int delay_ms;
};

/* Child: connect, wait, send one message in its own transaction. */
static int
child_late_send(void *arg)
{
    const struct late_send *ls = arg;
    PGconn *pg = tt_child_connect(ls->schema);
    PGresult *res;
    int ok;

    if (pg == NULL)
        return 2;
    tt_sleep_ms(ls->delay_ms);
    res = PQexec(pg, "begin; select send('jobs', 'late'); commit");
    ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "child send: %s", PQerrorMessage(pg));
    PQclear(res);
    PQfinish(pg);
    return ok ? 0 : 1;
}

static void
test_long_poll_wakes(void **state)
{
    tt_fixture *f = *state;
    struct late_send ls = {f->schema, 200};
    txq_msg **msgs = NULL;
    size_t n = 0;
    double t0, took;
    int pid;

    tt_queue(f, "jobs", NULL);
    t0 = tt_now();
    pid = tt_fork(child_late_send, &ls);
    assert_txq_ok(f->c, txq_claim(f->c, f->pg, "jobs", 1,
                                  TXQ_RECV_OPTS(.wait = 2), &msgs, &n));
    took = tt_now() - t0;
    assert_int_equal(tt_wait(pid), 0);
    assert_int_equal(n, 1);
    assert_string_equal(txq_msg_body(msgs[0], NULL), "late");
    assert_int_equal(txq_msg_attempt(msgs[0]), 1);
    /* Woken by the send's notification: not by the end of the wait, nor
     * by the fallback poll, which looks once a second (1 s or more). */
    assert_true(took >= 0.15);
    if (took > 0.9)
        fail_msg("long poll took %.3f s for a send after 0.2 s: the "
                 "fallback poll, not the notification, woke it",
                 took);
    /* The wait left the connection idle, and the one registration it
     * made again after the wake-up (the next send takes it, once). */
    assert_int_equal(PQtransactionStatus(f->pg), PQTRANS_IDLE);
    assert_int_equal(tt_pending(f->pg), 1);
    txq_msgs_free(msgs, n);
}

static void
test_long_poll_times_out(void **state)
{
    tt_fixture *f = *state;
    txq_msg **msgs = NULL;
    size_t n = 7;
    double t0, took;

    tt_queue(f, "jobs", NULL);
    t0 = tt_now();
    assert_txq_rc(f->c,
                  txq_claim(f->c, f->pg, "jobs", 1, TXQ_RECV_OPTS(.wait = 0.4),
                            &msgs, &n),
                  TXQ_EMPTY);
    took = tt_now() - t0;
    assert_null(msgs);
    assert_int_equal(n, 0);
    if (took < 0.35 || took > 1.5)
        fail_msg("a 0.4 s wait took %.3f s", took);
    assert_int_equal(PQtransactionStatus(f->pg), PQTRANS_IDLE);
}

static void
test_claim_in_transaction(void **state)
{
    tt_fixture *f = *state;
    txq_msg **msgs = NULL;
    size_t n = 0;

    tt_send(f, f->pg, "jobs", "a");
    tt_exec(f->pg, "begin");
    assert_txq_rc(f->c, txq_claim(f->c, f->pg, "jobs", 1, NULL, &msgs, &n),
                  TXQ_ESTATE);
    assert_null(msgs);
    assert_txq_rc(
        f->c,
        txq_claim(f->c, f->pg, "jobs", 1, TXQ_RECV_OPTS(.wait = 1), &msgs, &n),
        TXQ_ESTATE);
    assert_int_equal(PQtransactionStatus(f->pg), PQTRANS_INTRANS);
    tt_exec(f->pg, "rollback");
    assert_int_equal(tt_scalar(f->pg, "select attempts from messages"), 0);
}

static void
test_receive_bad_arguments(void **state)
{
    tt_fixture *f = *state;
    txq_msg **msgs = NULL;
    size_t n = 0;

    tt_send(f, f->pg, "jobs", "a");
    assert_txq_rc(f->c, txq_receive(f->c, f->pg, "nosuch", 1, NULL, &msgs, &n),
                  TXQ_ENOTFOUND);
    assert_txq_rc(f->c, txq_receive(f->c, f->pg, "B.d", 1, NULL, &msgs, &n),
                  TXQ_EINVAL);
    assert_txq_rc(f->c, txq_receive(f->c, f->pg, "jobs", 0, NULL, &msgs, &n),
                  TXQ_EINVAL);
    assert_txq_rc(f->c,
                  txq_receive(f->c, f->pg, "jobs", 1,
                              TXQ_RECV_OPTS(.visibility_timeout = -1), &msgs,
                              &n),
                  TXQ_EINVAL);
    assert_txq_rc(
        f->c,
        txq_claim(f->c, f->pg, "jobs", 1, TXQ_RECV_OPTS(.wait = -1), &msgs, &n),
        TXQ_EINVAL);
    assert_null(msgs);
    assert_int_equal(tt_scalar(f->pg, "select attempts from messages"), 0);

    /* A per-call visibility timeout replaces the queue's. */
    assert_txq_ok(f->c, txq_receive(f->c, f->pg, "jobs", 1,
                                    TXQ_RECV_OPTS(.visibility_timeout = 5),
                                    &msgs, &n));
    assert_int_equal(n, 1);
    {
        double vt =
            txq_msg_visible_until(msgs[0]) - txq_msg_enqueued_at(msgs[0]);

        if (vt < 4.5 || vt > 7)
            fail_msg("visibility timeout 5 s gave %.3f s", vt);
    }
    txq_msgs_free(msgs, n);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rollback_redelivers, tt_setup_jobs,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_claim_invisible_until_timeout,
                                        tt_setup_jobs, tt_teardown),
        cmocka_unit_test_setup_teardown(test_stale_holder_fenced, tt_setup_jobs,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_set_visibility_extends,
                                        tt_setup_jobs, tt_teardown),
        cmocka_unit_test_setup_teardown(test_set_visibility_zero_releases,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_long_poll_wakes, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_long_poll_times_out, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_claim_in_transaction,
                                        tt_setup_jobs, tt_teardown),
        cmocka_unit_test_setup_teardown(test_receive_bad_arguments,
                                        tt_setup_jobs, tt_teardown),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("receive", tests, NULL, NULL);
}
