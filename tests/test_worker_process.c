/*
 * test_worker_process.c - txq-worker as a process: kill -9 in the middle
 * of a handler (sql: and exec:) loses nothing and applies nothing twice;
 * a handler that crashes its consumer every time ends dead-lettered after
 * max attempts; SIGTERM drains (in-flight work finishes, exit 0) and a
 * second signal exits at once; SIGHUP reloads, keeping the old config when
 * the new one is bad; a bad config file names its line and exits 2;
 * --check-config prints the effective settings.
 *
 * Spawns $TXQ_BUILD_DIR/txq-worker against the test's schema.
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

static int
setup(void **state)
{
    wt_test *w = wt_test_new(state);
    tt_fixture *f = w->f;

    wt_test_h_ok(w);
    tt_exec(f->pg,
            "create function h_perm(m message) returns void language plpgsql "
            "as $$ begin raise exception 'nope' using errcode = 'TQ001'; "
            "end $$");
    /* Writes, then on the first attempt hangs (until killed). */
    tt_exec(f->pg,
            "create function h_slow(m message) returns void language plpgsql "
            "as $$ begin insert into %s.biz values (m.id, 'slow'); "
            "if m.attempts = 1 then perform pg_sleep(30); end if; end $$",
            f->schema);
    wt_test_queue(w, "jobs", "i_archive_for => '1 hour'");
    *state = w;
    return 0;
}

static void
test_kill9_mid_sql_handler(void **state)
{
    wt_test *w = *state;
    char h[128], busy[512];
    const char *args[] = {"--handle", h, NULL};

    snprintf(h, sizeof h, "jobs=sql:%s.h_slow", w->f->schema);
    snprintf(busy, sizeof busy,
             "select count(*) from pg_stat_activity where state = 'active' "
             "and query like '%%h_slow%%' and pid <> pg_backend_pid()");
    tt_send(w->f, w->f->pg, "jobs", "x");
    wt_test_start(w, args);
    wt_await(w->f->pg, 1, 20, busy);
    wt_kill9(w->worker);
    w->worker = 0;
    /* The orphaned backend notices the dead client and rolls back. */
    wt_await(w->f->pg, 0, 20, busy);
    assert_int_equal(tt_scalar(w->f->pg, "select count(*) from biz"), 0);

    wt_test_start(w, args);
    wt_await(w->f->pg, 0, 20, "select count(*) from messages");
    wt_test_stop(w);
    /* Exactly once, on the second attempt. */
    assert_int_equal(tt_scalar(w->f->pg, "select count(*) from biz"), 1);
    assert_int_equal(tt_scalar(w->f->pg, "select attempts from archive"), 2);
}

/* Handle jobs with the shell script text (h.sh in the test's directory;
 * its handler spec into h), send one message and start the worker; returns
 * once the file started exists. */
static void
start_exec(
    wt_test *w, const char *text, const char *started, char *h, size_t hsize)
{
    char script[128];
    const char *args[] = {"--handle", h, NULL};

    wt_path(&w->dir, "h.sh", script, sizeof script);
    wt_write(script, text);
    snprintf(h, hsize, "jobs=exec:/bin/sh %s", script);
    tt_send(w->f, w->f->pg, "jobs", "x");
    wt_test_start(w, args);
    wt_await_file(started, 20);
}

static void
test_kill9_mid_exec_handler(void **state)
{
    wt_test *w = *state;
    char h[256], started[128], done[128], text[512];
    const char *args[] = {"--handle", h, NULL};

    wt_path(&w->dir, "started", started, sizeof started);
    wt_path(&w->dir, "done", done, sizeof done);
    snprintf(text, sizeof text,
             "echo $TXQ_ATTEMPT >> '%s'\n"
             "if [ \"$TXQ_ATTEMPT\" = 1 ]; then exec sleep 30; fi\n"
             "echo $TXQ_MESSAGE_ID >> '%s'\n",
             started, done);
    start_exec(w, text, started, h, sizeof h);
    wt_kill9(w->worker);
    w->worker = 0;

    wt_test_start(w, args);
    wt_await(w->f->pg, 0, 20, "select count(*) from messages");
    wt_test_stop(w);
    assert_int_equal(wt_lines(done), 1);
    assert_int_equal(wt_lines(started), 2);
    assert_int_equal(tt_scalar(w->f->pg, "select attempts from archive"), 2);
}

static void
crash_loop(wt_test *w, const char *handler)
{
    char h[512];
    const char *args[] = {"--handle", h, NULL};
    int64_t id;

    snprintf(h, sizeof h, "jobs=%s", handler);
    id = tt_send(w->f, w->f->pg, "jobs", "poison");
    wt_test_start(w, args);
    wt_await(w->f->pg, 1, 30, "select count(*) from dead_letter_messages");
    wt_test_stop(w);
    assert_int_equal(tt_scalar(w->f->pg,
                               "select attempts from dead_letter_messages "
                               "where id = %lld and reason = 'exhausted'",
                               (long long)id),
                     3);
    assert_int_equal(tt_scalar(w->f->pg,
                               "select count(*) from message_errors where "
                               "message_id = %lld and error like "
                               "'claim lapsed%%'",
                               (long long)id),
                     3);
}

static void
test_so_handler_aborts_every_time(void **state)
{
    wt_test *w = *state;
    char h[512];

    snprintf(h, sizeof h, "so:%s/tests/txq_test_handlers.so:th_abort",
             getenv("TXQ_BUILD_DIR"));
    crash_loop(w, h);
}

static void
test_exec_handler_kills_consumer(void **state)
{
    crash_loop(*state, "exec:/bin/sh -c 'kill -9 $PPID'");
}

/* Every 10th message crashes its consumer (max_attempts 1, batches of
 * 16): only those end in the dead letters. The rest of each crashed
 * batch was given back unstarted, without an attempt counted, and each
 * good message ran once; the consumer came back at once each time (it
 * had made progress), so the queue drains in seconds, not in restart
 * delays growing to 30 s. */
static void
test_crash_costs_only_its_message(void **state)
{
    wt_test *w = *state;
    char h[512];
    const char *args[] = {"--handle", h, "--prefetch", "16", NULL};
    double t0;
    int i;

    tt_exec(w->f->pg, "select alter_queue('jobs', i_max_attempts => 1)");
    for (i = 1; i <= 60; i++)
        tt_send(w->f, w->f->pg, "jobs", i % 10 == 0 ? "poison" : "good");
    snprintf(h, sizeof h, "jobs=so:%s/tests/txq_test_handlers.so:th_poison",
             getenv("TXQ_BUILD_DIR"));
    t0 = tt_now();
    wt_test_start(w, args);
    wt_await(w->f->pg, 0, 60, "select count(*) from messages");
    if (tt_now() - t0 > 30)
        fail_msg("60 messages, 6 crashes, took %.1f s", tt_now() - t0);
    wt_test_stop(w);
    assert_int_equal(tt_scalar(w->f->pg,
                               "select count(*) from dead_letter_messages "
                               "where convert_from(body, 'UTF8') = 'poison'"),
                     6);
    assert_int_equal(
        tt_scalar(w->f->pg, "select count(*) from dead_letter_messages"), 6);
    assert_int_equal(tt_scalar(w->f->pg, "select count(distinct msg) from biz"),
                     54);
    assert_int_equal(tt_scalar(w->f->pg, "select count(*) from biz"), 54);
}

static void
test_sigterm_drains(void **state)
{
    wt_test *w = *state;
    char h[256], started[128], done[128], text[512];

    wt_path(&w->dir, "started", started, sizeof started);
    wt_path(&w->dir, "done", done, sizeof done);
    snprintf(text, sizeof text, "touch '%s'\nsleep 1\necho ok >> '%s'\n",
             started, done);
    start_exec(w, text, started, h, sizeof h);
    wt_test_stop(w);
    /* In flight when the signal came: finished and acked. */
    assert_int_equal(wt_lines(done), 1);
    assert_int_equal(tt_scalar(w->f->pg, "select count(*) from messages"), 0);
    assert_int_equal(tt_scalar(w->f->pg, "select count(*) from archive"), 1);
}

static void
test_second_signal_exits_at_once(void **state)
{
    wt_test *w = *state;
    char h[256], started[128], text[256];
    double t0;
    int st;

    wt_path(&w->dir, "started", started, sizeof started);
    snprintf(text, sizeof text, "touch '%s'\nexec sleep 30\n", started);
    start_exec(w, text, started, h, sizeof h);
    t0 = tt_now();
    kill(w->worker, SIGTERM);
    tt_sleep_ms(100);
    kill(w->worker, SIGINT);
    st = wt_waitpid(w->worker, 10);
    w->worker = 0;
    assert_true(st != -1 && WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 1);
    assert_true(tt_now() - t0 < 5);
    /* Not acked: it will be delivered again. */
    assert_int_equal(tt_scalar(w->f->pg, "select count(*) from messages"), 1);
}

static void
test_sighup_reload(void **state)
{
    wt_test *w = *state;
    char cfg[128], text[256];
    const char *args[] = {"--config", cfg, NULL};
    char *log;

    wt_path(&w->dir, "worker.ini", cfg, sizeof cfg);
    snprintf(text, sizeof text, "[queue.jobs]\nhandler = sql:%s.h_ok\n",
             w->f->schema);
    wt_write(cfg, text);
    wt_test_start(w, args);
    tt_send(w->f, w->f->pg, "jobs", "a");
    wt_await(w->f->pg, 1, 20, "select count(*) from biz");

    /* A bad file: logged, the old settings stay and work goes on. */
    wt_write(cfg, "[queue.jobs]\nhandler = sql:x y\n");
    kill(w->worker, SIGHUP);
    tt_sleep_ms(300);
    tt_send(w->f, w->f->pg, "jobs", "b");
    wt_await(w->f->pg, 2, 20, "select count(*) from biz");
    log = wt_read(w->log);
    assert_non_null(strstr(log, "reload failed"));
    assert_non_null(strstr(log, "worker.ini:2:"));
    free(log);

    /* A good one: new consumers with the new handler. */
    snprintf(text, sizeof text, "[queue.jobs]\nhandler = sql:%s.h_perm\n",
             w->f->schema);
    wt_write(cfg, text);
    kill(w->worker, SIGHUP);
    tt_sleep_ms(300);
    tt_send(w->f, w->f->pg, "jobs", "c");
    wt_await(w->f->pg, 1, 20,
             "select count(*) from dead_letter_messages where reason = "
             "'permanent'");
    wt_test_stop(w);
    log = wt_read(w->log);
    assert_non_null(strstr(log, "configuration reloaded"));
    free(log);
}

static void
test_bad_config_names_line(void **state)
{
    wt_test *w = *state;
    char cfg[128];
    const char *args[] = {"--config", cfg, NULL};
    char *log;

    wt_path(&w->dir, "bad.ini", cfg, sizeof cfg);
    wt_write(cfg, "[worker]\nconcurrency = 2\npoll_interval = soon\n"
                  "[queue.jobs]\nhandler = exec:/bin/true\n");
    assert_int_equal(wt_test_run(w, args), 2);
    log = wt_read(w->log);
    assert_non_null(strstr(log, "bad.ini:3: [worker] poll_interval:"));
    free(log);

    /* Not a text file: refused at its line, not read as empty. */
    {
        FILE *fp = fopen(cfg, "w");

        assert_non_null(fp);
        fputs("[worker]\nconcurrency = 2\n", fp);
        fwrite("\0\0garbage\n", 1, 10, fp);
        fputs("[queue.jobs]\nhandler = exec:/bin/true\n", fp);
        fclose(fp);
    }
    assert_int_equal(wt_test_run(w, args), 2);
    log = wt_read(w->log);
    assert_non_null(strstr(log, "bad.ini:3: control character 0x00"));
    free(log);
}

/* What no retry can fix ends the start with exit 1 and says what: an
 * unknown queue, a program that is not there, no connection at all within
 * startup_timeout (a wrong host, password or database); --check-config
 * finds the same in the database. */
static void
test_start_refuses_what_cannot_heal(void **state)
{
    wt_test *w = *state;
    const char *queue[] = {"--handle", "nope=exec:/bin/true", NULL};
    const char *prog[] = {"--handle", "jobs=exec:/nonexistent/prog", NULL};
    const char *db[] = {"--handle",
                        "jobs=exec:/bin/true",
                        "--db",
                        "host=/nonexistent port=1 dbname=x",
                        "--startup-timeout",
                        "0.5",
                        NULL};
    const char *check[] = {"--handle", "nope=exec:/bin/true", "--check-config",
                           NULL};
    double t0;
    char *log;

    assert_int_equal(wt_test_run(w, queue), 1);
    assert_int_equal(wt_test_run(w, prog), 1);
    t0 = tt_now();
    assert_int_equal(wt_test_run(w, db), 1);
    assert_true(tt_now() - t0 < 10);
    assert_int_equal(wt_test_run(w, check), 1);
    log = wt_read(w->log);
    assert_non_null(strstr(log, "queue nope does not exist in schema"));
    assert_non_null(strstr(log, "exec handler: /nonexistent/prog"));
    assert_non_null(strstr(log, "no connection after 0.5s"));
    assert_non_null(strstr(log, "database: queue nope does not exist"));
    free(log);
    assert_int_equal(tt_scalar(w->f->pg, "select count(*) from messages"), 0);
}

static void
test_check_config(void **state)
{
    wt_test *w = *state;
    char cfg[128];
    const char *args[] = {"--config",       cfg, "--concurrency", "4",
                          "--check-config", NULL};
    char *log;

    wt_path(&w->dir, "ok.ini", cfg, sizeof cfg);
    wt_write(cfg, "[worker]\nconcurrency = 2\ndrain_timeout = 7\n"
                  "[queue.jobs]\nhandler = exec:/bin/true\ntimeout = 9\n");
    assert_int_equal(wt_test_run(w, args), 0);
    log = wt_read(w->log);
    /* file < flags; the test's --poll-interval 0.05 flag too */
    assert_non_null(strstr(log, "concurrency = 4\n"));
    assert_non_null(strstr(log, "drain_timeout = 7\n"));
    assert_non_null(strstr(log, "poll_interval = 0.05\n"));
    assert_non_null(strstr(log, "[queue.jobs]\nconcurrency = 4\n"
                                "handler = exec:/bin/true\n"));
    assert_non_null(strstr(log, "timeout = 9\n"));
    assert_non_null(strstr(log, "; checked against the database"));
    free(log);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kill9_mid_sql_handler, setup,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_kill9_mid_exec_handler, setup,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_so_handler_aborts_every_time,
                                        setup, wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_exec_handler_kills_consumer, setup,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_crash_costs_only_its_message,
                                        setup, wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_drains, setup,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_second_signal_exits_at_once, setup,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_sighup_reload, setup,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_bad_config_names_line, setup,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_start_refuses_what_cannot_heal,
                                        setup, wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_check_config, setup,
                                        wt_test_teardown),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("worker_process", tests, NULL, NULL);
}
