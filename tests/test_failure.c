/*
 * test_failure.c - failure policies and operator tools: retry with
 * exponential backoff and jitter, permanent failures, the review / ignore /
 * notify policies (dead letters with their error history, alerts, NOTIFY),
 * requeue (also after editing a dead letter), requeue_all, discard with its
 * audit trail, queue_stats, drop_queue, maintain() rescuing claims of dead
 * sessions, and message expiry.
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

/* A fixed "now" far from the real one, for i_now. */
#define T0 "'2030-01-01 00:00:00+00'::timestamptz"

static double
sql_double(PGconn *pg, const char *sql)
{
    char buf[64];

    return strtod(tt_text(pg, buf, sizeof(buf), "%s", sql), NULL);
}

/* Fail unless got is within eps of want. */
static void
assert_near(double got, double want, double eps)
{
    if (got - want > eps || want - got > eps)
        fail_msg("got %.6f, want %.6f (+- %g)", got, want, eps);
}

static void
test_backoff_function(void **state)
{
    tt_fixture *f = *state;
    char sql[256];
    int a;

    for (a = 1; a <= 30; a++) {
        double want = a > 10 ? 600 : (double)(1L << (a - 1));
        double hi;

        if (want > 600)
            want = 600;
        /* The jitter's range, want * 0.5 wide, ends at the cap at most. */
        hi = want * 1.5 < 600 ? want * 1.5 : 600;

        snprintf(sql, sizeof(sql),
                 "select extract(epoch from backoff(%d, '1 s', '10 min', "
                 "0.5, 0))",
                 a);
        assert_near(sql_double(f->pg, sql), hi - want * 0.5, 1e-6);
        snprintf(sql, sizeof(sql),
                 "select extract(epoch from backoff(%d, '1 s', '10 min', "
                 "0.5, 0.999))",
                 a);
        assert_near(sql_double(f->pg, sql), hi - want * 0.5 * 0.001, 1e-3);
    }
    /* No overflow far past the cap; jitter 0 ignores i_random. */
    assert_near(sql_double(f->pg, "select extract(epoch from "
                                  "backoff(1000, '1 s', '1 h'))"),
                3600, 1e-6);
    assert_near(sql_double(f->pg, "select extract(epoch from "
                                  "backoff(3, '2 s', '1 h', 0, 0.9))"),
                8, 1e-6);
    /* Real randomness stays inside [d, d * (1 + jitter)]. */
    assert_int_equal(tt_scalar(f->pg, "select count(*) from "
                                      "generate_series(1, 500) g where "
                                      "backoff(4, '1 s', '1 h', 0.25) not "
                                      "between '8 s' and '10 s'"),
                     0);
    assert_true(tt_scalar(f->pg,
                          "select count(distinct backoff(4, '1 s', "
                          "'1 h', 0.25)) from generate_series(1, 50)") > 10);
    /* ... and never past the cap, where it still spreads. */
    assert_int_equal(tt_scalar(f->pg, "select count(*) from "
                                      "generate_series(1, 500) g where "
                                      "backoff(6, '2 s', '10 s', 0.5) not "
                                      "between '5 s' and '10 s'"),
                     0);
    assert_true(tt_scalar(f->pg,
                          "select count(distinct backoff(6, '2 s', "
                          "'10 s', 0.5)) from generate_series(1, 50)") > 10);
}

/* T0 plus the seconds in temp table t: the time of the current attempt. */
#define AT T0 " + (select s from t) * interval '1 s'"

static void
test_retry_follows_backoff(void **state)
{
    tt_fixture *f = *state;
    /* i_random 0: d = min(2 s * 2^(attempt - 1), 10 s), the low end of
     * the jitter's range [d, 1.5 d], which moves down to end at the cap:
     * 8 s -> [6, 10], 10 s -> [5, 10]. */
    static const int want[] = {2, 4, 6, 5, 5};
    char buf[32];
    long long id;
    int a;

    tt_exec(f->pg, "select create_queue('jobs', i_max_attempts => 9, "
                   "i_backoff_base => '2 s', i_backoff_cap => '10 s', "
                   "i_backoff_jitter => 0.5)");
    tt_send(f, f->pg, "jobs", "flaky");
    tt_exec(f->pg, "create temp table t (s int)");
    tt_exec(f->pg, "insert into t values (0)");
    for (a = 1; a <= 5; a++) {
        id =
            tt_scalar(f->pg, "select id from receive('jobs', 1, null, " AT ")");
        assert_int_equal(tt_scalar(f->pg, "select attempts from messages"), a);
        assert_string_equal(tt_text(f->pg, buf, sizeof(buf),
                                    "select fail(%lld, 'boom %d', %d, i_now "
                                    "=> " AT ", i_random => 0)",
                                    id, a, a),
                            "retry");
        assert_int_equal(tt_scalar(f->pg, "select extract(epoch from "
                                          "visible_at - (" AT "))::int "
                                          "from messages"),
                         want[a - 1]);
        tt_exec(f->pg, "update t set s = s + %d", want[a - 1]);
        /* A millisecond early it is still waiting. */
        assert_int_equal(tt_scalar(f->pg,
                                   "select count(*) from receive('jobs', 1, "
                                   "null, " AT " - interval '1 ms')"),
                         0);
    }
    assert_int_equal(tt_scalar(f->pg, "select count(*) from message_errors"),
                     5);
    assert_int_equal(tt_scalar(f->pg, "select retried from queue_stats"), 5);

    /* Jitter never passes the cap: at the cap, a 50% jitter spreads over
     * [5 s, 10 s], and i_random 0.5 falls in its middle. */
    id = tt_scalar(f->pg, "select id from receive('jobs', 1, null, " AT ")");
    tt_exec(f->pg,
            "select fail(%lld, 'boom', i_now => " AT ", i_random => 0.5)", id);
    assert_near(sql_double(f->pg, "select extract(epoch from "
                                  "visible_at - (" AT ")) from "
                                  "messages"),
                7.5, 1e-6);
}

static void
test_fail_via_c_api(void **state)
{
    tt_fixture *f = *state;
    txq_msg **m;
    txq_outcome out = 0;

    tt_queue(f, "jobs",
             TXQ_QUEUE_OPTS(.backoff_base = 100, .backoff_jitter = 0.1));
    tt_send(f, f->pg, "jobs", "x");
    m = tt_take(f, f->pg, "jobs", 1);
    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c, txq_fail(f->c, f->pg, m[0], "it broke", NULL, &out));
    tt_exec(f->pg, "commit");
    assert_int_equal(out, TXQ_OUTCOME_RETRY);
    assert_int_equal(tt_scalar(f->pg, "select (extract(epoch from visible_at "
                                      "- now()) between 98 and 111)::int "
                                      "from messages"),
                     1);
    assert_int_equal(tt_scalar(f->pg, "select retrying from queue_stats"), 1);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from message_errors "
                                      "where error = 'it broke' and "
                                      "attempt = 1"),
                     1);
    /* Once failed, this attempt no longer holds the message: failing or
     * acking it again is a stale holder's mistake and changes nothing. */
    assert_txq_rc(f->c, txq_fail(f->c, f->pg, m[0], "again", NULL, &out),
                  TXQ_ESTATE);
    assert_txq_rc(f->c, txq_ack(f->c, f->pg, m[0]), TXQ_ESTATE);
    assert_txq_rc(f->c, txq_set_visibility(f->c, f->pg, m[0], 0), TXQ_ESTATE);
    assert_int_equal(tt_depth(f), 1);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from message_errors"),
                     1);
    assert_int_equal(tt_scalar(f->pg, "select retried from queue_stats"), 1);
    txq_msgs_free(m, 1);

    /* An explicit retry_after replaces the backoff. */
    tt_send(f, f->pg, "jobs", "y");
    m = tt_take(f, f->pg, "jobs", 1);
    assert_string_equal(txq_msg_body(m[0], NULL), "y");
    assert_txq_ok(f->c, txq_fail(f->c, f->pg, m[0], NULL,
                                 TXQ_FAIL_OPTS(.retry_after = 5), &out));
    assert_int_equal(out, TXQ_OUTCOME_RETRY);
    assert_int_equal(tt_scalar(f->pg,
                               "select (extract(epoch from visible_at "
                               "- now()) between 3 and 5.5)::int "
                               "from messages where id = %lld",
                               (long long)txq_msg_id(m[0])),
                     1);
    assert_txq_rc(f->c,
                  txq_fail(f->c, f->pg, m[0], NULL,
                           TXQ_FAIL_OPTS(.retry_after = -1), &out),
                  TXQ_EINVAL);
    txq_msgs_free(m, 1);
}

static void
test_permanent_failure(void **state)
{
    tt_fixture *f = *state;
    txq_msg **m;
    txq_outcome out = 0;
    PGresult *res;

    tt_queue(f, "jobs", TXQ_QUEUE_OPTS(.max_attempts = 5));
    tt_send(f, f->pg, "jobs", "bad payload");
    m = tt_take(f, f->pg, "jobs", 1);
    assert_txq_ok(f->c, txq_fail(f->c, f->pg, m[0], "cannot parse",
                                 TXQ_FAIL_OPTS(.permanent = 1), &out));
    assert_int_equal(out, TXQ_OUTCOME_DEAD);
    txq_msgs_free(m, 1);
    assert_int_equal(tt_depth(f), 0);
    res = tt_query(f->pg, "select reason, attempts, last_error, "
                          "convert_from(body, 'UTF8') from dead_letters");
    assert_int_equal(PQntuples(res), 1);
    assert_string_equal(PQgetvalue(res, 0, 0), "permanent");
    assert_string_equal(PQgetvalue(res, 0, 1), "1");
    assert_string_equal(PQgetvalue(res, 0, 2), "cannot parse");
    assert_string_equal(PQgetvalue(res, 0, 3), "bad payload");
    PQclear(res);
}

/* Claim and fail the only message of jobs with error text err. */
static txq_outcome
claim_fail(tt_fixture *f, const char *err)
{
    txq_msg **m = tt_take(f, f->pg, "jobs", 1);
    txq_outcome out = 0;

    assert_txq_ok(f->c, txq_fail(f->c, f->pg, m[0], err, NULL, &out));
    txq_msgs_free(m, 1);
    return out;
}

static void
test_exhausted_review(void **state)
{
    tt_fixture *f = *state;
    char buf[256];
    int64_t id;

    tt_exec(f->pg, "select create_queue('jobs', i_max_attempts => 3, "
                   "i_backoff_base => '0', i_backoff_cap => '0')");
    id = tt_send(f, f->pg, "jobs", "x");
    assert_int_equal(claim_fail(f, "boom 1"), TXQ_OUTCOME_RETRY);
    assert_int_equal(claim_fail(f, "boom 2"), TXQ_OUTCOME_RETRY);
    assert_int_equal(claim_fail(f, "boom 3"), TXQ_OUTCOME_DEAD);
    assert_int_equal(tt_depth(f), 0);
    assert_int_equal(tt_scalar(f->pg, "select id from dead_letters"), id);
    assert_string_equal(
        tt_text(f->pg, buf, sizeof(buf),
                "select queue || ' ' || reason || ' ' || attempts || ' ' || "
                "last_error from dead_letters"),
        "jobs exhausted 3 boom 3");
    assert_string_equal(
        tt_text(f->pg, buf, sizeof(buf),
                "select string_agg((e ->> 'attempt') || ':' || (e ->> "
                "'error'), ',' order by (e ->> 'attempt')::int) from "
                "dead_letters, jsonb_array_elements(errors) e"),
        "1:boom 1,2:boom 2,3:boom 3");
    assert_string_equal(tt_text(f->pg, buf, sizeof(buf),
                                "select dead || ' ' || dead_lettered || ' ' "
                                "|| retried from queue_stats"),
                        "1 1 2");
    /* Nothing else happens to it until somebody acts. */
    tt_exec(f->pg, "select maintain(now() + interval '30 days')");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from dead_letters"), 1);
}

static void
test_exhausted_ignore(void **state)
{
    tt_fixture *f = *state;

    tt_queue(f, "jobs",
             TXQ_QUEUE_OPTS(.max_attempts = 1,
                            .on_exhausted = TXQ_ON_EXHAUSTED_IGNORE));
    tt_send(f, f->pg, "jobs", "unimportant log line");
    assert_int_equal(claim_fail(f, "nope"), TXQ_OUTCOME_IGNORED);
    assert_int_equal(tt_depth(f), 0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from dead_letters"), 0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from message_errors"),
                     0);
    assert_int_equal(tt_scalar(f->pg, "select ignored from queue_stats"), 1);
    assert_int_equal(tt_scalar(f->pg, "select dead_lettered from queue_stats"),
                     0);
}

static void
test_exhausted_notify(void **state)
{
    tt_fixture *f = *state;
    PGconn *l = tt_connect(f->schema);
    PGnotify *note = NULL;
    txq_msg **m;
    txq_outcome out = 0;
    char buf[256];
    double until;
    const char *p[1];
    PGresult *res;
    int64_t id;

    tt_exec(l, "listen txq_alert");
    tt_queue(f, "jobs",
             TXQ_QUEUE_OPTS(.max_attempts = 1,
                            .on_exhausted = TXQ_ON_EXHAUSTED_NOTIFY));
    id = tt_send(f, f->pg, "jobs", "x");
    m = tt_take(f, f->pg, "jobs", 1);
    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c, txq_fail(f->c, f->pg, m[0], "disk full", NULL, &out));
    /* Nothing is announced before the failure commits. */
    assert_int_equal(PQconsumeInput(l), 1);
    assert_null(PQnotifies(l));
    tt_exec(f->pg, "commit");
    assert_int_equal(out, TXQ_OUTCOME_NOTIFIED);
    txq_msgs_free(m, 1);

    until = tt_now() + 3;
    while (note == NULL && tt_now() < until) {
        assert_int_equal(PQconsumeInput(l), 1);
        note = PQnotifies(l);
        if (note == NULL)
            tt_sleep_ms(10);
    }
    assert_non_null(note);
    assert_string_equal(note->relname, "txq_alert");
    p[0] = note->extra;
    res = PQexecParams(f->pg,
                       "select ($1::jsonb ->> 'queue') || ' ' || "
                       "($1::jsonb ->> 'message_id') || ' ' || "
                       "($1::jsonb ->> 'reason')",
                       1, NULL, p, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    snprintf(buf, sizeof(buf), "jobs %lld exhausted", (long long)id);
    assert_string_equal(PQgetvalue(res, 0, 0), buf);
    PQclear(res);
    PQfreemem(note);

    assert_string_equal(tt_text(f->pg, buf, sizeof(buf),
                                "select queue || ' ' || reason || ' ' || "
                                "error from alerts where message_id = %lld",
                                (long long)id),
                        "jobs exhausted disk full");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from dead_letters"), 1);
    PQfinish(l);
}

/* Make the only message of jobs a dead letter (permanent failure). */
static void
bury(tt_fixture *f)
{
    txq_msg **m = tt_take(f, f->pg, "jobs", 1);
    txq_outcome out = 0;

    assert_txq_ok(f->c, txq_fail(f->c, f->pg, m[0], "bad",
                                 TXQ_FAIL_OPTS(.permanent = 1), &out));
    assert_int_equal(out, TXQ_OUTCOME_DEAD);
    txq_msgs_free(m, 1);
}

static void
test_requeue(void **state)
{
    tt_fixture *f = *state;
    txq_msg **m;
    int64_t id;

    tt_queue(f, "jobs", NULL);
    id = tt_send(f, f->pg, "jobs", "v1");
    bury(f);
    assert_txq_rc(f->c, txq_requeue(f->c, f->pg, id + 100), TXQ_ENOTFOUND);
    assert_txq_ok(f->c, txq_requeue(f->c, f->pg, id));
    assert_int_equal(tt_scalar(f->pg, "select count(*) from dead_letters"), 0);
    assert_int_equal(tt_scalar(f->pg, "select attempts from messages"), 0);
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from audit_log where action "
                               "= 'requeue' and message_id = %lld and actor "
                               "= session_user",
                               (long long)id),
                     1);
    m = tt_take(f, f->pg, "jobs", 1);
    assert_int_equal(txq_msg_id(m[0]), id);
    assert_int_equal(txq_msg_attempt(m[0]), 1);
    assert_string_equal(txq_msg_body(m[0], NULL), "v1");
    txq_msgs_free(m, 1);

    /* An operator edits the dead letter with plain SQL, then requeues. */
    tt_exec(f->pg, "select fail(%lld, 'bad again', i_permanent => true)",
            (long long)id);
    tt_exec(f->pg,
            "update dead_letters set body = 'v2', "
            "headers = '{\"fixed\": true}' where id = %lld",
            (long long)id);
    assert_int_equal(tt_scalar(f->pg, "select requeue(%lld)", (long long)id),
                     id);
    m = tt_take(f, f->pg, "jobs", 1);
    assert_string_equal(txq_msg_body(m[0], NULL), "v2");
    assert_true(tt_json_eq(f->pg, txq_msg_headers(m[0]), "{\"fixed\": true}"));
    assert_int_equal(txq_msg_attempt(m[0]), 1);
    txq_msgs_free(m, 1);
    assert_int_equal(tt_scalar(f->pg, "select requeued from queue_stats"), 2);
    assert_int_equal(
        tt_scalar(f->pg,
                  "select count(*) from audit_log where action = 'requeue'"),
        2);
    /* The edit itself is in the audit trail, with who made it. */
    assert_int_equal(
        tt_scalar(f->pg,
                  "select count(*) from audit_log where action = 'edit' "
                  "and message_id = %lld and actor = session_user "
                  "and detail like 'body (2 -> 2 bytes), headers%%'",
                  (long long)id),
        1);
}

static void
test_requeue_all(void **state)
{
    tt_fixture *f = *state;
    int64_t count = -1;
    int i;

    tt_queue(f, "jobs", NULL);
    tt_queue(f, "other", NULL);
    for (i = 0; i < 3; i++) {
        tt_send(f, f->pg, "jobs", "x");
        bury(f);
    }
    tt_exec(f->pg, "select send('other', 'y')");
    tt_exec(f->pg, "select fail(id, 'bad', i_permanent => true) from "
                   "receive('other')");
    assert_txq_rc(f->c, txq_requeue_all(f->c, f->pg, "nosuch", &count),
                  TXQ_ENOTFOUND);
    assert_txq_rc(f->c, txq_requeue_all(f->c, f->pg, "Bad'q", &count),
                  TXQ_EINVAL);
    assert_txq_ok(f->c, txq_requeue_all(f->c, f->pg, "jobs", &count));
    assert_int_equal(count, 3);
    assert_int_equal(tt_depth(f), 3);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from dead_letters"), 1);
    assert_int_equal(tt_scalar(f->pg, "select requeue_all('jobs')"), 0);
    assert_int_equal(tt_scalar(f->pg, "select requeue_all('other')"), 1);
    assert_int_equal(tt_depth(f), 4);
}

static void
test_discard(void **state)
{
    tt_fixture *f = *state;
    char buf[128];
    int64_t id;

    tt_queue(f, "jobs", NULL);
    id = tt_send(f, f->pg, "jobs", "x");
    bury(f);
    assert_txq_rc(f->c, txq_discard(f->c, f->pg, id, NULL), TXQ_EINVAL);
    assert_txq_rc(f->c, txq_discard(f->c, f->pg, id, ""), TXQ_EINVAL);
    assert_txq_rc(f->c, txq_discard(f->c, f->pg, id, "  "), TXQ_EINVAL);
    assert_string_equal(
        tt_fails(f->pg, NULL, 0, "select discard(%lld, null)", (long long)id),
        "22023");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from dead_letters"), 1);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from audit_log where "
                                      "action = 'discard'"),
                     0);
    assert_txq_ok(f->c, txq_discard(f->c, f->pg, id, "duplicate of #12"));
    assert_int_equal(tt_scalar(f->pg, "select count(*) from dead_letters"), 0);
    assert_string_equal(tt_text(f->pg, buf, sizeof(buf),
                                "select detail from audit_log where action = "
                                "'discard' and message_id = %lld and actor = "
                                "session_user",
                                (long long)id),
                        "duplicate of #12");
    assert_int_equal(tt_scalar(f->pg, "select discarded from queue_stats"), 1);
    assert_txq_rc(f->c, txq_discard(f->c, f->pg, id, "again"), TXQ_ENOTFOUND);
}

static void
test_queue_stats(void **state)
{
    tt_fixture *f = *state;
    txq_msg **m;
    char buf[256];
    int64_t g1, g2;

    tt_queue(f, "jobs", NULL);
    tt_queue(f, "drop",
             TXQ_QUEUE_OPTS(.on_exhausted = TXQ_ON_EXHAUSTED_IGNORE));
    /* in flight */
    tt_send(f, f->pg, "jobs", "c");
    m = tt_take(f, f->pg, "jobs", 1);
    txq_msgs_free(m, 1);
    /* retrying */
    tt_send(f, f->pg, "jobs", "d");
    m = tt_take(f, f->pg, "jobs", 1);
    assert_txq_ok(f->c, txq_fail(f->c, f->pg, m[0], "later",
                                 TXQ_FAIL_OPTS(.retry_after = 3600), NULL));
    txq_msgs_free(m, 1);
    /* acked */
    tt_send(f, f->pg, "jobs", "e");
    m = tt_take(f, f->pg, "jobs", 1);
    assert_txq_ok(f->c, txq_ack(f->c, f->pg, m[0]));
    txq_msgs_free(m, 1);
    /* two dead letters: one requeued (ready again), one discarded */
    g1 = tt_send(f, f->pg, "jobs", "g1");
    bury(f);
    g2 = tt_send(f, f->pg, "jobs", "g2");
    bury(f);
    assert_txq_ok(f->c, txq_requeue(f->c, f->pg, g1));
    assert_txq_ok(f->c, txq_discard(f->c, f->pg, g2, "test"));
    /* ready and delayed */
    tt_send(f, f->pg, "jobs", "a");
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "jobs", "b", 1,
                                 TXQ_SEND_OPTS(.delay = 3600), NULL));
    /* ignored, on the other queue */
    tt_send(f, f->pg, "drop", "z");
    m = tt_take(f, f->pg, "drop", 1);
    assert_txq_ok(f->c, txq_fail(f->c, f->pg, m[0], "meh",
                                 TXQ_FAIL_OPTS(.permanent = 1), NULL));
    txq_msgs_free(m, 1);

    assert_string_equal(
        tt_text(f->pg, buf, sizeof(buf),
                "select concat_ws(' ', depth, ready, delayed, in_flight, "
                "retrying, dead, acked, retried, dead_lettered, ignored, "
                "expired, requeued, discarded) from queue_stats "
                "where queue = 'jobs'"),
        "5 2 1 1 1 0 1 1 2 0 0 1 1");
    assert_string_equal(
        tt_text(f->pg, buf, sizeof(buf),
                "select concat_ws(' ', depth, dead, ignored, acked) "
                "from queue_stats where queue = 'drop'"),
        "0 0 1 0");
    assert_int_equal(tt_scalar(f->pg, "select (oldest_ready_age >= '0')::int "
                                      "from queue_stats where queue = 'jobs'"),
                     1);
}

static void
test_drop_queue(void **state)
{
    tt_fixture *f = *state;

    tt_queue(f, "jobs", NULL);
    tt_queue(f, "dead", NULL);
    tt_queue(f, "empty", NULL);
    tt_send(f, f->pg, "jobs", "x");
    tt_exec(f->pg, "select send('dead', 'y')");
    tt_exec(f->pg, "select fail(id, 'bad', i_permanent => true) from "
                   "receive('dead')");
    assert_txq_rc(f->c, txq_queue_drop(f->c, f->pg, "jobs", 0), TXQ_ESTATE);
    assert_txq_rc(f->c, txq_queue_drop(f->c, f->pg, "dead", 0), TXQ_ESTATE);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues"), 3);
    assert_int_equal(tt_depth(f), 1);
    assert_txq_rc(f->c, txq_queue_drop(f->c, f->pg, "nosuch", 0),
                  TXQ_ENOTFOUND);
    assert_txq_ok(f->c, txq_queue_drop(f->c, f->pg, "empty", 0));
    assert_txq_ok(f->c, txq_queue_drop(f->c, f->pg, "jobs", 1));
    assert_txq_ok(f->c, txq_queue_drop(f->c, f->pg, "dead", 1));
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues"), 0);
    assert_int_equal(tt_depth(f), 0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from dead_letters"), 0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from message_errors"),
                     0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from audit_log where "
                                      "action = 'drop_queue'"),
                     3);
}

static void
test_maintain_rescues_dead_session(void **state)
{
    tt_fixture *f = *state;
    PGconn *a = tt_connect(f->schema);
    PGconn *b = tt_connect(f->schema);
    txq_msg **m, **live;
    int64_t id;

    tt_queue(f, "jobs", NULL);
    tt_queue(f, "busy", NULL);
    id = tt_send(f, f->pg, "jobs", "x");
    tt_send(f, f->pg, "busy", "y");
    m = tt_take(f, a, "jobs", 1);
    live = tt_take(f, b, "busy", 1);
    /* A live holder keeps its claim. */
    assert_int_equal(tt_scalar(f->pg, "select (maintain() ->> 'rescued')::int"),
                     0);
    tt_kill_backend(f->pg, tt_pid(a));
    PQfinish(a);
    assert_int_equal(tt_scalar(f->pg, "select (maintain() ->> 'rescued')::int"),
                     1);
    txq_msgs_free(m, 1);
    /* Ready now, long before the 30 s visibility timeout. */
    m = tt_take(f, f->pg, "jobs", 1);
    assert_int_equal(txq_msg_id(m[0]), id);
    assert_int_equal(txq_msg_attempt(m[0]), 2);
    txq_msgs_free(m, 1);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from receive('busy')"),
                     0);
    txq_msgs_free(live, 1);
    PQfinish(b);
}

static void
test_expiry(void **state)
{
    tt_fixture *f = *state;
    char buf[128];

    tt_queue(f, "jobs", TXQ_QUEUE_OPTS(.expire_after = 60));
    tt_send(f, f->pg, "jobs", "stale news");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from receive('jobs', "
                                      "1, null, now() + interval '61 s')"),
                     0);
    assert_int_equal(tt_depth(f), 0);
    assert_string_equal(tt_text(f->pg, buf, sizeof(buf),
                                "select reason || ' ' || attempts || ' ' || "
                                "convert_from(body, 'UTF8') from dead_letters"),
                        "expired 0 stale news");
    assert_int_equal(tt_scalar(f->pg, "select expired from queue_stats"), 1);

    /* maintain() expires too, without any consumer. */
    tt_send(f, f->pg, "jobs", "more stale news");
    assert_int_equal(tt_scalar(f->pg, "select (maintain(now() + interval "
                                      "'59 s') ->> 'expired')::int"),
                     0);
    assert_int_equal(tt_scalar(f->pg, "select (maintain(now() + interval "
                                      "'61 s') ->> 'expired')::int"),
                     1);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from dead_letters"), 2);
}

/* The audit log names the login (actor), the role the session acted as
 * (SET ROLE) and the application, for requeue, discard and an edit. */
static void
test_audit_names_acting_role(void **state)
{
    tt_fixture *f = *state;
    char role[64];
    PGconn *pg;
    int64_t a, b;

    tt_queue(f, "jobs", NULL);
    a = tt_send(f, f->pg, "jobs", "a");
    bury(f);
    b = tt_send(f, f->pg, "jobs", "b");
    bury(f);
    pg = tt_role_session(f, role, sizeof role, "txq_operator");
    tt_exec(pg, "set application_name = 'ops-console'");
    tt_exec(pg, "update dead_letters set body = 'fixed' where id = %lld",
            (long long)a);
    tt_exec(pg, "select requeue(%lld)", (long long)a);
    tt_exec(pg, "select discard(%lld, 'not needed')", (long long)b);
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from audit_log where "
                               "action in ('edit', 'requeue', 'discard') "
                               "and actor = session_user "
                               "and acting_role = '%s' "
                               "and application_name = 'ops-console'",
                               role),
                     3);
    tt_end_role_session(f, pg, role);
    /* Without SET ROLE, the acting role is the login. */
    tt_exec(f->pg, "select create_queue('other')");
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from audit_log where "
                               "queue = 'other' and acting_role = actor"),
                     1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_audit_names_acting_role, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_backoff_function, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_retry_follows_backoff, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_fail_via_c_api, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_permanent_failure, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_exhausted_review, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_exhausted_ignore, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_exhausted_notify, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_requeue, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_requeue_all, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_discard, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_queue_stats, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_drop_queue, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_maintain_rescues_dead_session,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_expiry, tt_setup, tt_teardown),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("failure", tests, NULL, NULL);
}
