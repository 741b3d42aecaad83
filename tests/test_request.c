/*
 * test_request.c - request/reply: the C requester against a responder
 * process (a forked child that claims each request and sends its reply
 * with txq_reply inside its ack transaction), driven both by
 * txq_requester_wait and by a hand-written poll() loop over
 * txq_requester_fd / txq_requester_timeout_ms / txq_requester_dispatch;
 * timeouts firing in deadline order; requests sent in the caller's
 * transaction; late, cancelled and foreign replies acked, dropped and
 * counted; txq_reply's own rules (rollback, a reply queue that is gone);
 * bad input to every call.
 *
 * Needs TXQ_TEST_DSN (ctest's pg_start fixture provides it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt.h"

static int
setup_rr(void **state)
{
    tt_fixture *f;

    tt_setup(state);
    f = *state;
    tt_queue(f, "svc", NULL);
    tt_queue(f, "replies", NULL);
    tt_exec(f->pg, "create table handled (request bigint, reply bigint)");
    return 0;
}

/* What the callbacks saw. */
typedef struct seen {
    int replies;
    int timeouts;
    char body[8][64];      /* reply bodies, in arrival order */
    char corr[8][64];      /* correlation ids, in callback order */
    char timed_out[8][64]; /* correlation ids of timeouts, in order */
    txq_requester *r;      /* for callbacks that call back in */
    txq_err nested;        /* what a nested call returned */
} seen;

static void
on_reply(void *arg, const char *corr, const txq_msg *reply)
{
    seen *s = arg;
    size_t len;
    const char *body = txq_msg_body(reply, &len);

    if (s->replies < 8) {
        snprintf(s->body[s->replies], sizeof s->body[0], "%.*s", (int)len,
                 body);
        snprintf(s->corr[s->replies], sizeof s->corr[0], "%s", corr);
    }
    s->replies++;
}

static void
on_timeout(void *arg, const char *corr)
{
    seen *s = arg;

    if (s->timeouts < 8)
        snprintf(s->timed_out[s->timeouts], sizeof s->timed_out[0], "%s", corr);
    s->timeouts++;
}

/* The responder: handles count requests of queue svc, each in one
 * transaction: the reply ("re:" + body), a row in handled, the ack. */
typedef struct responder {
    const char *schema;
    int count;
} responder;

static int
respond(void *arg)
{
    responder *a = arg;
    PGconn *pg = tt_child_connect(a->schema);
    txq_client *c = txq_client_new(TXQ_OPTIONS(.schema = a->schema));
    double until = tt_now() + 30;
    int handled = 0, rc = 1;

    if (pg == NULL || c == NULL)
        goto out;
    while (handled < a->count && tt_now() < until) {
        txq_msg **m = NULL;
        size_t n = 0;
        txq_err err =
            txq_claim(c, pg, "svc", 10, TXQ_RECV_OPTS(.wait = 1), &m, &n);

        if (err == TXQ_EMPTY)
            continue;
        if (err != TXQ_OK) {
            fprintf(stderr, "responder: claim: %s\n", txq_errmsg(c));
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            char out[128], sql[128];
            size_t len;
            const char *body = txq_msg_body(m[i], &len);
            int64_t id = 0;
            int k = snprintf(out, sizeof out, "re:%.*s", (int)len, body);

            PQclear(PQexec(pg, "begin"));
            err = txq_reply(c, pg, m[i], out, (size_t)k, "{\"ok\": true}", &id);
            if (err == TXQ_OK) {
                snprintf(sql, sizeof sql,
                         "insert into handled values (%lld, %lld)",
                         (long long)txq_msg_id(m[i]), (long long)id);
                PQclear(PQexec(pg, sql));
                err = txq_ack(c, pg, m[i]);
            }
            if (err != TXQ_OK) {
                fprintf(stderr, "responder: %s\n", txq_errmsg(c));
                PQclear(PQexec(pg, "rollback"));
                txq_msgs_free(m, n);
                goto out;
            }
            PQclear(PQexec(pg, "commit"));
            handled++;
        }
        txq_msgs_free(m, n);
    }
    rc = handled == a->count ? 0 : 2;
out:
    txq_client_free(c);
    PQfinish(pg);
    return rc;
}

/* A requester on a connection of its own, open on "replies". */
static txq_requester *
requester(tt_fixture *f, PGconn **conn)
{
    txq_requester *r = txq_requester_new(f->c, "replies", NULL);

    assert_non_null(r);
    *conn = tt_connect(f->schema);
    assert_txq_ok(f->c, txq_requester_open(r, *conn));
    return r;
}

static void
test_round_trip(void **state)
{
    tt_fixture *f = *state;
    responder a = {f->schema, 3};
    seen s = {0};
    PGconn *rconn;
    txq_requester *r = requester(f, &rconn);
    char corr[3][TXQ_CORRELATION_ID_SIZE];
    const char *bodies[3] = {"one", "two", "three"};
    double t0;
    int pid;

    /* Nothing pending: the loop may sleep until input. */
    assert_int_equal(txq_requester_timeout_ms(r), 0); /* first look due */
    assert_txq_ok(f->c, txq_requester_dispatch(r, NULL));
    assert_int_equal(txq_requester_timeout_ms(r), -1);
    assert_true(txq_requester_fd(r) >= 0);

    pid = tt_fork(respond, &a);
    for (int i = 0; i < 3; i++) {
        assert_txq_ok(f->c,
                      txq_request(r, NULL, "svc", bodies[i], strlen(bodies[i]),
                                  NULL, 10, on_reply, on_timeout, &s, corr[i]));
        assert_true(strlen(corr[i]) > 0);
    }
    assert_int_equal(txq_requester_pending(r), 3);
    /* Pending requests: wake for the next poll (5 s), not busily. */
    {
        int ms = txq_requester_timeout_ms(r);
        assert_true(ms == 0 || ms > 4000);
    }

    /* A hand-written event loop. */
    t0 = tt_now();
    while (txq_requester_pending(r) > 0 && tt_now() - t0 < 20) {
        struct pollfd pfd = {txq_requester_fd(r), POLLIN, 0};
        size_t called = 0;

        poll(&pfd, 1, txq_requester_timeout_ms(r));
        assert_txq_ok(f->c, txq_requester_dispatch(r, &called));
    }
    assert_int_equal(tt_wait(pid), 0);
    assert_int_equal(s.replies, 3);
    assert_int_equal(s.timeouts, 0);
    for (int i = 0; i < 3; i++) {
        int found = 0;
        for (int j = 0; j < 3; j++) {
            if (strcmp(s.corr[j], corr[i]) == 0) {
                char want[64];
                snprintf(want, sizeof want, "re:%s", bodies[i]);
                assert_string_equal(s.body[j], want);
                found = 1;
            }
        }
        assert_true(found);
    }
    assert_int_equal(txq_requester_unknown(r), 0);
    /* Replies were acked; each request was handled once, and its reply
     * committed with the handler's row. */
    assert_int_equal(tt_depth(f), 0);
    assert_int_equal(tt_scalar(f->pg, "select count(distinct request) from "
                                      "handled where reply > 0"),
                     3);
    assert_int_equal(tt_scalar(f->pg, "select acked from queue_stats where "
                                      "queue = 'replies'"),
                     3);
    txq_requester_free(r);
    /* At most the one registration made after the last wake-up is left
     * on replies (the next send there takes it); the responder's long
     * polls may leave theirs on svc. */
    assert_true(tt_scalar(f->pg, "select _wake_pending(q) from queues q "
                                 "where name = 'replies'") <= 1);
    PQfinish(rconn);
}

/* Every reply wakes the requester, not only the first: the wake-up takes
 * the requester's registration, and it registers again before it looks.
 * Without that the second reply waits for the poll (5 s). */
static void
test_each_reply_wakes(void **state)
{
    tt_fixture *f = *state;
    responder a = {f->schema, 2};
    seen s = {0};
    PGconn *rconn;
    txq_requester *r = requester(f, &rconn);
    char corr[TXQ_CORRELATION_ID_SIZE];
    double t0;
    int pid;

    assert_txq_ok(f->c, txq_requester_dispatch(r, NULL));
    pid = tt_fork(respond, &a);
    for (int i = 0; i < 2; i++) {
        assert_txq_ok(f->c, txq_request(r, NULL, "svc", "x", 1, NULL, 10,
                                        on_reply, on_timeout, &s, corr));
        t0 = tt_now();
        assert_txq_ok(f->c, txq_requester_wait(r, 4.5));
        assert_int_equal(s.replies, i + 1);
        if (tt_now() - t0 > 2.5)
            fail_msg("reply %d took %.2f s", i + 1, tt_now() - t0);
    }
    assert_int_equal(tt_wait(pid), 0);
    txq_requester_free(r);
    PQfinish(rconn);
}

static void
test_request_in_callers_transaction(void **state)
{
    tt_fixture *f = *state;
    responder a = {f->schema, 1};
    seen s = {0};
    PGconn *rconn;
    txq_requester *r = requester(f, &rconn);
    char corr[TXQ_CORRELATION_ID_SIZE];
    int pid;

    /* Rolled back: the request never went out, so its timeout fires. */
    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c, txq_request(r, f->pg, "svc", "lost", 4, NULL, 0.3,
                                    on_reply, on_timeout, &s, corr));
    tt_exec(f->pg, "rollback");
    assert_txq_ok(f->c, txq_requester_wait(r, 5));
    assert_int_equal(s.timeouts, 1);
    assert_string_equal(s.timed_out[0], corr);
    assert_int_equal(tt_depth(f), 0);

    /* Committed with the caller's own writes: answered. The caller gives
     * its own correlation id and headers. */
    pid = tt_fork(respond, &a);
    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c,
                  txq_request(r, f->pg, "svc", "kept", 4,
                              TXQ_SEND_OPTS(.correlation_id = "mine-1",
                                            .headers_json = "{\"op\": \"sum\"}",
                                            .reply_to = "replies"),
                              10, on_reply, on_timeout, &s, corr));
    assert_string_equal(corr, "mine-1");
    tt_exec(f->pg, "commit");
    assert_txq_ok(f->c, txq_requester_wait(r, 20));
    assert_int_equal(tt_wait(pid), 0);
    assert_int_equal(s.replies, 1);
    assert_string_equal(s.corr[0], "mine-1");
    assert_string_equal(s.body[0], "re:kept");
    txq_requester_free(r);
    PQfinish(rconn);
}

static void
test_timeouts_and_unknown_replies(void **state)
{
    tt_fixture *f = *state;
    seen s = {0};
    PGconn *rconn;
    txq_requester *r = requester(f, &rconn);
    char c1[TXQ_CORRELATION_ID_SIZE], c2[TXQ_CORRELATION_ID_SIZE],
        c3[TXQ_CORRELATION_ID_SIZE];
    double t0 = tt_now();
    int ms;

    /* Nobody answers svc. The later deadline is registered first. */
    assert_txq_ok(f->c, txq_request(r, NULL, "svc", "b", 1, NULL, 0.6, on_reply,
                                    on_timeout, &s, c2));
    assert_txq_ok(f->c, txq_request(r, NULL, "svc", "a", 1, NULL, 0.3, on_reply,
                                    on_timeout, &s, c1));
    assert_txq_ok(f->c, txq_request(r, NULL, "svc", "c", 1, NULL, 60, on_reply,
                                    NULL, &s, c3));
    assert_true(strcmp(c1, c2) != 0);
    assert_txq_ok(f->c, txq_requester_dispatch(r, NULL));
    ms = txq_requester_timeout_ms(r);
    assert_true(ms > 0 && ms <= 300);

    /* Cancel one: no callback, ever. */
    assert_txq_ok(f->c, txq_request_cancel(r, c3));
    assert_txq_rc(f->c, txq_request_cancel(r, c3), TXQ_ENOTFOUND);
    assert_txq_ok(f->c, txq_requester_wait(r, 5));
    assert_int_equal(s.timeouts, 2);
    assert_int_equal(s.replies, 0);
    assert_string_equal(s.timed_out[0], c1); /* earliest first */
    assert_string_equal(s.timed_out[1], c2);
    assert_true(tt_now() - t0 >= 0.55 && tt_now() - t0 < 3);
    assert_int_equal(txq_requester_pending(r), 0);
    assert_int_equal(txq_requester_timeout_ms(r), -1);

    /* Late replies, a cancelled one's, one with no correlation id and one
     * nobody asked for: acked, dropped, counted, no callback. */
    tt_exec(f->pg, "select reply('replies', '%s', 'late')", c1);
    tt_exec(f->pg, "select reply('replies', '%s', 'cancelled')", c3);
    tt_exec(f->pg, "select reply('replies', 'stranger', 'who?')");
    tt_exec(f->pg, "select send('replies', 'no correlation id')");
    t0 = tt_now();
    while (txq_requester_unknown(r) < 4 && tt_now() - t0 < 10) {
        struct pollfd pfd = {txq_requester_fd(r), POLLIN, 0};

        /* Nothing pending: only the notification can wake us. */
        assert_int_equal(txq_requester_timeout_ms(r), -1);
        poll(&pfd, 1, 2000);
        assert_txq_ok(f->c, txq_requester_dispatch(r, NULL));
    }
    assert_int_equal(txq_requester_unknown(r), 4);
    assert_int_equal(s.replies, 0);
    assert_int_equal(s.timeouts, 2);
    assert_int_equal(tt_depth(f), 3); /* the three unanswered requests */
    assert_int_equal(tt_scalar(f->pg, "select count(*) from messages m join "
                                      "queues q using (queue_id) where "
                                      "q.name = 'replies'"),
                     0);
    txq_requester_free(r);
    PQfinish(rconn);
}

/* A reply callback that calls back into the requester. */
static void
nested_reply(void *arg, const char *corr, const txq_msg *reply)
{
    seen *s = arg;

    on_reply(arg, corr, reply);
    s->nested = txq_requester_dispatch(s->r, NULL);
    if (s->nested == TXQ_ESTATE)
        s->nested = txq_request(s->r, NULL, "svc", "again", 5, NULL, 0.2,
                                on_reply, on_timeout, s, NULL);
}

static void
test_callbacks_may_request(void **state)
{
    tt_fixture *f = *state;
    seen s = {0};
    PGconn *rconn;
    txq_requester *r = requester(f, &rconn);
    char corr[TXQ_CORRELATION_ID_SIZE];

    s.r = r;
    assert_txq_ok(f->c, txq_request(r, NULL, "svc", "x", 1, NULL, 10,
                                    nested_reply, on_timeout, &s, corr));
    tt_exec(f->pg, "select reply('replies', '%s', 'pong')", corr);
    assert_txq_ok(f->c, txq_requester_wait(r, 5));
    assert_int_equal(s.replies, 1);
    assert_int_equal(s.nested, TXQ_OK); /* dispatch refused, request made */
    assert_int_equal(s.timeouts, 1);    /* the nested request timed out */
    txq_requester_free(r);
    PQfinish(rconn);
}

static void
test_reply_rules(void **state)
{
    tt_fixture *f = *state;
    txq_msg **m;
    int64_t id = -1;
    txq_send_opts req = {.size = sizeof(txq_send_opts),
                         .correlation_id = "c-1",
                         .reply_to = "replies"};

    assert_txq_ok(f->c, txq_send(f->c, f->pg, "svc", "q", 1, &req, NULL));
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "svc", "plain", 5, NULL, NULL));
    m = tt_take(f, f->pg, "svc", 1);

    /* Rolled back with the handler's transaction: no reply. */
    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c, txq_reply(f->c, f->pg, m[0], "r", 1, NULL, &id));
    assert_true(id > 0);
    tt_exec(f->pg, "rollback");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from messages where "
                                      "correlation_id = 'c-1' and "
                                      "reply_to is null"),
                     0);

    /* Committed: on the reply queue with the correlation id; binary. */
    assert_txq_ok(f->c,
                  txq_reply(f->c, f->pg, m[0], "\0\xff", 2, "{\"a\": 1}", &id));
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from messages m join queues q "
                               "using (queue_id) where q.name = 'replies' and "
                               "m.id = %lld and correlation_id = 'c-1' and "
                               "body = '\\x00ff' and headers = '{\"a\": 1}'",
                               (long long)id),
                     1);

    /* Bad input. */
    assert_txq_rc(f->c, txq_reply(f->c, f->pg, NULL, "r", 1, NULL, &id),
                  TXQ_EINVAL);
    assert_string_equal(txq_errmsg(f->c), "request is NULL");
    assert_txq_rc(f->c, txq_reply(f->c, f->pg, m[0], NULL, 1, NULL, &id),
                  TXQ_EINVAL);
    assert_txq_rc(f->c, txq_reply(f->c, f->pg, m[0], "r", 1, "[1]", &id),
                  TXQ_EINVAL);
    assert_string_equal(txq_errmsg(f->c),
                        "headers must be a JSON object (got array)");
    assert_txq_rc(f->c, txq_reply(f->c, f->pg, m[0], "r", 1, "{", &id),
                  TXQ_EINVAL);
    assert_txq_rc(f->c, txq_reply(NULL, f->pg, m[0], "r", 1, NULL, &id),
                  TXQ_EINVAL);
    txq_msgs_free(m, 1);
    m = tt_take(f, f->pg, "svc", 1); /* "plain": not a request */
    assert_txq_rc(f->c, txq_reply(f->c, f->pg, m[0], "r", 1, NULL, &id),
                  TXQ_EINVAL);
    assert_non_null(strstr(txq_errmsg(f->c), "it has no reply_to queue"));
    assert_string_equal(
        tt_fails(f->pg, NULL, 0, "select reply('replies', null, 'x')"),
        "22023");
    assert_string_equal(tt_fails(f->pg, NULL, 0,
                                 "select reply(null, 'c', "
                                 "'x')"),
                        "22023");
    assert_string_equal(tt_fails(f->pg, NULL, 0,
                                 "select reply('Bad Q', 'c', "
                                 "'x')"),
                        "22023");
    txq_msgs_free(m, 1);

    /* The requester gave up and dropped its queue: the reply is dropped
     * and recorded; the handler's work still commits. */
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "svc", "q", 1, &req, NULL));
    m = tt_take(f, f->pg, "svc", 1);
    assert_txq_ok(f->c, txq_queue_drop(f->c, f->pg, "replies", 1));
    id = -1;
    assert_txq_ok(f->c, txq_reply(f->c, f->pg, m[0], "r", 1, NULL, &id));
    assert_int_equal(id, 0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from audit_log where "
                                      "action = 'reply_dropped' and queue = "
                                      "'replies'"),
                     1);
    txq_msgs_free(m, 1);
}

static void
test_requester_bad_input(void **state)
{
    tt_fixture *f = *state;
    PGconn *rconn = tt_connect(f->schema);
    txq_requester *r;
    seen s = {0};
    char corr[TXQ_CORRELATION_ID_SIZE];
    char long_corr[100];

    /* Not open yet. */
    r = txq_requester_new(f->c, "replies", NULL);
    assert_non_null(r);
    assert_int_equal(txq_requester_fd(r), -1);
    assert_int_equal(txq_requester_timeout_ms(r), -1);
    assert_txq_rc(f->c, txq_requester_dispatch(r, NULL), TXQ_ESTATE);
    assert_txq_rc(
        f->c,
        txq_request(r, NULL, "svc", "x", 1, NULL, 1, on_reply, NULL, &s, corr),
        TXQ_ESTATE);
    assert_string_equal(corr, "");
    assert_txq_rc(f->c, txq_requester_open(r, NULL), TXQ_EINVAL);
    /* Inside a transaction. */
    tt_exec(rconn, "begin");
    assert_txq_rc(f->c, txq_requester_open(r, rconn), TXQ_ESTATE);
    tt_exec(rconn, "rollback");
    txq_requester_free(r);

    /* Bad or unknown reply queue. */
    r = txq_requester_new(f->c, "Bad Queue", NULL);
    assert_txq_rc(f->c, txq_requester_open(r, rconn), TXQ_EINVAL);
    assert_non_null(strstr(txq_errmsg(f->c), "invalid reply queue name"));
    txq_requester_free(r);
    r = txq_requester_new(f->c, NULL, NULL);
    assert_txq_rc(f->c, txq_requester_open(r, rconn), TXQ_EINVAL);
    assert_string_equal(txq_errmsg(f->c), "reply queue name is NULL");
    txq_requester_free(r);
    r = txq_requester_new(f->c, "nope", NULL);
    assert_txq_rc(f->c, txq_requester_open(r, rconn), TXQ_ENOTFOUND);
    assert_string_equal(txq_errmsg(f->c), "unknown queue \"nope\"");
    txq_requester_free(r);
    assert_int_equal(tt_pending(f->pg), 0);

    /* Bad requests: nothing sent, nothing pending. */
    r = txq_requester_new(f->c, "replies", NULL);
    assert_txq_ok(f->c, txq_requester_open(r, rconn));
    assert_txq_rc(
        f->c,
        txq_request(r, NULL, "svc", "x", 1, NULL, 1, NULL, NULL, &s, corr),
        TXQ_EINVAL);
    assert_string_equal(txq_errmsg(f->c), "on_reply is NULL");
    assert_txq_rc(
        f->c,
        txq_request(r, NULL, "svc", "x", 1, NULL, 0, on_reply, NULL, &s, corr),
        TXQ_EINVAL);
    assert_string_equal(txq_errmsg(f->c),
                        "timeout must be more than 0 seconds");
    assert_txq_rc(
        f->c,
        txq_request(r, NULL, "svc", "x", 1, NULL, -1, on_reply, NULL, &s, corr),
        TXQ_EINVAL);
    assert_txq_rc(f->c,
                  txq_request(r, NULL, "svc", "x", 1, NULL, 1e9, on_reply, NULL,
                              &s, corr),
                  TXQ_EINVAL);
    assert_txq_rc(f->c,
                  txq_request(r, NULL, "svc", "x", 1,
                              TXQ_SEND_OPTS(.reply_to = "svc"), 1, on_reply,
                              NULL, &s, corr),
                  TXQ_EINVAL);
    assert_string_equal(txq_errmsg(f->c), "reply_to must be NULL or the "
                                          "requester's queue \"replies\"");
    memset(long_corr, 'x', 99);
    long_corr[99] = '\0';
    assert_txq_rc(f->c,
                  txq_request(r, NULL, "svc", "x", 1,
                              TXQ_SEND_OPTS(.correlation_id = long_corr), 1,
                              on_reply, NULL, &s, corr),
                  TXQ_EINVAL);
    assert_txq_rc(
        f->c,
        txq_request(r, NULL, "nope", "x", 1, NULL, 1, on_reply, NULL, &s, corr),
        TXQ_ENOTFOUND);
    assert_txq_rc(
        f->c,
        txq_request(r, NULL, "B.d", "x", 1, NULL, 1, on_reply, NULL, &s, corr),
        TXQ_EINVAL);
    assert_int_equal(txq_requester_pending(r), 0);
    assert_int_equal(tt_depth(f), 0);
    /* A correlation id that is pending already. */
    assert_txq_ok(f->c, txq_request(r, NULL, "svc", "x", 1,
                                    TXQ_SEND_OPTS(.correlation_id = "dup"), 1,
                                    on_reply, NULL, &s, corr));
    assert_txq_rc(f->c,
                  txq_request(r, NULL, "svc", "x", 1,
                              TXQ_SEND_OPTS(.correlation_id = "dup"), 1,
                              on_reply, NULL, &s, corr),
                  TXQ_EEXIST);
    assert_int_equal(txq_requester_pending(r), 1);
    assert_int_equal(tt_depth(f), 1);
    assert_txq_rc(f->c, txq_request_cancel(r, NULL), TXQ_EINVAL);
    assert_txq_rc(f->c, txq_requester_wait(r, -1), TXQ_EINVAL);
    assert_int_equal(txq_request(NULL, NULL, "svc", "x", 1, NULL, 1, on_reply,
                                 NULL, &s, corr),
                     TXQ_EINVAL);
    txq_requester_free(r); /* with a request pending: no callback */
    txq_requester_free(NULL);
    assert_int_equal(s.replies + s.timeouts, 0);
    PQfinish(rconn);
}

static void
test_many_pending(void **state)
{
    tt_fixture *f = *state;
    seen s = {0};
    PGconn *rconn;
    txq_requester *r = requester(f, &rconn);
    char corr[TXQ_CORRELATION_ID_SIZE];
    char first[TXQ_CORRELATION_ID_SIZE];

    /* Enough to grow the table several times; each is found again. */
    for (int i = 0; i < 500; i++) {
        assert_txq_ok(f->c, txq_request(r, NULL, "svc", "x", 1, NULL, 30,
                                        on_reply, on_timeout, &s, corr));
        if (i == 0)
            memcpy(first, corr, sizeof corr);
    }
    assert_int_equal(txq_requester_pending(r), 500);
    tt_exec(f->pg,
            "select reply('replies', '%s', 'a'), reply('replies', "
            "'%s', 'b')",
            first, corr);
    assert_txq_ok(f->c, txq_requester_wait(r, 0.5));
    assert_int_equal(s.replies, 2);
    assert_int_equal(txq_requester_pending(r), 498);
    assert_int_equal(txq_requester_unknown(r), 0);
    txq_requester_free(r);
    PQfinish(rconn);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup_rr, tt_teardown),
        cmocka_unit_test_setup_teardown(test_each_reply_wakes, setup_rr,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_request_in_callers_transaction,
                                        setup_rr, tt_teardown),
        cmocka_unit_test_setup_teardown(test_timeouts_and_unknown_replies,
                                        setup_rr, tt_teardown),
        cmocka_unit_test_setup_teardown(test_callbacks_may_request, setup_rr,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_reply_rules, setup_rr,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_requester_bad_input, setup_rr,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_many_pending, setup_rr,
                                        tt_teardown),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("request", tests, NULL, NULL);
}
