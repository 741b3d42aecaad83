/*
 * test_fence.c - SQL is fenced like C: ack, fail and set_visibility
 * without the attempt the caller holds are refused (42501, naming the role
 * and the call, nothing changed) unless the caller is an operator (or the
 * schema's owner); an operator removes pending or in-flight messages with
 * cancel() and empties a queue with purge(), both with a required reason
 * and audited. A consumer's pop of a fifo queue, which acks inside, still
 * works.
 *
 * Needs TXQ_TEST_DSN (ctest's pg_start fixture provides it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "tt.h"

/* The SQL fails with want; with a role, the message names it and what. */
static void refused(PGconn *pg,
                    const char *want,
                    const char *role,
                    const char *what,
                    const char *fmt,
                    ...) __attribute__((format(printf, 5, 6)));

static void
refused(PGconn *pg,
        const char *want,
        const char *role,
        const char *what,
        const char *fmt,
        ...)
{
    char sql[256], msg[512];
    const char *st;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    st = tt_fails(pg, msg, sizeof msg, "%s", sql);
    if (strcmp(st, want) != 0 || (role != NULL && (strstr(msg, role) == NULL ||
                                                   strstr(msg, what) == NULL)))
        fail_msg("%s: want %s naming %s and %s, got %s: %s", sql, want,
                 role ? role : "-", what ? what : "-", st, msg);
}

/* A message claimed by the owner's session (attempt 1, an hour). */
static int64_t
held_message(tt_fixture *f)
{
    txq_queue_opts o = {.size = sizeof(txq_queue_opts),
                        .visibility_timeout = 3600};

    tt_queue(f, "jobs", &o);
    tt_send(f, f->pg, "jobs", "held");
    return tt_scalar(f->pg, "select id from receive('jobs', 1)");
}

static void
assert_still_held(tt_fixture *f, int64_t id)
{
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from messages where id = %lld "
                               "and attempts = 1 and claimed_at is not null "
                               "and visible_at > now() + interval '50 min'",
                               (long long)id),
                     1);
}

static void
test_consumer_needs_attempt(void **state)
{
    tt_fixture *f = *state;
    char role[64];
    PGconn *pg;
    int64_t id = held_message(f);

    pg = tt_role_session(f, role, sizeof role, "txq_consumer");
    refused(pg, "42501", role, "ack()", "select ack(array[%lld]::bigint[])",
            (long long)id);
    refused(pg, "42501", role, "ack()",
            "select ack(array[%lld]::bigint[], array[null]::int[])",
            (long long)id);
    refused(pg, "42501", role, "fail()", "select fail(%lld, 'x')",
            (long long)id);
    refused(pg, "42501", role, "set_visibility()",
            "select set_visibility(%lld, '0 s')", (long long)id);
    assert_still_held(f, id);
    /* A wrong attempt is fenced as before: nothing acked, TQ003. */
    assert_int_equal(tt_scalar(pg,
                               "select ack(array[%lld]::bigint[], "
                               "array[2])",
                               (long long)id),
                     0);
    refused(pg, "TQ003", NULL, NULL, "select fail(%lld, 'x', 2)",
            (long long)id);
    assert_still_held(f, id);
    /* The attempt it holds: acked. */
    assert_int_equal(tt_scalar(pg,
                               "select ack(array[%lld]::bigint[], "
                               "array[1])",
                               (long long)id),
                     1);
    tt_end_role_session(f, pg, role);
}

/* An operator (here with consumer's calls too) and an admin may act on a
 * message they do not hold. */
static void
test_operator_without_attempt(void **state)
{
    tt_fixture *f = *state;
    char role[64];
    PGconn *pg;
    int64_t id = held_message(f);

    pg = tt_role_session(f, role, sizeof role, "txq_consumer, txq_operator");
    assert_true(tt_scalar(pg,
                          "select extract(epoch from set_visibility(%lld,"
                          " '2 hours') - now())::int",
                          (long long)id) > 7000);
    tt_end_role_session(f, pg, role);
    pg = tt_role_session(f, role, sizeof role, "txq_admin");
    assert_int_equal(
        tt_scalar(pg, "select ack(array[%lld]::bigint[])", (long long)id), 1);
    tt_end_role_session(f, pg, role);
    assert_int_equal(tt_depth(f), 0);
}

static void
test_cancel(void **state)
{
    tt_fixture *f = *state;
    char role[64];
    PGconn *pg;
    int64_t held = held_message(f);
    int64_t ready = tt_send(f, f->pg, "jobs", "ready");

    pg = tt_role_session(f, role, sizeof role, "txq_consumer");
    refused(pg, "42501", NULL, NULL,
            "select cancel(array[%lld]::bigint[], 'mine now')",
            (long long)ready);
    tt_end_role_session(f, pg, role);
    pg = tt_role_session(f, role, sizeof role, "txq_operator");
    refused(pg, "22023", NULL, NULL,
            "select cancel(array[%lld]::bigint[], ' ')", (long long)ready);
    refused(pg, "22023", NULL, NULL,
            "select cancel(array[%lld, null]::bigint[], 'why')",
            (long long)ready);
    assert_int_equal(tt_depth(f), 2);
    tt_exec(pg, "set application_name = 'ops-console'");
    assert_int_equal(tt_scalar(pg,
                               "select cancel(array[%lld, %lld, -1]::bigint[],"
                               " 'order withdrawn')",
                               (long long)held, (long long)ready),
                     2);
    tt_end_role_session(f, pg, role);
    assert_int_equal(tt_depth(f), 0);
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from audit_log where action = "
                               "'cancel' and queue = 'jobs' and detail = "
                               "'order withdrawn' and acting_role = '%s' and "
                               "application_name = 'ops-console' and "
                               "message_id in (%lld, %lld)",
                               role, (long long)held, (long long)ready),
                     2);
    assert_int_equal(tt_scalar(f->pg, "select discarded from queue_stats "
                                      "where queue = 'jobs'"),
                     2);
    /* The holder's ack finds nothing: fenced. */
    assert_int_equal(tt_scalar(f->pg,
                               "select ack(array[%lld]::bigint[], array[1])",
                               (long long)held),
                     0);
}

static void
test_purge(void **state)
{
    tt_fixture *f = *state;
    char role[64];
    PGconn *pg;
    txq_msg **m;
    txq_outcome out = 0;

    held_message(f);
    tt_exec(f->pg, "select send('jobs', 'later', i_delay => '1 day')");
    tt_send(f, f->pg, "jobs", "dead");
    m = tt_take(f, f->pg, "jobs", 1);
    assert_txq_ok(f->c, txq_fail(f->c, f->pg, m[0], "bad",
                                 TXQ_FAIL_OPTS(.permanent = 1), &out));
    txq_msgs_free(m, 1);
    tt_send(f, f->pg, "jobs", "ready");
    tt_queue(f, "other", NULL);
    tt_send(f, f->pg, "other", "stays");

    pg = tt_role_session(f, role, sizeof role, "txq_operator");
    refused(pg, "22023", NULL, NULL, "select purge('jobs', ' ')");
    refused(pg, "22023", NULL, NULL, "select purge('jobs', null)");
    assert_int_equal(tt_depth(f), 4);
    refused(pg, "TQ002", NULL, NULL, "select purge('nope', 'no such queue')");
    assert_int_equal(tt_scalar(pg, "select purge('jobs', 'test data')"), 3);
    tt_end_role_session(f, pg, role);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from messages m join "
                                      "queues q using (queue_id) where "
                                      "q.name = 'jobs'"),
                     0);
    assert_int_equal(tt_depth(f), 1);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from dead_letters"), 1);
    assert_int_equal(tt_scalar(f->pg,
                               "select extract(epoch from visibility_timeout)"
                               " from queues where name = 'jobs'"),
                     3600);
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from audit_log where action = "
                               "'purge' and queue = 'jobs' and detail = "
                               "'3 messages: test data' and acting_role = "
                               "'%s'",
                               role),
                     1);
}

/* pop of a fifo queue claims and acks inside: a consumer may. */
static void
test_consumer_pops_fifo(void **state)
{
    tt_fixture *f = *state;
    char role[64];
    PGconn *pg;

    tt_exec(f->pg, "select create_queue('orders', i_kind => 'fifo')");
    tt_exec(f->pg, "select send('orders', 'a', i_group => 'g')");
    tt_exec(f->pg, "select send('orders', 'b', i_group => 'h')");
    pg = tt_role_session(f, role, sizeof role, "txq_consumer");
    assert_int_equal(tt_scalar(pg, "select count(*) from pop('orders', 10)"),
                     2);
    tt_end_role_session(f, pg, role);
    assert_int_equal(tt_depth(f), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_consumer_needs_attempt, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_operator_without_attempt, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_cancel, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_purge, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_consumer_pops_fifo, tt_setup,
                                        tt_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
