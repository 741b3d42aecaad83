/*
 * test_clock.c - the queue's clock is the server's: a time passed to the
 * SQL API (i_now) is taken only from the owner of the txq schema. A
 * producer, consumer or operator passing one, through SET ROLE or logged
 * in as itself, gets 42501 naming the role and i_now, and the call changes
 * nothing: no early delivery of a delayed message, no stolen claim, no
 * send past the delay limit, no lapsed claims from maintain(). The same
 * roles' calls without a time work; the owner's time is honoured.
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

/* The call fails with 42501 and a message naming role and i_now. */
static void
refused(PGconn *pg, const char *role, const char *sql)
{
    char msg[512];
    const char *st = tt_fails(pg, msg, sizeof msg, "%s", sql);

    if (strcmp(st, "42501") != 0 || strstr(msg, role) == NULL ||
        strstr(msg, "i_now") == NULL)
        fail_msg("%s: want 42501 naming %s and i_now, got %s: %s", sql, role,
                 st, msg);
}

/* A session logged in as role itself (no SET ROLE), on f's schema. */
static PGconn *
login_as(tt_fixture *f, const char *role)
{
    char dsn[512];
    PGconn *pg;

    snprintf(dsn, sizeof dsn, "%s user=%s", tt_dsn(), role);
    pg = PQconnectdb(dsn);
    if (PQstatus(pg) != CONNECTION_OK)
        fail_msg("login as %s: %s", role, PQerrorMessage(pg));
    tt_exec(pg, "set search_path = %s", f->schema);
    tt_exec(pg, "set client_min_messages = warning");
    return pg;
}

/* What a consumer might try with a time of its own, each refused: the
 * delayed message stays delayed and the owner's claim stays live. */
static void
consumer_calls(PGconn *pg, const char *role, int64_t held, int held_attempt)
{
    char sql[256];

    refused(pg, role,
            "select * from receive('later', 1, "
            "i_now => now() + interval '2 days')");
    refused(pg, role,
            "select * from receive('jobs', 1, "
            "i_now => now() + interval '2 hours')");
    refused(pg, role,
            "select * from pop('later', 1, "
            "i_now => now() + interval '2 days')");
    tt_exec(pg, "begin");
    refused(pg, role,
            "select * from take('later', 1, "
            "i_now => now() + interval '2 days')");
    tt_exec(pg, "rollback");
    snprintf(sql, sizeof sql,
             "select ack(array[%lld]::bigint[], array[%d], "
             "i_now => now())",
             (long long)held, held_attempt);
    refused(pg, role, sql);
    snprintf(sql, sizeof sql,
             "select fail(%lld, 'x', %d, i_now => now() + interval '1 h')",
             (long long)held, held_attempt);
    refused(pg, role, sql);
    snprintf(sql, sizeof sql,
             "select set_visibility(%lld, '0 s', %d, "
             "i_now => now() + interval '2 hours')",
             (long long)held, held_attempt);
    refused(pg, role, sql);
    /* Without a time, the same role works: nothing ready but the queue
     * answers. */
    assert_int_equal(tt_scalar(pg, "select count(*) from receive('jobs', 1)"),
                     0);
}

/* The owner's message and claim, untouched by what was refused. */
static void
assert_untouched(tt_fixture *f, int64_t held, int64_t delayed)
{
    assert_int_equal(tt_scalar(f->pg,
                               "select attempts from messages where id = %lld",
                               (long long)held),
                     1);
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from messages where id = %lld "
                               "and visible_at > now() + interval '50 min'",
                               (long long)held),
                     1);
    assert_int_equal(tt_scalar(f->pg,
                               "select attempts from messages where id = %lld",
                               (long long)delayed),
                     0);
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from messages where id = %lld "
                               "and visible_at > now() + interval '23 hours'",
                               (long long)delayed),
                     1);
}

/* A delayed message in "later" and a live claim in "jobs", made by the
 * owner (this fixture's superuser session). */
static void
setup_queues(tt_fixture *f, int64_t *held, int64_t *delayed)
{
    txq_queue_opts later = {.size = sizeof(txq_queue_opts), .delay = 86400};
    txq_queue_opts jobs = {.size = sizeof(txq_queue_opts),
                           .visibility_timeout = 3600};

    tt_queue(f, "jobs", &jobs);
    tt_queue(f, "later", &later);
    *delayed = tt_send(f, f->pg, "later", "tomorrow");
    tt_send(f, f->pg, "jobs", "held");
    *held = tt_scalar(f->pg, "select id from receive('jobs', 1)");
}

static void
test_consumer_cannot_move_clock(void **state)
{
    tt_fixture *f = *state;
    char role[64];
    PGconn *pg;
    int64_t held, delayed;

    setup_queues(f, &held, &delayed);
    pg = tt_role_session(f, role, sizeof role, "txq_consumer");
    consumer_calls(pg, role, held, 1);
    tt_end_role_session(f, pg, role);
    assert_untouched(f, held, delayed);

    /* Logged in as itself, not through SET ROLE: the same. */
    tt_role(f, role, sizeof role, "login", "txq_consumer");
    pg = login_as(f, role);
    consumer_calls(pg, role, held, 1);
    PQfinish(pg);
    tt_exec(f->pg, "drop role %s", role);
    assert_untouched(f, held, delayed);

    /* The owner's claim is still its own: its ack with the attempt. */
    assert_int_equal(tt_scalar(f->pg,
                               "select ack(array[%lld]::bigint[], array[1])",
                               (long long)held),
                     1);
}

static void
test_producer_cannot_move_clock(void **state)
{
    tt_fixture *f = *state;
    char role[64];
    PGconn *pg;
    int64_t held, delayed;
    long long depth;

    setup_queues(f, &held, &delayed);
    tt_exec(f->pg, "select create_topic('news')");
    tt_exec(f->pg, "select subscribe('news', 'jobs')");
    depth = tt_depth(f);
    pg = tt_role_session(f, role, sizeof role, "txq_producer");
    /* Past the 365-day delay limit by a time of its own. */
    refused(pg, role,
            "select send('jobs', 'x', i_delay => '300 days', "
            "i_now => '2999-01-01')");
    refused(pg, role,
            "select send_batch('jobs', array['x']::bytea[], "
            "i_now => '2999-01-01')");
    tt_end_role_session(f, pg, role);
    pg = tt_role_session(f, role, sizeof role, "txq_admin");
    refused(pg, role, "select publish('news', 'x', i_now => '2999-01-01')");
    refused(pg, role, "select reply('jobs', 'c1', 'x', i_now => '2999-01-01')");
    /* Without a time: sent. */
    assert_true(tt_scalar(pg, "select send('jobs', 'y')") > 0);
    tt_end_role_session(f, pg, role);
    assert_int_equal(tt_depth(f), depth + 1);
    assert_int_equal(
        tt_scalar(f->pg,
                  "select count(*) from messages where visible_at > now() + "
                  "interval '2 days'"),
        0);
}

static void
test_operator_cannot_lapse_claims(void **state)
{
    tt_fixture *f = *state;
    char role[64];
    PGconn *pg;
    int64_t held, delayed;

    setup_queues(f, &held, &delayed);
    pg = tt_role_session(f, role, sizeof role, "txq_operator");
    refused(pg, role, "select maintain(now() + interval '1 day')");
    refused(pg, role, "select maintain(i_now => now() + interval '1 day')");
    /* Without a time, maintain runs and leaves the live claim alone. */
    tt_exec(pg, "select maintain()");
    tt_end_role_session(f, pg, role);
    assert_untouched(f, held, delayed);
}

/* The owner may pass a time (tests, replays): honoured. */
static void
test_owner_moves_clock(void **state)
{
    tt_fixture *f = *state;
    int64_t held, delayed;

    setup_queues(f, &held, &delayed);
    assert_int_equal(tt_scalar(f->pg, "select id from receive('later', 1, "
                                      "i_now => now() + interval '2 days')"),
                     delayed);
    /* And a claim lapsed by then is the owner's to take again. */
    assert_int_equal(tt_scalar(f->pg, "select id from receive('jobs', 1, "
                                      "i_now => now() + interval '2 hours')"),
                     held);
    assert_int_equal(tt_scalar(f->pg,
                               "select attempts from messages where id = %lld",
                               (long long)held),
                     2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_consumer_cannot_move_clock,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_producer_cannot_move_clock,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_operator_cannot_lapse_claims,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_owner_moves_clock, tt_setup,
                                        tt_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
