/*
 * test_pause.c - pausing a queue: it takes sends and delivers nothing
 * (SQL receive, take, pop; libtxq's receive and its direct pop; the
 * worker) until resumed; audited; operate needed; the CLI's pause and
 * resume; a resume wakes a worker that waits on the queue.
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

/* Nothing delivered through any path; the messages stay. */
static void
nothing_delivered(tt_fixture *f, long long depth)
{
    txq_msg **msgs = NULL;
    size_t n = 0;

    assert_int_equal(tt_scalar(f->pg, "select count(*) from receive('jobs', "
                                      "10)"),
                     0);
    tt_exec(f->pg, "begin");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from take('jobs', 10)"),
                     0);
    tt_exec(f->pg, "commit");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from pop('jobs', 10)"),
                     0);
    assert_txq_rc(f->c, txq_receive(f->c, f->pg, "jobs", 10, NULL, &msgs, &n),
                  TXQ_EMPTY);
    /* txq_pop: the direct statement (the schema's owner may delete). */
    tt_exec(f->pg, "begin");
    assert_txq_rc(f->c, txq_pop(f->c, f->pg, "jobs", 10, &msgs, &n), TXQ_EMPTY);
    tt_exec(f->pg, "commit");
    assert_int_equal(tt_depth(f), depth);
}

static void
test_pause_and_resume(void **state)
{
    tt_fixture *f = *state;
    txq_msg **msgs = NULL;
    size_t n = 0;

    tt_queue(f, "jobs", NULL);
    tt_send(f, f->pg, "jobs", "a");
    assert_int_equal(tt_scalar(f->pg, "select pause('jobs', 'bug 7 in the "
                                      "consumer')::int"),
                     1);
    assert_int_equal(tt_scalar(f->pg, "select pause('jobs')::int"), 0);
    assert_int_equal(tt_scalar(f->pg, "select paused::int from queue_stats "
                                      "where queue = 'jobs'"),
                     1);
    nothing_delivered(f, 1);
    /* Sends go on; peek still shows them. */
    tt_send(f, f->pg, "jobs", "b");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from peek('jobs')"), 2);
    nothing_delivered(f, 2);

    assert_int_equal(tt_scalar(f->pg, "select resume('jobs')::int"), 1);
    assert_int_equal(tt_scalar(f->pg, "select resume('jobs')::int"), 0);
    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c, txq_pop(f->c, f->pg, "jobs", 10, &msgs, &n));
    tt_exec(f->pg, "commit");
    assert_int_equal(n, 2);
    txq_msgs_free(msgs, n);

    /* Audited: who, which queue, the reason; a no-op is not. */
    assert_int_equal(tt_scalar(f->pg, "select count(*) from audit_log where "
                                      "queue = 'jobs' and action = 'pause' "
                                      "and detail = 'bug 7 in the consumer' "
                                      "and actor = current_user"),
                     1);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from audit_log where "
                                      "queue = 'jobs' and action in "
                                      "('pause', 'resume')"),
                     2);

    /* Bad input changes nothing. */
    assert_string_equal(tt_fails(f->pg, NULL, 0, "select pause('nope')"),
                        "TQ002");
    assert_string_equal(tt_fails(f->pg, NULL, 0, "select resume(null)"),
                        "22023");
}

/* pause and resume need operate on the queue: a consumer may not. */
static void
test_pause_needs_operate(void **state)
{
    tt_fixture *f = *state;
    char role[64], msg[256];
    PGconn *pg;

    tt_queue(f, "jobs", NULL);
    pg = tt_role_session(f, role, sizeof role, "txq_consumer");
    /* A grant of its own on jobs: EXECUTE on every API function, so the
     * refusal is the grant check's, naming the privilege. */
    tt_exec(f->pg, "select %s.grant('jobs', '%s', array['receive'])", f->schema,
            role);
    assert_string_equal(
        tt_fails(pg, msg, sizeof msg, "select pause('jobs', 'x')"), "42501");
    assert_non_null(strstr(msg, "operate"));
    assert_int_equal(tt_scalar(f->pg, "select paused::int from queues"), 0);
    tt_exec(f->pg, "select pause('jobs')");
    assert_string_equal(tt_fails(pg, NULL, 0, "select resume('jobs')"),
                        "42501");
    assert_int_equal(tt_scalar(f->pg, "select paused::int from queues"), 1);
    tt_exec(f->pg, "select %s.revoke('jobs', '%s', array['receive'])",
            f->schema, role);
    tt_end_role_session(f, pg, role);
}

static int
worker_setup(void **state)
{
    *state = wt_test_new(state);
    return 0;
}

/* The worker gets nothing from a paused queue; resume() wakes it (its
 * poll is 30 s: only the wake-up can be in time). */
static void
test_worker_waits_for_resume(void **state)
{
    wt_test *w = *state;
    tt_fixture *f = w->f;
    char h[128];
    const char *args[] = {"--handle", h, "--poll-interval", "30", NULL};
    double t0;
    int i;

    wt_test_h_ok(w);
    wt_test_queue(w, "jobs", NULL);
    tt_exec(f->pg, "select pause('jobs')");
    for (i = 0; i < 5; i++)
        tt_send(f, f->pg, "jobs", "x");
    snprintf(h, sizeof h, "jobs=sql:%s.h_ok", f->schema);
    wt_test_start(w, args);
    tt_sleep_ms(1500);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from biz"), 0);
    t0 = tt_now();
    tt_exec(f->pg, "select resume('jobs')");
    wt_await(f->pg, 5, 10, "select count(*) from biz");
    assert_true(tt_now() - t0 < 5);
    wt_test_stop(w);
}

/* txq pause|resume QUEUE [--reason R]. */
static void
test_cli_pause_resume(void **state)
{
    tt_fixture *f = *state;
    tt_run r;

    tt_queue(f, "jobs", NULL);
    tt_txq(f, &r, NULL, 0,
           (const char *[]){"--schema", f->schema, "pause", "jobs", "--reason",
                            "deploy", NULL});
    tt_run_ok(&r);
    assert_string_equal(r.out, "jobs paused\n");
    tt_run_free(&r);
    tt_txq(f, &r, NULL, 0,
           (const char *[]){"--schema", f->schema, "pause", "jobs", NULL});
    tt_run_ok(&r);
    assert_string_equal(r.out, "jobs was paused already\n");
    tt_run_free(&r);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from audit_log where "
                                      "action = 'pause' and detail = "
                                      "'deploy'"),
                     1);
    TT_RUN_FAILS(f, 2, "expected one QUEUE", "--schema", f->schema, "pause");
    TT_RUN_FAILS(f, 2, "invalid queue name", "--schema", f->schema, "pause",
                 "Bad Name");
    TT_RUN_FAILS(f, 1, "unknown queue", "--schema", f->schema, "resume",
                 "nope");
    tt_txq(f, &r, NULL, 0,
           (const char *[]){"--schema", f->schema, "resume", "jobs", NULL});
    tt_run_ok(&r);
    assert_string_equal(r.out, "jobs resumed\n");
    tt_run_free(&r);
    assert_int_equal(tt_scalar(f->pg, "select paused::int from queues"), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pause_and_resume, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_pause_needs_operate, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_worker_waits_for_resume,
                                        worker_setup, wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_cli_pause_resume, tt_setup,
                                        tt_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
