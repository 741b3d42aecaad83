/*
 * test_worker.c - txq-worker end to end, per handler kind and failure
 * policy: sql:, so: and exec: handlers succeed and their business write
 * commits with the ack; failures retry and dead-letter with the error
 * history; permanent failures (TQ001, exit 65, so PERMANENT) skip the
 * retries; the ignore and notify policies (notify runs --notify-command,
 * rate-limited, summarising); request/reply through a sql handler.
 *
 * Spawns $TXQ_BUILD_DIR/txq-worker against the test's schema; backoffs are
 * made tiny with create_queue settings, never slept through.
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

    /* The sql handlers: ok inserts; fail inserts then raises (so the insert
     * must roll back); perm raises TQ001; echo replies. */
    wt_test_h_ok(w);
    tt_exec(f->pg,
            "create function h_fail(m message) returns void language plpgsql "
            "as $$ begin insert into %s.biz values (m.id, 'x'); "
            "raise exception 'no luck on attempt %%', m.attempts; end $$",
            f->schema);
    tt_exec(f->pg,
            "create function h_perm(m message) returns void language plpgsql "
            "as $$ begin raise exception 'bad order' using errcode = 'TQ001'; "
            "end $$");
    tt_exec(f->pg,
            "create function h_echo(m message) returns text language sql "
            "as $$ select 'echo:' || convert_from(m.body, 'UTF8') $$");
    *state = w;
    return 0;
}

/* Poll the worker's log until it contains text (fails after secs). */
static void
await_log(wt_test *w, const char *text, double secs)
{
    double end = tt_now() + secs;

    for (;;) {
        char *log = wt_read(w->log);
        int found = log != NULL && strstr(log, text) != NULL;

        free(log);
        if (found)
            return;
        if (tt_now() >= end)
            fail_msg("\"%s\" not in the worker's log after %.0f s", text, secs);
        tt_sleep_ms(20);
    }
}

/* Queue jobs handled by the sql function fn of the test's schema, one
 * message "x" in it, and the worker started; returns the message's id. */
static int64_t
start_sql(wt_test *w, const char *fn)
{
    char h[128];
    const char *args[] = {"--handle", h, NULL};
    int64_t id;

    wt_test_queue(w, "jobs", NULL);
    snprintf(h, sizeof h, "jobs=sql:%s.%s", w->f->schema, fn);
    id = tt_send(w->f, w->f->pg, "jobs", "x");
    wt_test_start(w, args);
    return id;
}

/* A producer process: 1,000 sends, each its own transaction. */
static int
producer(void *arg)
{
    const char *schema = arg;
    PGconn *pg = tt_child_connect(schema);
    txq_options o = {.size = sizeof(txq_options), .schema = schema};
    txq_client *c = txq_client_new(&o);
    int i, rc = 0;

    if (pg == NULL || c == NULL)
        return 1;
    /* Paced, so that the consumers keep going idle and waking. */
    for (i = 0; i < 1000 && rc == 0; i++) {
        rc = txq_send(c, pg, "jobs", "x", 1, NULL, NULL) == TXQ_OK ? 0 : 2;
        tt_sleep_ms(1);
    }
    txq_client_free(c);
    PQfinish(pg);
    return rc;
}

/* No wake-up is lost while sends keep coming: with a poll interval of an
 * hour, every message must be handled through notifications alone. (A
 * notification that libpq read in with the result of the supervisor's
 * own query, a wait_begin or maintain, was once left unseen until the
 * next poll, while its send had taken the waiter row: under load the
 * workers slept for whole poll intervals.) */
static void
test_no_lost_wakeups_under_load(void **state)
{
    wt_test *w = *state;
    char h[128];
    const char *args[] = {
        "--handle", h, "--concurrency", "4", "--poll-interval", "3600", NULL};
    int pids[4], i;

    wt_test_queue(w, "jobs", NULL);
    snprintf(h, sizeof h, "jobs=sql:%s.h_ok", w->f->schema);
    wt_test_start(w, args);
    /* Registered as a waiter once the consumers are idle. */
    wt_await(w->f->pg, 1, 20,
             "select coalesce(sum(_wake_pending(q)), 0) from queues q");
    for (i = 0; i < 4; i++)
        pids[i] = tt_fork(producer, w->f->schema);
    for (i = 0; i < 4; i++)
        assert_int_equal(tt_wait(pids[i]), 0);
    wt_await(w->f->pg, 0, 60, "select count(*) from messages");
    assert_int_equal(tt_scalar(w->f->pg, "select count(*) from biz"), 4000);
    wt_test_stop(w);
}

static void
test_sql_handler_commits_with_ack(void **state)
{
    wt_test *w = *state;
    char h[128];
    const char *args[] = {"--handle", h, "--concurrency", "2", NULL};

    wt_test_queue(w, "jobs", NULL);
    snprintf(h, sizeof h, "jobs=sql:%s.h_ok", w->f->schema);
    tt_send(w->f, w->f->pg, "jobs", "one");
    tt_send(w->f, w->f->pg, "jobs", "two");
    wt_test_start(w, args);
    wt_await(w->f->pg, 2, 20, "select count(*) from biz");
    wt_await(w->f->pg, 0, 10, "select count(*) from messages");
    /* Idle: the supervisor waits on the queue, so sends notify it. */
    wt_await(w->f->pg, 1, 10,
             "select coalesce(sum(_wake_pending(q)), 0) from queues q");
    tt_send(w->f, w->f->pg, "jobs", "three");
    wt_await(w->f->pg, 3, 10, "select count(*) from biz");
    wt_test_stop(w);
    assert_int_equal(tt_scalar(w->f->pg, "select count(*) from biz where "
                                         "body in ('one','two','three')"),
                     3);
    assert_int_equal(tt_scalar(w->f->pg, "select coalesce(sum(acked), 0) "
                                         "from queue_counters"),
                     3);
}

/* Handlers on queues of SQS's names: capitals and -, and a fifo queue
 * whose name ends in .fifo, each by --handle. */
static void
test_sql_handler_sqs_names(void **state)
{
    wt_test *w = *state;
    char h1[128], h2[128];
    const char *args[] = {"--handle", h1, "--handle", h2, NULL};

    wt_test_queue(w, "Billing-Events", NULL);
    wt_test_queue(w, "orders.fifo", "i_kind => 'fifo'");
    snprintf(h1, sizeof h1, "Billing-Events=sql:%s.h_ok", w->f->schema);
    snprintf(h2, sizeof h2, "orders.fifo=sql:%s.h_ok", w->f->schema);
    tt_send(w->f, w->f->pg, "Billing-Events", "invoice");
    assert_txq_ok(w->f->c, txq_send(w->f->c, w->f->pg, "orders.fifo", "order",
                                    5, TXQ_SEND_OPTS(.group = "g"), NULL));
    wt_test_start(w, args);
    wt_await(w->f->pg, 2, 20, "select count(*) from biz");
    wt_await(w->f->pg, 0, 10, "select count(*) from messages");
    wt_test_stop(w);
    assert_int_equal(tt_scalar(w->f->pg, "select count(*) from biz where "
                                         "body in ('invoice', 'order')"),
                     2);
}

/* The log's duration_ms of a sql: handler is its real time (the call is
 * pipelined with the ack: it once read 0.0 for every sql: handler). */
static void
test_sql_handler_duration(void **state)
{
    wt_test *w = *state;
    char *log, *at;
    double ms;

    tt_exec(w->f->pg,
            "create function h_nap(m message) returns void language plpgsql "
            "as $$ begin perform pg_sleep(0.08); end $$");
    start_sql(w, "h_nap");
    await_log(w, "action=ack", 20);
    wt_test_stop(w);
    log = wt_read(w->log);
    at = strstr(log, "action=ack duration_ms=");
    assert_non_null(at);
    ms = strtod(at + strlen("action=ack duration_ms="), NULL);
    if (ms < 80 || ms > 5000)
        fail_msg("duration_ms=%.1f for a handler that sleeps 80 ms", ms);
    free(log);
}

/* A server warning (a handler's RAISE WARNING) is a log event in the
 * log's format, not a raw libpq line on stderr. */
static void
test_server_notice_logged_as_json(void **state)
{
    wt_test *w = *state;
    char h[128], *log, *line, *save = NULL;
    const char *args[] = {"--handle", h, "--log-format", "json", NULL};
    int notices = 0;

    tt_exec(w->f->pg,
            "create function h_warn(m message) returns void language plpgsql "
            "as $$ begin raise warning 'careful with %%', m.id; end $$");
    wt_test_queue(w, "jobs", NULL);
    snprintf(h, sizeof h, "jobs=sql:%s.h_warn", w->f->schema);
    tt_send(w->f, w->f->pg, "jobs", "x");
    wt_test_start(w, args);
    wt_await(w->f->pg, 0, 20, "select count(*) from messages");
    await_log(w, "server notice", 10);
    wt_test_stop(w);
    log = wt_read(w->log);
    for (line = strtok_r(log, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[0] != '{' || line[strlen(line) - 1] != '}')
            fail_msg("not a JSON log line: %s", line);
        if (strstr(line, "\"server notice\"") != NULL &&
            strstr(line, "careful with") != NULL &&
            strstr(line, "\"level\":\"warn\"") != NULL)
            notices++;
    }
    assert_int_equal(notices, 1);
    free(log);
}

static void
test_no_listen_polls(void **state)
{
    wt_test *w = *state;
    char h[128];
    const char *args[] = {"--handle", h, "--no-listen", NULL};

    wt_test_queue(w, "jobs", NULL);
    snprintf(h, sizeof h, "jobs=sql:%s.h_ok", w->f->schema);
    wt_test_start(w, args);
    tt_sleep_ms(200);
    tt_send(w->f, w->f->pg, "jobs", "one");
    wt_await(w->f->pg, 1, 10, "select count(*) from biz");
    /* Nobody registered as a waiter: producers never NOTIFY. */
    assert_int_equal(tt_pending(w->f->pg), 0);
    wt_test_stop(w);
}

static void
test_sql_handler_retries_then_dead(void **state)
{
    wt_test *w = *state;
    int64_t id = start_sql(w, "h_fail");

    wt_await(w->f->pg, 1, 20, "select count(*) from dead_letter_messages");
    wt_test_stop(w);
    /* Each attempt's insert rolled back with its failure. */
    assert_int_equal(tt_scalar(w->f->pg, "select count(*) from biz"), 0);
    assert_int_equal(tt_scalar(w->f->pg,
                               "select attempts from dead_letter_messages "
                               "where id = %lld and reason = 'exhausted'",
                               (long long)id),
                     3);
    assert_int_equal(
        tt_scalar(w->f->pg,
                  "select count(*) from message_errors where message_id = "
                  "%lld and error like '%%no luck on attempt ' || attempt "
                  "|| '%%'",
                  (long long)id),
        3);
}

static void
test_sql_handler_permanent(void **state)
{
    wt_test *w = *state;

    start_sql(w, "h_perm");
    wt_await(w->f->pg, 1, 20,
             "select count(*) from dead_letter_messages where reason = "
             "'permanent' and attempts = 1 and last_error like "
             "'%h_perm: bad order [TQ001]'");
    wt_test_stop(w);
}

static void
test_sql_handler_reply(void **state)
{
    wt_test *w = *state;
    char h[128], buf[128];
    const char *args[] = {"--handle", h, NULL};
    txq_send_opts so = TXQ_SEND_OPTS_INIT;

    wt_test_queue(w, "jobs", NULL);
    wt_test_queue(w, "replies", NULL);
    snprintf(h, sizeof h, "jobs=sql:%s.h_echo", w->f->schema);
    so.reply_to = "replies";
    so.correlation_id = "req-7";
    assert_txq_ok(w->f->c,
                  txq_send(w->f->c, w->f->pg, "jobs", "hi", 2, &so, NULL));
    wt_test_start(w, args);
    wt_await(w->f->pg, 1, 20,
             "select count(*) from messages m join queues q using "
             "(queue_id) where q.name = 'replies'");
    wt_test_stop(w);
    tt_text(w->f->pg, buf, sizeof buf,
            "select convert_from(body, 'UTF8') || '/' || correlation_id "
            "from messages");
    assert_string_equal(buf, "echo:hi/req-7");
}

static void
test_missing_sql_function_claims_nothing(void **state)
{
    wt_test *w = *state;

    int st;

    start_sql(w, "no_such_fn");
    /* The start finds it and gives up (exit 1), naming it: no retry
     * forever behind a healthy-looking process... */
    st = wt_waitpid(w->worker, 30);
    w->worker = 0;
    assert_true(st != -1 && WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 1);
    await_log(w, "no_such_fn", 1);
    await_log(w, "does not exist", 1);
    /* ...and claims nothing: no attempt burnt on a misconfiguration. */
    assert_int_equal(tt_scalar(w->f->pg, "select attempts from messages"), 0);
}

static void
test_exec_handler(void **state)
{
    wt_test *w = *state;
    char h[512], script[128], out[128], text[1024];
    const char *args[] = {"--handle", h, NULL};
    txq_send_opts so = TXQ_SEND_OPTS_INIT;
    char *got;
    int64_t id;

    wt_test_queue(w, "jobs", NULL);
    wt_path(&w->dir, "h.sh", script, sizeof script);
    wt_path(&w->dir, "out", out, sizeof out);
    /* ok writes body and environment; "retry" exits 75, "perm" 65, "crash"
     * fails with stderr text */
    snprintf(text, sizeof text,
             "body=$(cat)\n"
             "case $body in\n"
             "retry) echo 'try later' >&2; exit 75;;\n"
             "perm) echo 'never' >&2; exit 65;;\n"
             "crash) echo 'boom' >&2; exit 3;;\n"
             "esac\n"
             "echo \"$body|$TXQ_QUEUE|$TXQ_MESSAGE_ID|$TXQ_ATTEMPT|"
             "$TXQ_CORRELATION_ID|$TXQ_HEADERS|$1\" >> '%s'\n",
             out);
    wt_write(script, text);
    snprintf(h, sizeof h, "jobs=exec:/bin/sh %s 'an arg'", script);
    so.correlation_id = "c1";
    so.headers_json = "{\"k\": \"v\"}";
    assert_txq_ok(w->f->c,
                  txq_send(w->f->c, w->f->pg, "jobs", "hello", 5, &so, &id));
    tt_send(w->f, w->f->pg, "jobs", "retry");
    tt_send(w->f, w->f->pg, "jobs", "perm");
    tt_send(w->f, w->f->pg, "jobs", "crash");
    wt_test_start(w, args);
    wt_await(w->f->pg, 3, 20, "select count(*) from dead_letter_messages");
    wt_await(w->f->pg, 0, 10, "select count(*) from messages");
    wt_test_stop(w);
    got = wt_read(out);
    snprintf(text, sizeof text, "hello|jobs|%lld|1|c1|{\"k\": \"v\"}|an arg\n",
             (long long)id);
    assert_string_equal(got, text);
    free(got);
    assert_int_equal(
        tt_scalar(w->f->pg,
                  "select count(*) from dead_letter_messages d where "
                  "(convert_from(body, 'UTF8') = 'retry' and attempts = 3 "
                  "and reason = 'exhausted' and last_error = 'exit status "
                  "75: try later') or (convert_from(body, 'UTF8') = 'perm' "
                  "and attempts = 1 and reason = 'permanent' and last_error "
                  "= 'exit status 65: never') or (convert_from(body, 'UTF8') "
                  "= 'crash' and attempts = 3 and last_error = 'exit status "
                  "3: boom')"),
        3);
}

static void
test_exec_handler_timeout(void **state)
{
    wt_test *w = *state;
    const char *args[] = {"--handle", "jobs=exec:/bin/sleep 30", "--timeout",
                          "0.3", NULL};
    double t0;

    tt_exec(w->f->pg, "select create_queue('jobs', i_max_attempts => 1)");
    tt_send(w->f, w->f->pg, "jobs", "x");
    t0 = tt_now();
    wt_test_start(w, args);
    wt_await(w->f->pg, 1, 20,
             "select count(*) from dead_letter_messages where last_error "
             "like 'timed out after 0.3s%'");
    assert_true(tt_now() - t0 < 10);
    wt_test_stop(w);
}

static void
test_so_handler(void **state)
{
    wt_test *w = *state;
    char h1[512], h2[512];
    const char *args[] = {"--handle", h1, "--handle", h2, NULL};
    const char *bdir = getenv("TXQ_BUILD_DIR");

    wt_test_queue(w, "jobs", NULL);
    wt_test_queue(w, "nope", NULL);
    snprintf(h1, sizeof h1, "jobs=so:%s/tests/txq_test_handlers.so:th_ok",
             bdir);
    snprintf(h2, sizeof h2, "nope=so:%s/tests/txq_test_handlers.so:th_perm",
             bdir);
    tt_send(w->f, w->f->pg, "jobs", "from so");
    tt_send(w->f, w->f->pg, "nope", "x");
    wt_test_start(w, args);
    wt_await(w->f->pg, 1, 20,
             "select count(*) from biz where body = "
             "'from so'");
    wt_await(w->f->pg, 1, 20,
             "select count(*) from dead_letter_messages where reason = "
             "'permanent' and last_error = 'so says no'");
    wt_await(w->f->pg, 0, 10, "select count(*) from messages");
    wt_test_stop(w);
}

static void
test_ignore_policy(void **state)
{
    wt_test *w = *state;
    char h[128];
    const char *args[] = {"--handle", h, NULL};

    wt_test_queue(w, "logs", "i_on_exhausted => 'ignore'");
    snprintf(h, sizeof h, "logs=sql:%s.h_fail", w->f->schema);
    tt_send(w->f, w->f->pg, "logs", "unimportant");
    wt_test_start(w, args);
    wt_await(w->f->pg, 1, 20,
             "select coalesce(sum(ignored), 0) from queue_counters");
    wt_test_stop(w);
    assert_int_equal(tt_scalar(w->f->pg, "select count(*) from messages"), 0);
    assert_int_equal(
        tt_scalar(w->f->pg, "select count(*) from dead_letter_messages"), 0);
    assert_int_equal(tt_scalar(w->f->pg, "select count(*) from biz"), 0);
}

static void
test_notify_policy(void **state)
{
    wt_test *w = *state;
    char h[128], script[128], out[128], cmd[256], text[512];
    const char *args[] = {"--handle", h, "--notify-command", cmd, NULL};
    char *got;

    wt_test_queue(w, "pay", "i_on_exhausted => 'notify'");
    snprintf(h, sizeof h, "pay=sql:%s.h_perm", w->f->schema);
    wt_path(&w->dir, "alert.sh", script, sizeof script);
    wt_path(&w->dir, "alerts", out, sizeof out);
    snprintf(text, sizeof text,
             "echo \"$TXQ_ALERT_QUEUE|$TXQ_ALERT_COUNT|$TXQ_ALERT_REASON|"
             "$TXQ_ALERT_MESSAGE_ID|$TXQ_ALERT_ERROR\" >> '%s'\n",
             out);
    wt_write(script, text);
    snprintf(cmd, sizeof cmd, "/bin/sh %s", script);

    /* The first alert goes out at once. */
    tt_send(w->f, w->f->pg, "pay", "a");
    wt_test_start(w, args);
    wt_await(w->f->pg, 1, 20, "select count(*) from alerts where delivered");
    wt_await_file(out, 10);
    tt_sleep_ms(100);
    got = wt_read(out);
    assert_non_null(strstr(got, "pay|1|permanent|"));
    assert_non_null(strstr(got, "bad order"));
    free(got);

    /* A storm inside notify_interval (60 s) waits... */
    tt_send(w->f, w->f->pg, "pay", "b");
    tt_send(w->f, w->f->pg, "pay", "c");
    tt_send(w->f, w->f->pg, "pay", "d");
    wt_await(w->f->pg, 4, 20, "select count(*) from dead_letter_messages");
    wt_await(w->f->pg, 3, 5,
             "select count(*) from alerts where not "
             "delivered");
    tt_sleep_ms(300);
    assert_int_equal(wt_lines(out), 1);
    assert_int_equal(
        tt_scalar(w->f->pg, "select count(*) from alerts where not delivered"),
        3);
    wt_test_stop(w);

    /* ...and goes out as one summary when the interval allows. */
    wt_test_start(w, args);
    wt_await(w->f->pg, 0, 20,
             "select count(*) from alerts where not "
             "delivered");
    wt_test_stop(w);
    assert_int_equal(wt_lines(out), 2);
    got = wt_read(out);
    assert_non_null(strstr(strchr(got, '\n') + 1, "pay|3|permanent|"));
    free(got);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sql_handler_commits_with_ack,
                                        setup, wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_sql_handler_sqs_names, setup,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_sql_handler_duration, setup,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_server_notice_logged_as_json,
                                        setup, wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_no_listen_polls, setup,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_sql_handler_retries_then_dead,
                                        setup, wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_no_lost_wakeups_under_load, setup,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_sql_handler_permanent, setup,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_sql_handler_reply, setup,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(
            test_missing_sql_function_claims_nothing, setup, wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_exec_handler, setup,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_exec_handler_timeout, setup,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_so_handler, setup,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_ignore_policy, setup,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_notify_policy, setup,
                                        wt_test_teardown),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("worker", tests, NULL, NULL);
}
