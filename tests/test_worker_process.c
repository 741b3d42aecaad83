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

typedef struct wtest {
    tt_fixture *f;
    wt_dir dir;
    char log[128];
    pid_t worker;
} wtest;

static int
setup(void **state)
{
    wtest *w = calloc(1, sizeof *w);
    tt_fixture *f;

    assert_non_null(w);
    tt_setup(state);
    f = *state;
    w->f = f;
    wt_mkdir(&w->dir);
    wt_path(&w->dir, "worker.log", w->log, sizeof w->log);
    tt_exec(f->pg, "create table biz (msg bigint, body text)");
    tt_exec(f->pg,
            "create function h_ok(m message) returns void language plpgsql "
            "as $$ begin insert into %s.biz values (m.id, "
            "convert_from(m.body, 'UTF8')); end $$",
            f->schema);
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
    tt_exec(f->pg, "select create_queue('jobs', i_backoff_base => '0.01 s', "
                   "i_backoff_cap => '0.05 s', i_max_attempts => 3, "
                   "i_archive_for => '1 hour')");
    *state = w;
    return 0;
}

static int
teardown(void **state)
{
    wtest *w = *state;

    if (w->worker > 0) {
        kill(-w->worker, SIGKILL);
        wt_waitpid(w->worker, 5);
    }
    if (getenv("WT_SHOW_LOG") != NULL) {
        char *s = wt_read(w->log);

        fprintf(stderr, "%s", s);
        free(s);
    }
    wt_rmdir(&w->dir);
    *state = w->f;
    tt_teardown(state);
    free(w);
    return 0;
}

static void
start(wtest *w, const char *const *args)
{
    w->worker = wt_start(w->f->schema, w->log, args);
}

static void
test_kill9_mid_sql_handler(void **state)
{
    wtest *w = *state;
    char h[128], busy[512];
    const char *args[] = {"--handle", h, NULL};

    snprintf(h, sizeof h, "jobs=sql:%s.h_slow", w->f->schema);
    snprintf(busy, sizeof busy,
             "select count(*) from pg_stat_activity where state = 'active' "
             "and query like '%%\"%s\".run_sql_handler%%' and pid <> "
             "pg_backend_pid()",
             w->f->schema);
    tt_send(w->f, w->f->pg, "jobs", "x");
    start(w, args);
    wt_await(w->f->pg, 1, 20, busy);
    wt_kill9(w->worker);
    w->worker = 0;
    /* The orphaned backend notices the dead client and rolls back. */
    wt_await(w->f->pg, 0, 20, busy);
    assert_int_equal(tt_scalar(w->f->pg, "select count(*) from biz"), 0);

    start(w, args);
    wt_await(w->f->pg, 0, 20, "select count(*) from messages");
    assert_int_equal(wt_stop(w->worker), 0);
    w->worker = 0;
    /* Exactly once, on the second attempt. */
    assert_int_equal(tt_scalar(w->f->pg, "select count(*) from biz"), 1);
    assert_int_equal(tt_scalar(w->f->pg, "select attempts from archive"), 2);
}

static void
test_kill9_mid_exec_handler(void **state)
{
    wtest *w = *state;
    char h[256], script[128], started[128], done[128], text[512];
    const char *args[] = {"--handle", h, NULL};

    wt_path(&w->dir, "h.sh", script, sizeof script);
    wt_path(&w->dir, "started", started, sizeof started);
    wt_path(&w->dir, "done", done, sizeof done);
    snprintf(text, sizeof text,
             "echo $TXQ_ATTEMPT >> '%s'\n"
             "if [ \"$TXQ_ATTEMPT\" = 1 ]; then exec sleep 30; fi\n"
             "echo $TXQ_MESSAGE_ID >> '%s'\n",
             started, done);
    wt_write(script, text);
    snprintf(h, sizeof h, "jobs=exec:/bin/sh %s", script);
    tt_send(w->f, w->f->pg, "jobs", "x");
    start(w, args);
    wt_await_file(started, 20);
    wt_kill9(w->worker);
    w->worker = 0;

    start(w, args);
    wt_await(w->f->pg, 0, 20, "select count(*) from messages");
    assert_int_equal(wt_stop(w->worker), 0);
    w->worker = 0;
    assert_int_equal(wt_lines(done), 1);
    assert_int_equal(wt_lines(started), 2);
    assert_int_equal(tt_scalar(w->f->pg, "select attempts from archive"), 2);
}

static void
crash_loop(wtest *w, const char *handler)
{
    char h[512];
    const char *args[] = {"--handle", h, NULL};
    int64_t id;

    snprintf(h, sizeof h, "jobs=%s", handler);
    id = tt_send(w->f, w->f->pg, "jobs", "poison");
    start(w, args);
    wt_await(w->f->pg, 1, 30, "select count(*) from dead_letter_messages");
    assert_int_equal(wt_stop(w->worker), 0);
    w->worker = 0;
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
    wtest *w = *state;
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

static void
test_sigterm_drains(void **state)
{
    wtest *w = *state;
    char h[256], script[128], started[128], done[128], text[512];
    const char *args[] = {"--handle", h, NULL};

    wt_path(&w->dir, "h.sh", script, sizeof script);
    wt_path(&w->dir, "started", started, sizeof started);
    wt_path(&w->dir, "done", done, sizeof done);
    snprintf(text, sizeof text, "touch '%s'\nsleep 1\necho ok >> '%s'\n",
             started, done);
    wt_write(script, text);
    snprintf(h, sizeof h, "jobs=exec:/bin/sh %s", script);
    tt_send(w->f, w->f->pg, "jobs", "x");
    start(w, args);
    wt_await_file(started, 20);
    assert_int_equal(wt_stop(w->worker), 0);
    w->worker = 0;
    /* In flight when the signal came: finished and acked. */
    assert_int_equal(wt_lines(done), 1);
    assert_int_equal(tt_scalar(w->f->pg, "select count(*) from messages"), 0);
    assert_int_equal(tt_scalar(w->f->pg, "select count(*) from archive"), 1);
}

static void
test_second_signal_exits_at_once(void **state)
{
    wtest *w = *state;
    char h[256], script[128], started[128], text[256];
    const char *args[] = {"--handle", h, NULL};
    double t0;
    int st;

    wt_path(&w->dir, "h.sh", script, sizeof script);
    wt_path(&w->dir, "started", started, sizeof started);
    snprintf(text, sizeof text, "touch '%s'\nexec sleep 30\n", started);
    wt_write(script, text);
    snprintf(h, sizeof h, "jobs=exec:/bin/sh %s", script);
    tt_send(w->f, w->f->pg, "jobs", "x");
    start(w, args);
    wt_await_file(started, 20);
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
    wtest *w = *state;
    char cfg[128], text[256];
    const char *args[] = {"--config", cfg, NULL};
    char *log;

    wt_path(&w->dir, "worker.ini", cfg, sizeof cfg);
    snprintf(text, sizeof text, "[queue.jobs]\nhandler = sql:%s.h_ok\n",
             w->f->schema);
    wt_write(cfg, text);
    start(w, args);
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
    assert_int_equal(wt_stop(w->worker), 0);
    w->worker = 0;
    log = wt_read(w->log);
    assert_non_null(strstr(log, "configuration reloaded"));
    free(log);
}

/* Run txq-worker to completion; returns its exit code, output in w->log. */
static int
run_once(wtest *w, const char *const *args)
{
    pid_t pid = wt_start(w->f->schema, w->log, args);
    int st = wt_waitpid(pid, 20);

    assert_true(st != -1);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void
test_bad_config_names_line(void **state)
{
    wtest *w = *state;
    char cfg[128];
    const char *args[] = {"--config", cfg, NULL};
    char *log;

    wt_path(&w->dir, "bad.ini", cfg, sizeof cfg);
    wt_write(cfg, "[worker]\nconcurrency = 2\npoll_interval = soon\n"
                  "[queue.jobs]\nhandler = exec:/bin/true\n");
    assert_int_equal(run_once(w, args), 2);
    log = wt_read(w->log);
    assert_non_null(strstr(log, "bad.ini:3: [worker] poll_interval:"));
    free(log);
}

static void
test_check_config(void **state)
{
    wtest *w = *state;
    char cfg[128];
    const char *args[] = {"--config",       cfg, "--concurrency", "4",
                          "--check-config", NULL};
    char *log;

    wt_path(&w->dir, "ok.ini", cfg, sizeof cfg);
    wt_write(cfg, "[worker]\nconcurrency = 2\ndrain_timeout = 7\n"
                  "[queue.jobs]\nhandler = exec:/bin/true\ntimeout = 9\n");
    assert_int_equal(run_once(w, args), 0);
    log = wt_read(w->log);
    /* file < flags; the test's --poll-interval 0.05 flag too */
    assert_non_null(strstr(log, "concurrency = 4\n"));
    assert_non_null(strstr(log, "drain_timeout = 7\n"));
    assert_non_null(strstr(log, "poll_interval = 0.05\n"));
    assert_non_null(strstr(log, "[queue.jobs]\nconcurrency = 4\n"
                                "handler = exec:/bin/true\n"));
    assert_non_null(strstr(log, "timeout = 9\n"));
    free(log);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_kill9_mid_sql_handler, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_kill9_mid_exec_handler, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_so_handler_aborts_every_time,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_handler_kills_consumer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_drains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_signal_exits_at_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sighup_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_config_names_line, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_check_config, setup, teardown),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("worker_process", tests, NULL, NULL);
}
