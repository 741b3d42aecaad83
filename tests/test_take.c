/*
 * test_take.c - txq_receive inside a transaction (txq.take): messages are
 * held by the transaction's row locks and nothing is written, so other
 * consumers skip them; a commit without an ack or a rollback leaves them
 * ready at once with their attempts unchanged; ack, fail and
 * set_visibility accept the taken attempt; a lapsed claim is still
 * counted; a fifo queue is claimed as before. txq_pop: take and ack in
 * one statement, undone by a rollback.
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

/* Receive exactly one message on pg, in its open transaction. */
static txq_msg *
take_one(tt_fixture *f, PGconn *pg)
{
    txq_msg **msgs = NULL;
    txq_msg *m;
    size_t n = 0;

    assert_txq_ok(f->c, txq_receive(f->c, pg, "jobs", 1, NULL, &msgs, &n));
    assert_int_equal(n, 1);
    m = msgs[0];
    free(msgs);
    return m;
}

static void
test_take_holds_by_lock(void **state)
{
    tt_fixture *f = *state;
    PGconn *other = tt_connect(f->schema);
    txq_msg **msgs = NULL;
    txq_msg *m;
    size_t n = 0;
    int64_t id = tt_send(f, f->pg, "jobs", "a");

    tt_exec(f->pg, "begin");
    m = take_one(f, f->pg);
    assert_int_equal(txq_msg_id(m), id);
    assert_int_equal(txq_msg_attempt(m), 1);
    assert_true(isinf(txq_msg_visible_until(m)));
    /* Nothing written: the row is as sent, only locked. */
    assert_int_equal(tt_scalar(f->pg, "select attempts from messages"), 0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from messages "
                                      "where claimed_at is not null"),
                     0);
    /* Other consumers skip it, by either call. */
    assert_txq_rc(f->c, txq_claim(f->c, other, "jobs", 1, NULL, &msgs, &n),
                  TXQ_EMPTY);
    tt_exec(other, "begin");
    assert_txq_rc(f->c, txq_receive(f->c, other, "jobs", 1, NULL, &msgs, &n),
                  TXQ_EMPTY);
    tt_exec(other, "rollback");

    /* Committed without an ack: ready again at once, same attempt. */
    tt_exec(f->pg, "commit");
    txq_msg_free(m);
    tt_exec(other, "begin");
    m = take_one(f, other);
    assert_int_equal(txq_msg_id(m), id);
    assert_int_equal(txq_msg_attempt(m), 1);
    tt_exec(other, "rollback");
    txq_msg_free(m);
    PQfinish(other);
}

static void
test_take_ack_fenced(void **state)
{
    tt_fixture *f = *state;
    txq_fail_opts fo = {.size = sizeof(txq_fail_opts), .retry_after = 60};
    txq_outcome out = 0;
    txq_msg *m, *stale;

    tt_send(f, f->pg, "jobs", "a");
    tt_exec(f->pg, "begin");
    stale = take_one(f, f->pg);
    tt_exec(f->pg, "commit");
    /* Attempt 1 taken again, and failed: the old hold of attempt 1 does
     * not hold the message any more; its ack changes nothing. */
    tt_exec(f->pg, "begin");
    m = take_one(f, f->pg);
    assert_int_equal(txq_msg_attempt(m), 1);
    assert_txq_ok(f->c, txq_fail(f->c, f->pg, m, "boom", &fo, &out));
    tt_exec(f->pg, "commit");
    tt_exec(f->pg, "begin");
    assert_txq_rc(f->c, txq_ack(f->c, f->pg, stale), TXQ_ESTATE);
    tt_exec(f->pg, "commit");
    assert_int_equal(tt_depth(f), 1);
    txq_msg_free(m);
    txq_msg_free(stale);
}

static void
test_take_set_visibility_claims(void **state)
{
    tt_fixture *f = *state;
    PGconn *other = tt_connect(f->schema);
    txq_msg **msgs = NULL;
    txq_msg *m;
    size_t n = 0;

    tt_send(f, f->pg, "jobs", "a");
    tt_exec(f->pg, "begin");
    m = take_one(f, f->pg);
    assert_txq_ok(f->c, txq_set_visibility(f->c, f->pg, m, 60));
    tt_exec(f->pg, "commit");
    /* Now a claim of attempt 1 for 60 s: hidden after the commit. */
    assert_int_equal(tt_scalar(f->pg, "select count(*) from messages "
                                      "where attempts = 1 and claimed_at is "
                                      "not null and visible_at > now() + "
                                      "'50 s'"),
                     1);
    assert_txq_rc(f->c, txq_claim(f->c, other, "jobs", 1, NULL, &msgs, &n),
                  TXQ_EMPTY);
    /* The claim's attempt acks it. */
    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c, txq_ack(f->c, f->pg, m));
    tt_exec(f->pg, "commit");
    assert_int_equal(tt_depth(f), 0);
    txq_msg_free(m);
    PQfinish(other);
}

static void
test_take_fail_counts(void **state)
{
    tt_fixture *f = *state;
    txq_fail_opts fo = TXQ_FAIL_OPTS_INIT;
    txq_outcome out = 0;
    txq_msg *m;

    tt_send(f, f->pg, "jobs", "a");
    tt_exec(f->pg, "begin");
    m = take_one(f, f->pg);
    fo.retry_after = 60;
    assert_txq_ok(f->c, txq_fail(f->c, f->pg, m, "boom", &fo, &out));
    assert_int_equal(out, TXQ_OUTCOME_RETRY);
    tt_exec(f->pg, "commit");
    assert_int_equal(tt_scalar(f->pg, "select attempts from messages "
                                      "where claimed_at is null and "
                                      "visible_at > now() + '50 s'"),
                     1);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from message_errors "
                                      "where attempt = 1 and error = 'boom'"),
                     1);
    /* A second fail of the same attempt is a stale holder's. */
    assert_txq_rc(f->c, txq_fail(f->c, f->pg, m, "again", &fo, &out),
                  TXQ_ESTATE);
    txq_msg_free(m);
}

static void
test_take_counts_lapsed_claim(void **state)
{
    tt_fixture *f = *state;
    txq_msg **msgs = NULL;
    txq_msg *m;
    size_t n = 0;

    tt_send(f, f->pg, "jobs", "a");
    assert_txq_ok(f->c, txq_claim(f->c, f->pg, "jobs", 1,
                                  TXQ_RECV_OPTS(.visibility_timeout = 0.001),
                                  &msgs, &n));
    tt_sleep_ms(20);
    /* The claim lapsed: that attempt failed; the take is attempt 2. */
    tt_exec(f->pg, "begin");
    m = take_one(f, f->pg);
    assert_int_equal(txq_msg_attempt(m), 2);
    assert_txq_ok(f->c, txq_ack(f->c, f->pg, m));
    tt_exec(f->pg, "commit");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from messages"), 0);
    txq_msg_free(m);
    txq_msgs_free(msgs, n);
}

static void
test_take_buries_exhausted(void **state)
{
    tt_fixture *f = *state;
    txq_queue_opts qo = TXQ_QUEUE_OPTS_INIT;
    txq_msg **msgs = NULL, **got = NULL;
    size_t n = 0, ngot = 0;
    int64_t first = 0;

    qo.max_attempts = 1;
    tt_queue(f, "once", &qo);
    first = tt_send(f, f->pg, "once", "a");
    assert_txq_ok(f->c, txq_claim(f->c, f->pg, "once", 1,
                                  TXQ_RECV_OPTS(.visibility_timeout = 0.001),
                                  &msgs, &n));
    tt_send(f, f->pg, "once", "b");
    tt_send(f, f->pg, "once", "c");
    tt_sleep_ms(20);
    /* The first one's only attempt lapsed: not delivered, dead-lettered;
     * a take of one goes on to the next. */
    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c, txq_receive(f->c, f->pg, "once", 1, NULL, &got, &ngot));
    assert_int_equal(ngot, 1);
    assert_true(txq_msg_id(got[0]) > first);
    txq_msgs_free(got, ngot);
    /* More in the same transaction: the other one, nothing twice. */
    assert_txq_ok(f->c, txq_receive(f->c, f->pg, "once", 5, NULL, &got, &ngot));
    assert_int_equal(ngot, 1);
    assert_true(txq_msg_id(got[0]) > first + 1);
    tt_exec(f->pg, "commit");
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from dead_letter_messages "
                               "where reason = 'exhausted' and attempts = 1 "
                               "and id = %lld",
                               (long long)first),
                     1);
    txq_msgs_free(got, ngot);
    txq_msgs_free(msgs, n);
}

static void
test_take_fifo_claims(void **state)
{
    tt_fixture *f = *state;
    txq_queue_opts qo = TXQ_QUEUE_OPTS_INIT;
    txq_send_opts so = TXQ_SEND_OPTS_INIT;
    txq_msg **msgs = NULL;
    size_t n = 0;
    int64_t id;

    qo.fifo = 1;
    tt_queue(f, "ordered", &qo);
    so.group = "g";
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "ordered", "a", 1, &so, &id));
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "ordered", "b", 1, &so, NULL));
    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c,
                  txq_receive(f->c, f->pg, "ordered", 5, NULL, &msgs, &n));
    assert_int_equal(n, 1);
    assert_int_equal(txq_msg_id(msgs[0]), id);
    assert_false(isinf(txq_msg_visible_until(msgs[0])));
    tt_exec(f->pg, "commit");
    /* Claimed: the group stays blocked after a commit without an ack. */
    assert_int_equal(tt_scalar(f->pg,
                               "select attempts from messages "
                               "where id = %lld",
                               (long long)id),
                     1);
    txq_msgs_free(msgs, n);
    assert_txq_rc(f->c, txq_claim(f->c, f->pg, "ordered", 5, NULL, &msgs, &n),
                  TXQ_EMPTY);
}

static void
test_take_sql(void **state)
{
    tt_fixture *f = *state;
    char buf[256];

    tt_send(f, f->pg, "jobs", "a");
    /* take is the SQL API too; bad input names the problem. */
    assert_int_equal(tt_scalar(f->pg, "select attempts from take('jobs')"), 1);
    assert_string_equal(
        tt_fails(f->pg, buf, sizeof buf, "select * from take('jobs', 0)"),
        "22023");
    assert_non_null(strstr(buf, "max must be between 1 and 100000"));
    assert_string_equal(
        tt_fails(f->pg, buf, sizeof buf, "select * from take('nope', 1)"),
        "TQ002");
    assert_non_null(strstr(buf, "nope"));
    assert_int_equal(tt_scalar(f->pg, "select attempts from messages"), 0);
}

static void
test_pop_commit_and_rollback(void **state)
{
    tt_fixture *f = *state;
    txq_msg **msgs = NULL;
    size_t n = 0;
    int64_t hi = 0;

    tt_send(f, f->pg, "jobs", "a");
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "jobs", "b", 1,
                                 TXQ_SEND_OPTS(.priority = 5), &hi));
    tt_send(f, f->pg, "jobs", "c");
    /* Outside a transaction: refused, nothing changed. */
    assert_txq_rc(f->c, txq_pop(f->c, f->pg, "jobs", 2, &msgs, &n), TXQ_ESTATE);
    assert_null(msgs);
    assert_int_equal(tt_depth(f), 3);

    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c, txq_pop(f->c, f->pg, "jobs", 2, &msgs, &n));
    assert_int_equal(n, 2);
    assert_int_equal(txq_msg_id(msgs[0]), hi); /* highest priority first */
    assert_int_equal(txq_msg_attempt(msgs[0]), 1);
    assert_true(isinf(txq_msg_visible_until(msgs[0])));
    txq_msgs_free(msgs, n);
    tt_exec(f->pg, "rollback");
    /* Rolled back: all there, untouched. */
    assert_int_equal(tt_depth(f), 3);
    assert_int_equal(tt_scalar(f->pg, "select sum(attempts) from messages"), 0);

    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c, txq_pop(f->c, f->pg, "jobs", 5, &msgs, &n));
    assert_int_equal(n, 3);
    txq_msgs_free(msgs, n);
    tt_exec(f->pg, "commit");
    assert_int_equal(tt_depth(f), 0);
    assert_int_equal(tt_scalar(f->pg, "select acked from queue_stats "
                                      "where queue = 'jobs'"),
                     3);
    tt_exec(f->pg, "begin");
    assert_txq_rc(f->c, txq_pop(f->c, f->pg, "jobs", 5, &msgs, &n), TXQ_EMPTY);
    tt_exec(f->pg, "rollback");
}

static void
test_pop_history_archive_fifo(void **state)
{
    tt_fixture *f = *state;
    txq_queue_opts qo = {.size = sizeof(txq_queue_opts), .archive_for = 3600};
    txq_fail_opts fo = {.size = sizeof(txq_fail_opts), .retry_after = 60};
    txq_send_opts so = TXQ_SEND_OPTS_INIT;
    txq_outcome out = 0;
    txq_msg **msgs = NULL;
    txq_msg *m;
    size_t n = 0;
    int64_t id;

    /* A message that failed once leaves its error history when popped. */
    id = tt_send(f, f->pg, "jobs", "a");
    tt_exec(f->pg, "begin");
    m = take_one(f, f->pg);
    assert_txq_ok(f->c, txq_fail(f->c, f->pg, m, "boom", &fo, &out));
    tt_exec(f->pg, "commit");
    txq_msg_free(m);
    tt_exec(f->pg, "update messages set visible_at = now()");
    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c, txq_pop(f->c, f->pg, "jobs", 1, &msgs, &n));
    assert_int_equal(txq_msg_id(msgs[0]), id);
    assert_int_equal(txq_msg_attempt(msgs[0]), 2);
    txq_msgs_free(msgs, n);
    tt_exec(f->pg, "commit");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from message_errors"),
                     0);

    /* A queue keeping an archive keeps popped messages, with the attempt
     * the pop counted; their error history goes as well. */
    tt_queue(f, "kept", &qo);
    id = tt_send(f, f->pg, "kept", "k");
    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c, txq_receive(f->c, f->pg, "kept", 1, NULL, &msgs, &n));
    assert_txq_ok(f->c, txq_fail(f->c, f->pg, msgs[0], "boom", &fo, &out));
    txq_msgs_free(msgs, n);
    tt_exec(f->pg, "commit");
    tt_exec(f->pg, "update messages set visible_at = now()");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from message_errors"),
                     1);
    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c, txq_pop(f->c, f->pg, "kept", 1, &msgs, &n));
    assert_int_equal(txq_msg_attempt(msgs[0]), 2);
    txq_msgs_free(msgs, n);
    tt_exec(f->pg, "commit");
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from archive where "
                               "id = %lld and outcome = 'acked' "
                               "and attempts = 2",
                               (long long)id),
                     1);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from message_errors"),
                     0);

    /* fifo: one per group, the group's oldest. */
    tt_queue(f, "ordered", TXQ_QUEUE_OPTS(.fifo = 1));
    for (int g = 0; g < 2; g++) {
        so.group = g ? "g1" : "g0";
        assert_txq_ok(f->c,
                      txq_send(f->c, f->pg, "ordered", "1", 1, &so, NULL));
        assert_txq_ok(f->c,
                      txq_send(f->c, f->pg, "ordered", "2", 1, &so, NULL));
    }
    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c, txq_pop(f->c, f->pg, "ordered", 5, &msgs, &n));
    assert_int_equal(n, 2);
    assert_string_equal(txq_msg_body(msgs[0], NULL), "1");
    assert_string_equal(txq_msg_body(msgs[1], NULL), "1");
    txq_msgs_free(msgs, n);
    tt_exec(f->pg, "commit");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from messages m join "
                                      "queues q using (queue_id) where "
                                      "q.name = 'ordered'"),
                     2);
}

static void
test_pop_bad_input(void **state)
{
    tt_fixture *f = *state;
    txq_msg **msgs = NULL;
    size_t n = 0;
    char buf[256];

    tt_send(f, f->pg, "jobs", "a");
    tt_exec(f->pg, "begin");
    assert_txq_rc(f->c, txq_pop(f->c, f->pg, "jobs", 0, &msgs, &n), TXQ_EINVAL);
    assert_txq_rc(f->c, txq_pop(f->c, f->pg, "no such", 1, &msgs, &n),
                  TXQ_EINVAL);
    assert_txq_rc(f->c, txq_pop(f->c, f->pg, "nope", 1, &msgs, &n),
                  TXQ_ENOTFOUND);
    tt_exec(f->pg, "rollback");
    assert_string_equal(
        tt_fails(f->pg, buf, sizeof buf, "select * from pop('jobs', 0)"),
        "22023");
    assert_non_null(strstr(buf, "max must be between 1 and 100000"));
    assert_string_equal(
        tt_fails(f->pg, buf, sizeof buf, "select * from pop('nope')"), "TQ002");
    assert_int_equal(tt_depth(f), 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_take_holds_by_lock, tt_setup_jobs,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_take_ack_fenced, tt_setup_jobs,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_take_set_visibility_claims,
                                        tt_setup_jobs, tt_teardown),
        cmocka_unit_test_setup_teardown(test_take_fail_counts, tt_setup_jobs,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_take_counts_lapsed_claim,
                                        tt_setup_jobs, tt_teardown),
        cmocka_unit_test_setup_teardown(test_take_buries_exhausted,
                                        tt_setup_jobs, tt_teardown),
        cmocka_unit_test_setup_teardown(test_take_fifo_claims, tt_setup_jobs,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_pop_commit_and_rollback,
                                        tt_setup_jobs, tt_teardown),
        cmocka_unit_test_setup_teardown(test_pop_history_archive_fifo,
                                        tt_setup_jobs, tt_teardown),
        cmocka_unit_test_setup_teardown(test_pop_bad_input, tt_setup_jobs,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_take_sql, tt_setup_jobs,
                                        tt_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
