/*
 * test_worker_ops.c - what operations watch txq-worker with: /metrics
 * scraped with a real HTTP client (curl) while the worker drains sql: and
 * so: queues, its numbers held to what happened (and to txq.queue_stats),
 * its text to `promtool check metrics`, a crashing consumer's restart
 * counted; /healthz and /readyz, also with the
 * database out of reach; the sd_notify protocol on a socket of the test's
 * own (READY, WATCHDOG, RELOADING and READY on SIGHUP, STOPPING on
 * SIGTERM), without systemd; a JSON log line whose nested value is an
 * object, not a string; and that the Grafana dashboard
 * (contrib/grafana/txq-worker.json) names only metrics that exist.
 *
 * Needs curl and promtool (./run installs them) and TXQ_TEST_DSN (ctest's
 * pg_start fixture provides it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tt.h"

#include "handlers/wt.h"

/* --handle for queue q_sql with the sql: handler h_ok of the test's schema
 * (setup makes both). */
static char h_ok_spec[128];

static int
setup(void **state)
{
    wt_test *w = wt_test_new(state);

    wt_test_h_ok(w);
    wt_test_queue(w, "q_sql", NULL);
    snprintf(h_ok_spec, sizeof h_ok_spec, "q_sql=sql:%s.h_ok", w->f->schema);
    /* ok: inserted; flaky: fails its first attempt; perm: TQ001. */
    tt_exec(w->f->pg,
            "create function h_mix(m message) returns void language plpgsql "
            "as $$ begin "
            "if convert_from(m.body, 'UTF8') = 'perm' then "
            "  raise exception 'bad order' using errcode = 'TQ001'; end if; "
            "if convert_from(m.body, 'UTF8') = 'flaky' and m.attempts = 1 "
            "then raise exception 'busy, try again'; end if; "
            "insert into %s.biz values (m.id, convert_from(m.body, 'UTF8')); "
            "end $$",
            w->f->schema);
    *state = w;
    return 0;
}

/* The port the worker's metrics listen on, from its log. */
static int
metrics_port(wt_test *w)
{
    static const char needle[] = "msg=\"metrics listening\" addr=127.0.0.1:";
    double end = tt_now() + 15;

    while (tt_now() < end) {
        char *log = wt_read(w->log);
        const char *at = strstr(log, needle);
        int port = at != NULL ? atoi(at + sizeof needle - 1) : 0;

        free(log);
        if (port > 0)
            return port;
        tt_sleep_ms(20);
    }
    fail_msg("the worker did not log where its metrics listen");
    return 0;
}

/* GET http://127.0.0.1:port/path with curl: the status code, the body
 * (malloc'd) in *body. */
static int
http_get(wt_test *w, int port, const char *path, char **body)
{
    char out[160], cmd[512], code[16] = "";
    FILE *p;

    wt_path(&w->dir, "http.out", out, sizeof out);
    /* test-made path and port; no user data */
    snprintf(cmd, sizeof cmd,
             "curl -sS --max-time 10 -o '%s' -w '%%{http_code}' "
             "'http://127.0.0.1:%d%s'",
             out, port, path);
    p = popen(cmd, "r");
    assert_non_null(p);
    if (fgets(code, sizeof code, p) == NULL)
        code[0] = '\0';
    if (pclose(p) != 0)
        fail_msg("curl failed (is it installed? ./run installs it): %s", cmd);
    *body = wt_read(out);
    return atoi(code);
}

/* The value of one series (name with its labels) in an exposition, or NAN
 * when missing. */
static double
metric(const char *text, const char *series)
{
    size_t n = strlen(series);
    const char *p = text;

    while ((p = strstr(p, series)) != NULL) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return atof(p + n + 1);
        p += n;
    }
    return NAN;
}

static double
qmetric(const char *text, const char *name, const char *queue)
{
    char series[160];

    snprintf(series, sizeof series, "%s{queue=\"%s\"}", name, queue);
    return metric(text, series);
}

/* contrib/grafana/txq-worker.json of the source tree, into buf. */
static const char *
dash_path(char *buf, size_t size)
{
    const char *src = getenv("TXQ_SOURCE_DIR");

    assert_non_null(src);
    snprintf(buf, size, "%s/contrib/grafana/txq-worker.json", src);
    return buf;
}

/* Scrape until processed_total of each queue is as wanted and the queue
 * gauges (read every 5 s) show both queues empty; the last scrape. */
static char *
scrape_until_drained(wt_test *w, int port, double sql_n, double so_n)
{
    double end = tt_now() + 30;
    char *text = NULL;

    while (tt_now() < end) {
        free(text);
        assert_int_equal(http_get(w, port, "/metrics", &text), 200);
        if (qmetric(text, "txq_worker_messages_processed_total", "q_sql") ==
                sql_n &&
            qmetric(text, "txq_worker_messages_processed_total", "q_so") ==
                so_n &&
            qmetric(text, "txq_worker_queue_depth", "q_sql") == 0 &&
            qmetric(text, "txq_worker_queue_depth", "q_so") == 0)
            return text;
        tt_sleep_ms(100);
    }
    fail_msg("metrics never showed the queues drained; last:\n%s", text);
    return NULL;
}

/* 10 ok + 3 flaky + 1 perm through sql:, 7 through so:: 20 acked, 3
 * retried, 1 dead-lettered, as the metrics and queue_stats both say. */
static void
test_metrics_while_draining(void **state)
{
    wt_test *w = *state;
    tt_fixture *f = w->f;
    char so[600], cmd[1200], path[1024], h[128];
    const char *args[] = {
        "--handle", h, "--handle", so, "--metrics-listen", "127.0.0.1:0", NULL};
    char *text, *body;
    int i, port, rc;

    wt_test_queue(w, "q_so", NULL);
    for (i = 0; i < 10; i++)
        tt_send(f, f->pg, "q_sql", "ok");
    for (i = 0; i < 3; i++)
        tt_send(f, f->pg, "q_sql", "flaky");
    tt_send(f, f->pg, "q_sql", "perm");
    for (i = 0; i < 7; i++)
        tt_send(f, f->pg, "q_so", "fine");
    snprintf(h, sizeof h, "q_sql=sql:%s.h_mix", f->schema);
    snprintf(so, sizeof so, "q_so=so:%s/tests/txq_test_handlers.so:th_ok",
             getenv("TXQ_BUILD_DIR"));
    wt_test_start(w, args);
    port = metrics_port(w);

    text = scrape_until_drained(w, port, 17, 7);
    assert_true(qmetric(text, "txq_worker_messages_acked_total", "q_sql") ==
                13);
    assert_true(qmetric(text, "txq_worker_messages_retried_total", "q_sql") ==
                3);
    assert_true(
        qmetric(text, "txq_worker_messages_dead_lettered_total", "q_sql") == 1);
    assert_true(qmetric(text, "txq_worker_messages_ignored_total", "q_sql") ==
                0);
    assert_true(qmetric(text, "txq_worker_messages_acked_total", "q_so") == 7);
    assert_true(qmetric(text, "txq_worker_messages_retried_total", "q_so") ==
                0);
    /* Every message's time is in the histogram, sql: ones too (their time
     * includes the pipelined call: never all zero). */
    assert_true(qmetric(text, "txq_worker_handler_duration_seconds_count",
                        "q_sql") == 17);
    assert_true(qmetric(text, "txq_worker_handler_duration_seconds_count",
                        "q_so") == 7);
    assert_true(
        qmetric(text, "txq_worker_handler_duration_seconds_sum", "q_sql") > 0);
    assert_true(metric(text, "txq_worker_handler_duration_seconds_bucket{"
                             "queue=\"q_sql\",le=\"+Inf\"}") == 17);
    assert_true(qmetric(text, "txq_worker_queue_dead_letters", "q_sql") == 1);
    assert_true(qmetric(text, "txq_worker_queue_oldest_ready_age_seconds",
                        "q_sql") == 0);
    assert_true(qmetric(text, "txq_worker_consumers", "q_sql") == 1);
    assert_true(qmetric(text, "txq_worker_consumers_connected", "q_so") == 1);
    assert_true(qmetric(text, "txq_worker_consumer_restarts_total", "q_so") ==
                0);
    assert_true(metric(text, "txq_worker_supervisor_connected") == 1);
    assert_true(metric(text, "txq_worker_ready") == 1);
    /* What the database counted is what the worker counted. */
    assert_int_equal(tt_scalar(f->pg, "select acked * 10000 + retried * 100 + "
                                      "dead_lettered from queue_stats "
                                      "where queue = 'q_sql'"),
                     130301);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from biz"), 20);

    /* The Grafana dashboard asks for metrics that exist. */
    {
        char *dash = wt_read(dash_path(path, sizeof path));
        const char *at = dash;

        assert_non_null(strstr(dash, "txq_worker_"));
        while ((at = strstr(at, "txq_worker_")) != NULL) {
            char name[96], line[100];
            size_t n;

            for (n = 0; n + 1 < sizeof name &&
                        ((at[n] >= 'a' && at[n] <= 'z') || at[n] == '_');
                 n++)
                name[n] = at[n];
            name[n] = '\0';
            snprintf(line, sizeof line, "\n%s{", name);
            if (strstr(text, line) == NULL) {
                snprintf(line, sizeof line, "\n%s ", name);
                if (strstr(text, line) == NULL)
                    fail_msg("the dashboard's %s is not in /metrics", name);
            }
            at += n;
        }
        free(dash);
    }

    /* promtool accepts the exposition. */
    wt_path(&w->dir, "metrics.txt", path, sizeof path);
    wt_write(path, text);
    snprintf(cmd, sizeof cmd, "promtool check metrics < '%s' 2>&1", path);
    rc = system(cmd);
    if (rc != 0)
        fail_msg("promtool check metrics failed (%d) on:\n%s", rc, text);
    free(text);

    assert_int_equal(http_get(w, port, "/readyz", &body), 200);
    assert_non_null(strstr(body, "ready"));
    free(body);
    assert_int_equal(http_get(w, port, "/healthz", &body), 200);
    free(body);
    assert_int_equal(http_get(w, port, "/nope", &body), 404);
    free(body);
    wt_test_stop(w);
}

/* Queue gauges for queues of SQS's names, one of them spelt NULL (which an
 * unquoted array literal element would turn into a null): both shown. */
static void
test_gauges_of_any_name(void **state)
{
    wt_test *w = *state;
    char so1[600], so2[600];
    const char *args[] = {"--handle",         so1,           "--handle", so2,
                          "--metrics-listen", "127.0.0.1:0", NULL};
    double end = tt_now() + 30;
    char *text = NULL;
    int port, seen = 0;

    wt_test_queue(w, "NULL", NULL);
    wt_test_queue(w, "Billing-Events", NULL);
    tt_send(w->f, w->f->pg, "NULL", "fine");
    tt_send(w->f, w->f->pg, "Billing-Events", "fine");
    snprintf(so1, sizeof so1, "NULL=so:%s/tests/txq_test_handlers.so:th_ok",
             getenv("TXQ_BUILD_DIR"));
    snprintf(so2, sizeof so2,
             "Billing-Events=so:%s/tests/txq_test_handlers.so:th_ok",
             getenv("TXQ_BUILD_DIR"));
    wt_test_start(w, args);
    port = metrics_port(w);
    while (tt_now() < end && !seen) {
        free(text);
        assert_int_equal(http_get(w, port, "/metrics", &text), 200);
        seen = qmetric(text, "txq_worker_queue_depth", "NULL") == 0 &&
               qmetric(text, "txq_worker_queue_depth", "Billing-Events") == 0;
        if (!seen)
            tt_sleep_ms(100);
    }
    if (!seen)
        fail_msg("no depth gauge of 0 for both queues; last:\n%s", text);
    free(text);
    wt_test_stop(w);
}

/* A handler that crashes its consumer: the restart is counted. */
static void
test_restarts_counted(void **state)
{
    wt_test *w = *state;
    char so[600];
    const char *args[] = {"--handle", so, "--metrics-listen", "127.0.0.1:0",
                          NULL};
    double end = tt_now() + 20, restarts = 0;
    char *text = NULL;
    int port;

    wt_test_queue(w, "q_crash", NULL);
    tt_send(w->f, w->f->pg, "q_crash", "poison");
    snprintf(so, sizeof so,
             "q_crash=so:%s/tests/txq_test_handlers.so:th_poison",
             getenv("TXQ_BUILD_DIR"));
    wt_test_start(w, args);
    port = metrics_port(w);
    while (tt_now() < end && !(restarts >= 1)) {
        free(text);
        assert_int_equal(http_get(w, port, "/metrics", &text), 200);
        restarts =
            qmetric(text, "txq_worker_consumer_restarts_total", "q_crash");
        tt_sleep_ms(50);
    }
    if (!(restarts >= 1))
        fail_msg("no restart counted; last:\n%s", text);
    free(text);
    wt_test_stop(w);
}

/* Pointed at a port where no database is: alive, not ready, and says why. */
static void
test_readyz_without_database(void **state)
{
    wt_test *w = *state;
    char db[600];
    const char *args[] = {
        "--handle",    h_ok_spec,           "--metrics-listen",
        "127.0.0.1:0", "--startup-timeout", "0",
        NULL};
    char *body;
    int port;

    snprintf(db, sizeof db, "%s port=1 connect_timeout=2", tt_dsn());
    w->worker = wt_start_db(db, w->f->schema, w->log, args);
    port = metrics_port(w);
    assert_int_equal(http_get(w, port, "/readyz", &body), 503);
    assert_non_null(strstr(body, "not ready: supervisor not connected"));
    free(body);
    assert_int_equal(http_get(w, port, "/healthz", &body), 200);
    free(body);
    assert_int_equal(http_get(w, port, "/metrics", &body), 200);
    assert_true(metric(body, "txq_worker_ready") == 0);
    assert_true(metric(body, "txq_worker_supervisor_connected") == 0);
    assert_true(qmetric(body, "txq_worker_consumers_connected", "q_sql") == 0);
    free(body);
    wt_test_stop(w);
}

/* Read datagrams from fd until one has the line want (fails after secs);
 * each is appended to seen for the failure message. */
static void
await_state(int fd, const char *want, double secs, char *seen, size_t size)
{
    double end = tt_now() + secs;

    while (tt_now() < end) {
        struct pollfd pfd = {fd, POLLIN, 0};
        char msg[1024], *line, *save = NULL;
        ssize_t n;

        if (poll(&pfd, 1, 50) <= 0)
            continue;
        n = recv(fd, msg, sizeof msg - 1, 0);
        if (n <= 0)
            continue;
        msg[n] = '\0';
        snprintf(seen + strlen(seen), size - strlen(seen), "[%s] ", msg);
        for (line = strtok_r(msg, "\n", &save); line != NULL;
             line = strtok_r(NULL, "\n", &save))
            if (strcmp(line, want) == 0)
                return;
    }
    fail_msg("no %s from the worker within %.0f s; got: %s", want, secs, seen);
}

static void
test_sd_notify(void **state)
{
    wt_test *w = *state;
    struct sockaddr_un sa;
    char env_sock[200], seen[8192] = "";
    const char *env[] = {env_sock, "WATCHDOG_USEC=300000", "WATCHDOG_PID=$PID",
                         NULL};
    const char *args[] = {"--handle", h_ok_spec, NULL};
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

    assert_true(fd >= 0);
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    wt_path(&w->dir, "notify", sa.sun_path, sizeof sa.sun_path);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    snprintf(env_sock, sizeof env_sock, "NOTIFY_SOCKET=%s", sa.sun_path);

    wt_env = env;
    wt_test_start(w, args);
    wt_env = NULL;
    await_state(fd, "READY=1", 15, seen, sizeof seen);
    /* Pings every 150 ms (half of WATCHDOG_USEC), after READY too. */
    await_state(fd, "WATCHDOG=1", 2, seen, sizeof seen);
    await_state(fd, "WATCHDOG=1", 2, seen, sizeof seen);
    kill(w->worker, SIGHUP);
    await_state(fd, "RELOADING=1", 5, seen, sizeof seen);
    await_state(fd, "READY=1", 5, seen, sizeof seen);
    kill(w->worker, SIGTERM);
    await_state(fd, "STOPPING=1", 5, seen, sizeof seen);
    assert_int_equal(wt_run_to_end(w->worker), 0);
    w->worker = 0;
    close(fd);
    assert_non_null(strstr(seen, "STATUS=ready: 1 queue(s)"));
}

/* The worker's log, once it has a line holding text (fails after 15 s);
 * malloc'd. */
static char *
await_log(wt_test *w, const char *text)
{
    double end = tt_now() + 15;

    for (;;) {
        char *log = wt_read(w->log);

        if (strstr(log, text) != NULL)
            return log;
        free(log);
        if (tt_now() > end)
            fail_msg("no \"%s\" in the worker's log", text);
        tt_sleep_ms(20);
    }
}

/* A message of q_other claimed by a session that then ends: the worker's
 * maintain() rescues it and logs its result. */
static void
orphan_claim(tt_fixture *f)
{
    PGconn *gone = tt_connect(f->schema);

    tt_send(f, f->pg, "q_other", "x");
    txq_msgs_free(tt_take(f, gone, "q_other", 1), 1);
    PQfinish(gone);
}

/* A value that is JSON (maintain()'s result) is nested in a JSON log line
 * as an object; in logfmt it is a quoted string. */
static void
test_json_log_nests(void **state)
{
    wt_test *w = *state;
    tt_fixture *f = w->f;
    const char *json[] = {"--handle", h_ok_spec, "--log-format", "json", NULL};
    const char *logfmt[] = {"--handle", h_ok_spec, NULL};
    char *log, *line, *save = NULL;
    PGresult *r;
    const char *vals[1];

    wt_test_queue(w, "q_other", NULL);
    orphan_claim(f);
    wt_test_start(w, json);
    log = await_log(w, "\"msg\":\"maintenance\"");
    wt_test_stop(w);
    for (line = strtok_r(log, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save))
        if (strstr(line, "\"msg\":\"maintenance\"") != NULL)
            break;
    assert_non_null(line);
    /* PostgreSQL's parser is the judge: the line is JSON, and its result
     * an object with the counts, not a string. */
    vals[0] = line;
    r = PQexecParams(f->pg,
                     "select jsonb_typeof($1::jsonb->'result') || ' ' || "
                     "($1::jsonb->'result'->>'rescued')",
                     1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("not JSON: %s (%s)", line, PQresultErrorMessage(r));
    assert_string_equal(PQgetvalue(r, 0, 0), "object 1");
    PQclear(r);
    free(log);

    /* logfmt has no nesting: a quoted string holding it. */
    orphan_claim(f);
    unlink(w->log);
    wt_test_start(w, logfmt);
    free(await_log(w, "msg=maintenance result=\"{\\\""));
    wt_test_stop(w);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_metrics_while_draining, setup,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_restarts_counted, setup,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_gauges_of_any_name, setup,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_readyz_without_database, setup,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_sd_notify, setup,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_json_log_nests, setup,
                                        wt_test_teardown),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("worker_ops", tests, NULL, NULL);
}
