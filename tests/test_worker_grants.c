/*
 * test_worker_grants.c - txq-worker under per-queue grants: a role that
 * holds receive on its queue (and nothing else of txq) runs and handles
 * messages; one configured for a queue it may not receive from exits 1 at
 * start naming role, queue and privilege, having claimed nothing; without
 * operate on every queue it skips maintain() with one warning, also when
 * the grant is revoked while it runs. And txq.privileges(), what the
 * worker asks: the caller's privileges on a queue or on '*'.
 *
 * Spawns $TXQ_BUILD_DIR/txq-worker against the test's schema, connected
 * as a login role of the test's own (tt's cluster trusts local logins).
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

/* The worker's role, made by setup, dropped by teardown. */
static char role[64];

/* --db for the worker: the test's DSN as role (a later keyword wins). */
static char role_dsn[512];

static const char maintain_warning[] =
    "msg=\"maintain() will not run from this worker\"";

/* A queue x and a queue y, the sql: handler h_ok, and a login role with
 * what h_ok needs but no grant of txq yet. */
static int
setup(void **state)
{
    wt_test *w = wt_test_new(state);
    tt_fixture *f = w->f;

    wt_test_h_ok(w);
    wt_test_queue(w, "x", NULL);
    wt_test_queue(w, "y", NULL);
    snprintf(role, sizeof role, "txq_t_wg_%d", (int)getpid());
    tt_exec(f->pg, "drop role if exists %s", role);
    tt_exec(f->pg, "create role %s login", role);
    tt_exec(f->pg, "grant usage on schema %s to %s", f->schema, role);
    tt_exec(f->pg, "grant insert on biz to %s", role);
    snprintf(role_dsn, sizeof role_dsn, "%s user=%s", tt_dsn(), role);
    *state = w;
    return 0;
}

static int
teardown(void **state)
{
    wt_test *w = *state;

    if (w->worker > 0) {
        kill(-w->worker, SIGKILL);
        wt_waitpid(w->worker, 5);
        w->worker = 0;
    }
    /* As the superuser again (a failed test may have left the role set);
     * the role's privileges go first: drop role refuses while it holds
     * any. */
    tt_rollback(w->f->pg);
    tt_exec(w->f->pg, "reset role");
    tt_exec(w->f->pg, "drop owned by %s", role);
    tt_exec(w->f->pg, "drop role %s", role);
    return wt_test_teardown(state);
}

/* How many times needle occurs in the worker's log. */
static int
log_count(const wt_test *w, const char *needle)
{
    char *log = wt_read(w->log);
    const char *p = log;
    int n = 0;

    while ((p = strstr(p, needle)) != NULL) {
        n++;
        p += strlen(needle);
    }
    free(log);
    return n;
}

/* Wait up to secs until needle is in the worker's log. */
static void
await_log(const wt_test *w, const char *needle, double secs)
{
    double end = tt_now() + secs;

    while (log_count(w, needle) == 0) {
        if (tt_now() > end) {
            char *log = wt_read(w->log);

            fail_msg("waited %.1fs for \"%s\" in the log:\n%s", secs, needle,
                     log);
        }
        tt_sleep_ms(20);
    }
}

/* A message of queue claimed by a session that then dies: only maintain()
 * gives it back before its hour-long claim ends. */
static void
claim_and_die(tt_fixture *f, const char *queue)
{
    PGconn *other = tt_connect(f->schema);

    assert_int_equal(tt_scalar(other,
                               "select count(*) from receive('%s', 1, "
                               "'1 hour')",
                               queue),
                     1);
    tt_kill_backend(f->pg, tt_pid(other));
    PQfinish(other);
}

/* Give the role receive on x; x's handler spec (h_ok) into h. */
static void
receive_on_x(wt_test *w, char *h, size_t hsize)
{
    tt_exec(w->f->pg, "select \"grant\"('x', '%s', array['receive'])", role);
    snprintf(h, hsize, "x=sql:%s.h_ok", w->f->schema);
}

/* After the worker stopped: it warned once that maintain() will not run
 * and logged no error, nor any refusal of maintain() beyond that. */
static void
assert_warned_once(const wt_test *w)
{
    assert_int_equal(log_count(w, maintain_warning), 1);
    assert_int_equal(log_count(w, "supervisor query failed"), 0);
    assert_int_equal(log_count(w, "level=error"), 0);
}

static void
test_privileges_answers_for_the_caller(void **state)
{
    wt_test *w = *state;
    tt_fixture *f = w->f;
    char buf[128];

    tt_exec(f->pg, "select \"grant\"('x', '%s', array['receive'])", role);
    tt_exec(f->pg, "set role %s", role);
    assert_string_equal(
        tt_text(f->pg, buf, sizeof buf, "select privileges('x')::text"),
        "{receive}");
    assert_string_equal(
        tt_text(f->pg, buf, sizeof buf, "select privileges('y')::text"), "{}");
    assert_string_equal(
        tt_text(f->pg, buf, sizeof buf, "select privileges('*')::text"), "{}");
    assert_string_equal(tt_fails(f->pg, NULL, 0, "select privileges('nope')"),
                        "TQ002");
    tt_exec(f->pg, "reset role");
    tt_exec(f->pg, "select \"grant\"('*', '%s', array['operate'])", role);
    tt_exec(f->pg, "set role %s", role);
    assert_string_equal(
        tt_text(f->pg, buf, sizeof buf, "select privileges('x')::text"),
        "{receive,operate,monitor}");
    assert_string_equal(
        tt_text(f->pg, buf, sizeof buf, "select privileges('*')::text"),
        "{operate,monitor}");
    tt_exec(f->pg, "reset role");
    /* The schema's owner (here a superuser) holds everything. */
    assert_string_equal(
        tt_text(f->pg, buf, sizeof buf, "select privileges('*')::text"),
        "{send,receive,operate,monitor,admin}");
    /* A role whose grants came before the function (its EXECUTE missing)
     * gets it on the next migrate. */
    tt_exec(f->pg, "revoke execute on function privileges(text) from %s", role);
    assert_txq_ok(f->c, txq_migrate(f->c, f->pg, NULL));
    tt_exec(f->pg, "set role %s", role);
    assert_string_equal(
        tt_text(f->pg, buf, sizeof buf, "select privileges('x')::text"),
        "{receive,operate,monitor}");
    tt_exec(f->pg, "reset role");
}

/* receive on x and nothing else: the worker handles x's messages, and
 * says once that it leaves maintain() to others. */
static void
test_receive_only_handles_its_queue(void **state)
{
    wt_test *w = *state;
    tt_fixture *f = w->f;
    char h[128];
    const char *args[] = {"--handle", h, "--db", role_dsn, NULL};

    receive_on_x(w, h, sizeof h);
    tt_send(f, f->pg, "x", "one");
    tt_send(f, f->pg, "x", "two");
    wt_test_start(w, args);
    wt_await(f->pg, 2, 20, "select count(*) from biz");
    await_log(w, maintain_warning, 10);
    /* Many maintain intervals (0.1 s in tests) later, and after more
     * messages: still the one warning, no refusal. */
    tt_sleep_ms(500);
    tt_send(f, f->pg, "x", "three");
    wt_await(f->pg, 3, 20, "select count(*) from biz");
    wt_test_stop(w);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from messages"), 0);
    assert_warned_once(w);
    assert_int_equal(log_count(w, "lacks operate on every queue ('*')"), 1);
    assert_int_equal(log_count(w, "txq grant '*' "), 1);
}

/* Configured for x and y, receive on x only: exit 1 before any consumer
 * runs, naming role, y and receive; nothing claimed, not even on x. The
 * same from --check-config. */
static void
test_no_receive_refuses_start(void **state)
{
    wt_test *w = *state;
    tt_fixture *f = w->f;
    char hx[128], hy[128], want[256];
    const char *args[] = {"--handle", hx,       "--handle", hy,
                          "--db",     role_dsn, NULL};
    const char *check[] = {"--handle", hx,       "--handle",       hy,
                           "--db",     role_dsn, "--check-config", NULL};

    receive_on_x(w, hx, sizeof hx);
    snprintf(hy, sizeof hy, "y=sql:%s.h_ok", f->schema);
    tt_send(f, f->pg, "x", "for x");
    tt_send(f, f->pg, "y", "for y");
    assert_int_equal(wt_test_run(w, args), 1);
    assert_int_equal(wt_test_run(w, check), 1);
    snprintf(want, sizeof want,
             "role %s lacks receive on queue y, which it is to consume "
             "(txq grant y %s receive)",
             role, role);
    assert_int_equal(log_count(w, want), 2);
    assert_int_equal(log_count(w, "msg=\"cannot start\""), 1);
    assert_int_equal(log_count(w, "txq-worker: database: role"), 1);
    /* x is fine: no problem named for it. */
    assert_int_equal(log_count(w, "on queue x"), 0);
    assert_int_equal(log_count(w, "consumer forked"), 0);
    assert_int_equal(
        tt_scalar(f->pg, "select count(*) from messages where attempts > 0"),
        0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from biz"), 0);
}

/* The worker's row of the role matrix: its role given one privilege on x
 * (or none), --check-config for x and for y: only receive on x passes. */
static void
test_worker_matrix(void **state)
{
    wt_test *w = *state;
    tt_fixture *f = w->f;
    const char *privs[] = {"send", "receive", "operate", "monitor", NULL};
    const char *queues[] = {"x", "y"};
    char h[128];
    const char *check[] = {"--handle",       h,   "--db", role_dsn,
                           "--check-config", NULL};

    for (int p = 0; p < 5; p++) {
        if (privs[p] != NULL)
            tt_exec(f->pg, "select \"grant\"('x', '%s', array['%s'])", role,
                    privs[p]);
        for (int q = 0; q < 2; q++) {
            int want =
                privs[p] != NULL && strcmp(privs[p], "receive") == 0 && q == 0;

            snprintf(h, sizeof h, "%s=sql:%s.h_ok", queues[q], f->schema);
            if ((wt_test_run(w, check) == 0) != want)
                fail_msg("worker with %s on x, for %s: want %s",
                         privs[p] ? privs[p] : "no grant", queues[q],
                         want ? "a pass" : "exit 1");
        }
        if (privs[p] != NULL)
            tt_exec(f->pg, "select \"revoke\"('x', '%s')", role);
    }
}

/* operate on '*' at start, revoked while running: maintain() ran (a dead
 * session's claim came back at once), then one warning and no more calls;
 * the worker goes on handling messages and drains with exit 0. */
static void
test_maintain_revoked_while_running(void **state)
{
    wt_test *w = *state;
    tt_fixture *f = w->f;
    char h[128];
    const char *args[] = {"--handle", h, "--db", role_dsn, NULL};

    receive_on_x(w, h, sizeof h);
    tt_exec(f->pg, "select \"grant\"('*', '%s', array['operate'])", role);
    tt_send(f, f->pg, "x", "claimed by the dead");
    claim_and_die(f, "x");
    wt_test_start(w, args);
    wt_await(f->pg, 1, 20, "select count(*) from biz");
    assert_int_equal(log_count(w, maintain_warning), 0);

    tt_exec(f->pg, "select \"revoke\"('*', '%s', array['operate'])", role);
    await_log(w, maintain_warning, 10);
    tt_sleep_ms(500); /* five more maintain intervals */
    tt_send(f, f->pg, "x", "after the revoke");
    wt_await(f->pg, 2, 20, "select count(*) from biz");
    wt_test_stop(w);
    assert_warned_once(w);
    assert_int_equal(log_count(w, "lacks \\\"operate\\\" on every queue"), 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_privileges_answers_for_the_caller,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_receive_only_handles_its_queue,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_receive_refuses_start, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_worker_matrix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_maintain_revoked_while_running,
                                        setup, teardown),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("worker_grants", tests, NULL, NULL);
}
