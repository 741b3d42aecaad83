/*
 * test_async.c - txq_send_start / txq_send_finish and txq_pop_start /
 * txq_pop_finish: several connections served by one thread, the same
 * results and transactions as txq_send and txq_pop, and every misuse
 * refused with nothing sent or lost.
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>

#include "tt.h"

#define NCONN  3
#define ROUNDS 20

/* Waits until pg's answer is in, as an event loop would: poll its socket
 * and consume input until libpq is no longer busy. */
static void
wait_ready(PGconn *pg)
{
    while (PQisBusy(pg)) {
        struct pollfd p = {.fd = PQsocket(pg), .events = POLLIN};

        assert_true(poll(&p, 1, 10000) == 1);
        assert_int_equal(PQconsumeInput(pg), 1);
    }
}

/* A second handle and connection on f's schema. */
static txq_client *
new_client(tt_fixture *f)
{
    txq_client *c = txq_client_new(TXQ_OPTIONS(.schema = f->schema));

    assert_non_null(c);
    return c;
}

/* Three connections, one thread: each round starts a send on every
 * connection before finishing any; every send commits (autocommit) with
 * its own id, the body and options as given. */
static void
test_sends_on_several_connections(void **state)
{
    tt_fixture *f = *state;
    PGconn *pg[NCONN];
    txq_client *c[NCONN];
    int64_t last[NCONN] = {0}, id;
    char body[32];

    for (int k = 0; k < NCONN; k++) {
        pg[k] = k == 0 ? f->pg : tt_connect(f->schema);
        c[k] = k == 0 ? f->c : new_client(f);
    }
    for (int r = 0; r < ROUNDS; r++) {
        for (int k = 0; k < NCONN; k++) {
            int len = snprintf(body, sizeof body, "%d-%d", k, r);

            assert_txq_ok(c[k], txq_send_start(c[k], pg[k], "jobs", body,
                                               (size_t)len, NULL));
        }
        for (int k = NCONN - 1; k >= 0; k--) {
            wait_ready(pg[k]);
            id = 0;
            assert_txq_ok(c[k], txq_send_finish(c[k], pg[k], &id));
            assert_true(id > last[k]);
            last[k] = id;
        }
    }
    assert_int_equal(tt_depth(f), NCONN * ROUNDS);
    for (int k = 0; k < NCONN; k++)
        assert_int_equal(tt_scalar(f->pg,
                                   "select count(*) from messages where "
                                   "convert_from(body, 'UTF8') like '%d-%%'",
                                   k),
                         ROUNDS);

    /* Options travel as with txq_send; the id may be ignored. */
    assert_txq_ok(
        c[1],
        txq_send_start(c[1], pg[1], "jobs", "o", 1,
                       TXQ_SEND_OPTS(.priority = 7, .correlation_id = "corr-1",
                                     .headers_json = "{\"a\":1}")));
    assert_txq_ok(c[1], txq_send_finish(c[1], pg[1], NULL));
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from messages where "
                               "priority = 7 and correlation_id = 'corr-1' "
                               "and headers = '{\"a\":1}' and body = 'o'"),
                     1);
    for (int k = 1; k < NCONN; k++) {
        PQfinish(pg[k]);
        txq_client_free(c[k]);
    }
}

/* Batches on two connections at once: each finish gives its batch's ids
 * in order; a rolled back batch leaves nothing; bad batches are refused at
 * the start with nothing sent; the finish must be the batch's own. */
static void
test_send_batches(void **state)
{
    tt_fixture *f = *state;
    PGconn *pg2 = tt_connect(f->schema);
    txq_client *c2 = new_client(f);
    const void *b1[3] = {"a", "b", "c"}, *b2[2] = {"xy", "z"};
    const void *bad[2] = {"a", NULL};
    size_t l1[3] = {1, 1, 1}, l2[2] = {2, 1}, lbad[2] = {1, 4};
    int64_t ids1[3] = {0}, ids2[2] = {0}, id = 0;

    assert_txq_ok(f->c, txq_send_batch_start(f->c, f->pg, "jobs", b1, l1, 3,
                                             TXQ_SEND_OPTS(.priority = 2)));
    assert_txq_ok(c2, txq_send_batch_start(c2, pg2, "jobs", b2, l2, 2, NULL));
    wait_ready(pg2);
    wait_ready(f->pg);
    assert_txq_ok(c2, txq_send_batch_finish(c2, pg2, ids2));
    assert_txq_ok(f->c, txq_send_batch_finish(f->c, f->pg, ids1));
    assert_true(ids1[0] < ids1[1] && ids1[1] < ids1[2]);
    assert_true(ids2[0] < ids2[1]);
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from messages where id in "
                               "(%lld, %lld, %lld) and priority = 2",
                               (long long)ids1[0], (long long)ids1[1],
                               (long long)ids1[2]),
                     3);
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from messages where "
                               "id = %lld and body = 'xy'",
                               (long long)ids2[0]),
                     1);

    tt_exec(pg2, "begin");
    assert_txq_ok(c2, txq_send_batch_start(c2, pg2, "jobs", b1, l1, 3, NULL));
    assert_txq_rc(c2, txq_send_finish(c2, pg2, &id), TXQ_ESTATE);
    assert_non_null(
        strstr(txq_errmsg(c2), "finish with txq_send_batch_finish"));
    assert_txq_ok(c2, txq_send_batch_finish(c2, pg2, NULL));
    tt_exec(pg2, "rollback");
    assert_int_equal(tt_depth(f), 5);

    assert_txq_rc(f->c,
                  txq_send_batch_start(f->c, f->pg, "jobs", b1, l1, 0, NULL),
                  TXQ_EINVAL);
    assert_non_null(strstr(txq_errmsg(f->c), "n must be at least 1"));
    assert_txq_rc(f->c,
                  txq_send_batch_start(f->c, f->pg, "jobs", NULL, l1, 3, NULL),
                  TXQ_EINVAL);
    assert_txq_rc(f->c,
                  txq_send_batch_start(f->c, f->pg, "jobs", bad, lbad, 2, NULL),
                  TXQ_EINVAL);
    assert_non_null(strstr(txq_errmsg(f->c), "body 2 of the batch is NULL"));
    assert_txq_rc(
        f->c, txq_send_batch_start(f->c, f->pg, "bad name", b1, l1, 3, NULL),
        TXQ_EINVAL);
    assert_txq_rc(f->c, txq_send_batch_finish(f->c, f->pg, NULL), TXQ_ESTATE);
    assert_txq_ok(f->c,
                  txq_send_batch_start(f->c, f->pg, "nope", b1, l1, 3, NULL));
    assert_txq_rc(f->c, txq_send_batch_finish(f->c, f->pg, ids1),
                  TXQ_ENOTFOUND);
    assert_int_equal(tt_depth(f), 5);
    PQfinish(pg2);
    txq_client_free(c2);
}

/* In the caller's transaction: a rolled back send leaves nothing, a
 * committed one its message. */
static void
test_send_in_transaction(void **state)
{
    tt_fixture *f = *state;
    int64_t id = 0;

    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c, txq_send_start(f->c, f->pg, "jobs", "a", 1, NULL));
    assert_txq_ok(f->c, txq_send_finish(f->c, f->pg, &id));
    tt_exec(f->pg, "rollback");
    assert_int_equal(tt_depth(f), 0);

    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c, txq_send_start(f->c, f->pg, "jobs", "b", 1, NULL));
    assert_txq_ok(f->c, txq_send_finish(f->c, f->pg, &id));
    assert_int_equal(PQtransactionStatus(f->pg), PQTRANS_INTRANS);
    tt_exec(f->pg, "commit");
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from messages where "
                               "id = %lld and body = 'b'",
                               (long long)id),
                     1);
}

/* Bodies of msgs[0..n) concatenated into buf. */
static char *
bodies(txq_msg **m, size_t n, char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t blen = 0;
        const char *b = txq_msg_body(m[i], &blen);

        assert_true(len + blen < size);
        memcpy(buf + len, b, blen);
        len += blen;
        buf[len] = '\0';
    }
    return buf;
}

/* Pops on two connections at once from one thread, in pop order (priority
 * first); what is committed is gone, what is rolled back is back; an empty
 * queue finishes with TXQ_EMPTY. pg may call pop() (a consumer) or pop
 * directly (the superuser): calls pop() calls per pop on pg1. */
static void
pop_on_two(tt_fixture *f, PGconn *pg1, txq_client *c1, int calls)
{
    txq_msg **m1 = NULL, **m2 = NULL;
    size_t n1 = 0, n2 = 0;
    char buf[32], buf2[32];
    long long calls0;

    tt_send(f, f->pg, "jobs", "a");
    tt_send(f, f->pg, "jobs", "b");
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "jobs", "c", 1,
                                 TXQ_SEND_OPTS(.priority = 5), NULL));
    tt_send(f, f->pg, "jobs", "d");
    tt_send(f, f->pg, "jobs", "e");

    tt_exec(f->pg, "begin");
    tt_exec(pg1, "begin");
    /* Counts of this backend not yet reported may show in its
     * transaction: count the difference. */
    calls0 = tt_fn_calls(pg1, "pop");
    assert_txq_ok(f->c, txq_pop_start(f->c, f->pg, "jobs", 2));
    wait_ready(f->pg);
    assert_txq_ok(c1, txq_pop_start(c1, pg1, "jobs", 2));
    wait_ready(pg1);
    assert_txq_ok(c1, txq_pop_finish(c1, pg1, &m1, &n1));
    assert_txq_ok(f->c, txq_pop_finish(f->c, f->pg, &m2, &n2));
    assert_int_equal(n1, 2);
    assert_int_equal(n2, 2);
    assert_string_equal(bodies(m2, n2, buf, sizeof buf), "ca");
    assert_string_equal(bodies(m1, n1, buf2, sizeof buf2), "bd");
    assert_int_equal(tt_fn_calls(pg1, "pop") - calls0, calls);
    assert_string_equal(txq_msg_queue(m1[0]), "jobs");
    assert_int_equal(txq_msg_attempt(m1[0]), 1);
    txq_msgs_free(m1, n1);
    txq_msgs_free(m2, n2);
    tt_exec(f->pg, "commit");
    tt_exec(pg1, "rollback");
    assert_int_equal(tt_depth(f), 3);

    tt_exec(pg1, "begin");
    calls0 = tt_fn_calls(pg1, "pop");
    assert_txq_ok(c1, txq_pop_start(c1, pg1, "jobs", 10));
    assert_txq_ok(c1, txq_pop_finish(c1, pg1, &m1, &n1));
    assert_string_equal(bodies(m1, n1, buf, sizeof buf), "bde");
    txq_msgs_free(m1, n1);
    assert_txq_ok(c1, txq_pop_start(c1, pg1, "jobs", 10));
    assert_txq_rc(c1, txq_pop_finish(c1, pg1, &m1, &n1), TXQ_EMPTY);
    assert_null(m1);
    assert_int_equal(n1, 0);
    assert_int_equal(tt_fn_calls(pg1, "pop") - calls0, 2 * calls);
    tt_exec(pg1, "commit");
    assert_int_equal(tt_depth(f), 0);
}

static void
test_pop_direct(void **state)
{
    tt_fixture *f = *state;
    char role[64];
    PGconn *pg = tt_role_session(f, role, sizeof role, NULL);
    txq_client *c = new_client(f);

    pop_on_two(f, pg, c, 0);
    txq_client_free(c);
    tt_end_role_session(f, pg, role);
}

static void
test_pop_through_pop_function(void **state)
{
    tt_fixture *f = *state;
    char role[64];
    PGconn *pg = tt_role_session(f, role, sizeof role, "txq_consumer");
    txq_client *c = new_client(f);

    pop_on_two(f, pg, c, 1);
    txq_client_free(c);
    tt_end_role_session(f, pg, role);
}

/* Whether pg is idle and free: nothing sent and unanswered. */
static void
assert_idle(PGconn *pg)
{
    assert_int_equal(PQisBusy(pg), 0);
    assert_null(PQgetResult(pg));
}

/* Finishes without a start, a second start, another call in between, a
 * finish of the other kind or on another connection: refused, and the
 * pending statement is still there to finish, once. */
static void
test_misuse_while_pending(void **state)
{
    tt_fixture *f = *state;
    PGconn *other = tt_connect(f->schema);
    txq_msg **m = NULL;
    size_t n = 7;
    int64_t id = 0;

    assert_txq_rc(f->c, txq_send_finish(f->c, f->pg, &id), TXQ_ESTATE);
    assert_non_null(strstr(txq_errmsg(f->c), "no txq_send_start"));
    assert_txq_rc(f->c, txq_pop_finish(f->c, f->pg, &m, &n), TXQ_ESTATE);
    assert_null(m);
    assert_int_equal(n, 0);

    assert_txq_ok(f->c, txq_send_start(f->c, f->pg, "jobs", "x", 1, NULL));
    assert_txq_rc(f->c, txq_send_start(f->c, f->pg, "jobs", "y", 1, NULL),
                  TXQ_ESTATE);
    assert_non_null(strstr(txq_errmsg(f->c), "txq_send_finish"));
    assert_txq_rc(f->c, txq_send(f->c, other, "jobs", "z", 1, NULL, NULL),
                  TXQ_ESTATE);
    assert_txq_rc(f->c, txq_pop_finish(f->c, f->pg, &m, &n), TXQ_ESTATE);
    assert_non_null(strstr(txq_errmsg(f->c), "finish with txq_send_finish"));
    assert_txq_rc(f->c, txq_send_finish(f->c, other, &id), TXQ_EINVAL);
    assert_non_null(strstr(txq_errmsg(f->c), "not the connection"));
    assert_txq_rc(f->c, txq_send_finish(f->c, NULL, &id), TXQ_EINVAL);
    assert_txq_ok(f->c, txq_send_finish(f->c, f->pg, &id));
    assert_txq_rc(f->c, txq_send_finish(f->c, f->pg, &id), TXQ_ESTATE);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from messages"), 1);
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from messages where id = %lld "
                               "and body = 'x'",
                               (long long)id),
                     1);

    /* A pop finish without out or n keeps the pop pending. */
    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c, txq_pop_start(f->c, f->pg, "jobs", 5));
    assert_txq_rc(f->c, txq_pop_finish(f->c, f->pg, NULL, &n), TXQ_EINVAL);
    assert_txq_rc(f->c, txq_pop_finish(f->c, f->pg, &m, NULL), TXQ_EINVAL);
    assert_txq_rc(f->c, txq_send_finish(f->c, f->pg, &id), TXQ_ESTATE);
    assert_txq_ok(f->c, txq_pop_finish(f->c, f->pg, &m, &n));
    assert_int_equal(n, 1);
    txq_msgs_free(m, n);
    tt_exec(f->pg, "commit");
    assert_int_equal(tt_depth(f), 0);
    assert_idle(f->pg);
    PQfinish(other);
}

/* Bad arguments and states: refused at the start, nothing sent, nothing
 * pending (the next call works). */
static void
test_bad_starts_send_nothing(void **state)
{
    tt_fixture *f = *state;
    char big[8] = "x";

    assert_int_equal(txq_send_start(NULL, f->pg, "jobs", "x", 1, NULL),
                     TXQ_EINVAL);
    assert_int_equal(txq_pop_start(NULL, f->pg, "jobs", 1), TXQ_EINVAL);
    assert_int_equal(txq_send_finish(NULL, f->pg, NULL), TXQ_EINVAL);
    assert_int_equal(txq_pop_finish(NULL, f->pg, NULL, NULL), TXQ_EINVAL);
    assert_txq_rc(f->c, txq_send_start(f->c, NULL, "jobs", "x", 1, NULL),
                  TXQ_EINVAL);
    assert_txq_rc(f->c, txq_send_start(f->c, f->pg, "bad name", "x", 1, NULL),
                  TXQ_EINVAL);
    assert_non_null(strstr(txq_errmsg(f->c), "queue name"));
    assert_txq_rc(f->c, txq_send_start(f->c, f->pg, "jobs", NULL, 3, NULL),
                  TXQ_EINVAL);
    assert_non_null(strstr(txq_errmsg(f->c), "body is NULL"));
    assert_txq_rc(
        f->c, txq_send_start(f->c, f->pg, "jobs", big, (size_t)1 << 30, NULL),
        TXQ_ETOOBIG);
    assert_txq_rc(f->c,
                  txq_send_start(f->c, f->pg, "jobs", "x", 1,
                                 TXQ_SEND_OPTS(.priority = 40000)),
                  TXQ_EINVAL);
    assert_non_null(strstr(txq_errmsg(f->c), "priority"));
    assert_txq_rc(
        f->c,
        txq_send_start(f->c, f->pg, "jobs", "x", 1,
                       TXQ_SEND_OPTS(.headers_json = "{\"a\":\"\xff\"}")),
        TXQ_EINVAL);
    assert_non_null(strstr(txq_errmsg(f->c), "headers_json"));
    assert_idle(f->pg);

    assert_txq_rc(f->c, txq_pop_start(f->c, f->pg, "jobs", 1), TXQ_ESTATE);
    assert_non_null(strstr(txq_errmsg(f->c), "inside a transaction"));
    tt_exec(f->pg, "begin");
    assert_txq_rc(f->c, txq_pop_start(f->c, f->pg, "jobs", 0), TXQ_EINVAL);
    assert_non_null(strstr(txq_errmsg(f->c), "max must be"));
    assert_txq_rc(f->c, txq_pop_start(f->c, f->pg, "jobs", 100001), TXQ_EINVAL);
    assert_txq_rc(f->c, txq_pop_start(f->c, f->pg, "", 1), TXQ_EINVAL);
    assert_idle(f->pg);
    assert_int_equal(PQtransactionStatus(f->pg), PQTRANS_INTRANS);
    tt_exec(f->pg, "commit");

    /* A command of the caller's still unanswered: refused, its result
     * left for the caller, nothing pending. */
    assert_int_equal(PQsendQuery(f->pg, "select 41 + 1"), 1);
    assert_txq_rc(f->c, txq_send_start(f->c, f->pg, "jobs", "x", 1, NULL),
                  TXQ_ESTATE);
    assert_non_null(strstr(txq_errmsg(f->c), "in progress"));
    assert_txq_rc(f->c, txq_pop_start(f->c, f->pg, "jobs", 1), TXQ_ESTATE);
    {
        PGresult *r = PQgetResult(f->pg);

        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        assert_string_equal(PQgetvalue(r, 0, 0), "42");
        PQclear(r);
        assert_null(PQgetResult(f->pg));
    }
    assert_txq_rc(f->c, txq_send_finish(f->c, f->pg, NULL), TXQ_ESTATE);

    assert_txq_ok(f->c, txq_send(f->c, f->pg, "jobs", "ok", 2, NULL, NULL));
    assert_int_equal(tt_depth(f), 1);
}

/* Errors of the statement come with the finish, which leaves nothing
 * pending: an unknown queue, in autocommit and in a transaction. */
static void
test_errors_at_finish(void **state)
{
    tt_fixture *f = *state;
    txq_msg **m = NULL;
    size_t n = 0;
    int64_t id = 5;

    assert_txq_ok(f->c, txq_send_start(f->c, f->pg, "nope", "x", 1, NULL));
    assert_txq_rc(f->c, txq_send_finish(f->c, f->pg, &id), TXQ_ENOTFOUND);
    assert_non_null(strstr(txq_errmsg(f->c), "nope"));
    assert_int_equal(id, 5);
    assert_idle(f->pg);

    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c, txq_pop_start(f->c, f->pg, "nope", 3));
    assert_txq_rc(f->c, txq_pop_finish(f->c, f->pg, &m, &n), TXQ_ENOTFOUND);
    assert_null(m);
    assert_int_equal(PQtransactionStatus(f->pg), PQTRANS_INERROR);
    tt_exec(f->pg, "rollback");

    assert_txq_ok(f->c, txq_send_start(f->c, f->pg, "jobs", "y", 1, NULL));
    assert_txq_ok(f->c, txq_send_finish(f->c, f->pg, &id));
    assert_int_equal(tt_depth(f), 1);
}

/* A SET ROLE after the check to a role that may not insert or delete
 * itself: the finish reports the refusal, the next start uses the
 * plpgsql function and succeeds. */
static void
test_role_changed_after_check(void **state)
{
    tt_fixture *f = *state;
    char role[64], crole[64];
    PGconn *pg = tt_role_session(f, role, sizeof role, NULL);
    txq_msg **m = NULL;
    size_t n = 0;
    int64_t id = 0;
    long long calls0;

    tt_role(f, crole, sizeof crole, "consumer", "txq_consumer");
    assert_txq_ok(f->c, txq_send_start(f->c, pg, "jobs", "a", 1, NULL));
    assert_txq_ok(f->c, txq_send_finish(f->c, pg, &id));
    tt_exec(pg, "set role %s", crole);
    assert_txq_ok(f->c, txq_send_start(f->c, pg, "jobs", "b", 1, NULL));
    assert_txq_rc(f->c, txq_send_finish(f->c, pg, &id), TXQ_EPERM);
    assert_string_equal(txq_sqlstate(f->c), "42501");
    assert_txq_ok(f->c, txq_send_start(f->c, pg, "jobs", "c", 1, NULL));
    assert_txq_ok(f->c, txq_send_finish(f->c, pg, &id));
    assert_int_equal(tt_depth(f), 2);

    tt_exec(pg, "reset role");
    assert_txq_ok(f->c, txq_schema_check(f->c, pg)); /* direct again */
    tt_exec(pg, "set role %s", crole);
    tt_exec(pg, "begin");
    assert_txq_ok(f->c, txq_pop_start(f->c, pg, "jobs", 5));
    assert_txq_rc(f->c, txq_pop_finish(f->c, pg, &m, &n), TXQ_EPERM);
    assert_string_equal(txq_sqlstate(f->c), "42501");
    tt_exec(pg, "rollback");
    tt_exec(pg, "begin");
    calls0 = tt_fn_calls(pg, "pop");
    assert_txq_ok(f->c, txq_pop_start(f->c, pg, "jobs", 5));
    assert_txq_ok(f->c, txq_pop_finish(f->c, pg, &m, &n));
    assert_int_equal(n, 2);
    txq_msgs_free(m, n);
    assert_int_equal(tt_fn_calls(pg, "pop") - calls0, 1);
    tt_exec(pg, "commit");
    assert_int_equal(tt_depth(f), 0);
    tt_end_role_session(f, pg, role);
    tt_exec(f->pg, "drop role %s", crole);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sends_on_several_connections,
                                        tt_setup_jobs, tt_teardown),
        cmocka_unit_test_setup_teardown(test_send_batches, tt_setup_jobs,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_send_in_transaction, tt_setup_jobs,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_pop_direct, tt_setup_jobs,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_pop_through_pop_function,
                                        tt_setup_jobs, tt_teardown),
        cmocka_unit_test_setup_teardown(test_misuse_while_pending,
                                        tt_setup_jobs, tt_teardown),
        cmocka_unit_test_setup_teardown(test_bad_starts_send_nothing,
                                        tt_setup_jobs, tt_teardown),
        cmocka_unit_test_setup_teardown(test_errors_at_finish, tt_setup_jobs,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_role_changed_after_check,
                                        tt_setup_jobs, tt_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
