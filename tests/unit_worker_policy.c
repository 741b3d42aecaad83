/*
 * unit_worker_policy.c - txq-worker's pure parts, without a database: the
 * policy decisions (policy.c), command-line splitting, handler spec checks
 * and the configuration's sources and precedence (config.c).
 *
 * Linked with the worker's sources (see the worker block of
 * CMakeLists.txt). Needs no database: label unit, no fixture.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "handler.h"
#include "policy.h"
#include "util.h"

static void
test_exec_exit_codes(void **state)
{
    (void)state;
    assert_int_equal(policy_exec_result(0 << 8, 0), TXQ_HANDLER_OK);
    assert_int_equal(policy_exec_result(65 << 8, 0), TXQ_HANDLER_PERMANENT);
    assert_int_equal(policy_exec_result(75 << 8, 0), TXQ_HANDLER_RETRY);
    assert_int_equal(policy_exec_result(1 << 8, 0), TXQ_HANDLER_RETRY);
    assert_int_equal(policy_exec_result(127 << 8, 0), TXQ_HANDLER_RETRY);
    /* killed by SIGKILL; and a timeout wins over a clean exit */
    assert_int_equal(policy_exec_result(9, 0), TXQ_HANDLER_RETRY);
    assert_int_equal(policy_exec_result(0, 1), TXQ_HANDLER_RETRY);
}

static void
test_sql_states(void **state)
{
    (void)state;
    assert_int_equal(policy_sql_result("TQ001"), TXQ_HANDLER_PERMANENT);
    assert_int_equal(policy_sql_result("P0001"), TXQ_HANDLER_RETRY);
    assert_int_equal(policy_sql_result("57014"), TXQ_HANDLER_RETRY);
    assert_int_equal(policy_sql_result(NULL), TXQ_HANDLER_RETRY);
    assert_int_equal(policy_sql_result(""), TXQ_HANDLER_RETRY);
}

static void
test_backoff_and_alert_rate(void **state)
{
    (void)state;
    assert_true(policy_backoff(0, 0.1, 30) == 0);
    assert_true(policy_backoff(1, 0.1, 30) == 0.1);
    assert_true(policy_backoff(3, 0.1, 30) == 0.4);
    assert_true(policy_backoff(50, 0.1, 30) == 30);
    assert_true(policy_backoff(100000, 0.1, 30) == 30);
    assert_true(policy_alert_wait(-1, 100, 60) == 0);
    assert_true(policy_alert_wait(90, 100, 60) == 50);
    assert_true(policy_alert_wait(40, 100, 60) == 0);
    assert_true(policy_alert_wait(99, 100, 0) == 0);
    assert_string_equal(policy_outcome_action(TXQ_OUTCOME_DEAD), "dead");
    assert_string_equal(policy_outcome_action(TXQ_OUTCOME_IGNORED), "ignore");
}

static void
test_split_args(void **state)
{
    char err[128];
    char **a;

    (void)state;
    a = split_args("  /bin/echo a 'b c' \"d \\\"e\\\"\" f\\ g ''", err,
                   sizeof err);
    assert_non_null(a);
    assert_string_equal(a[0], "/bin/echo");
    assert_string_equal(a[1], "a");
    assert_string_equal(a[2], "b c");
    assert_string_equal(a[3], "d \"e\"");
    assert_string_equal(a[4], "f g");
    assert_string_equal(a[5], "");
    assert_null(a[6]);
    free_args(a);
    assert_null(split_args("echo 'open", err, sizeof err));
    assert_non_null(strstr(err, "unbalanced"));
    assert_null(split_args("   ", err, sizeof err));
    /* metacharacters are plain bytes: no shell ever sees them */
    a = split_args("x ;rm -rf /;$(id)", err, sizeof err);
    assert_non_null(a);
    assert_string_equal(a[1], ";rm");
    assert_string_equal(a[3], "/;$(id)");
    free_args(a);
}

static void
test_handler_specs(void **state)
{
    char err[256];

    (void)state;
    assert_int_equal(handler_check("sql:public.fn", err, sizeof err), 0);
    assert_int_equal(handler_check("sql:fn", err, sizeof err), 0);
    assert_int_equal(handler_check("sql:a.b.c", err, sizeof err), -1);
    assert_int_equal(handler_check("sql:fn(); drop table x", err, sizeof err),
                     -1);
    assert_int_equal(handler_check("sql:\"Quoted\".fn", err, sizeof err), -1);
    assert_int_equal(handler_check("so:/x/y.so:handle", err, sizeof err), 0);
    assert_int_equal(handler_check("so:/x/y.so", err, sizeof err), -1);
    assert_int_equal(handler_check("so:/x/y.so:1bad", err, sizeof err), -1);
    assert_int_equal(handler_check("exec:/bin/true", err, sizeof err), 0);
    assert_int_equal(handler_check("exec:", err, sizeof err), -1);
    assert_int_equal(handler_check("python:x", err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown handler kind"));
}

/* Write text to a fresh temporary file; returns its path (static). */
static const char *
write_file(const char *text)
{
    static char path[64];
    int fd;

    snprintf(path, sizeof path, "/tmp/txq_wp_XXXXXX");
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void
test_config_precedence(void **state)
{
    const char *path = write_file("; a comment\n"
                                  "[worker]\n"
                                  "concurrency = 3\n"
                                  "poll_interval = 2\n"
                                  "timeout = 500ms\n"
                                  "listen = off\n"
                                  "db = host=/nowhere password=sekrit\n"
                                  "\n"
                                  "[queue.emails]\n"
                                  "handler = exec:/bin/true\n"
                                  "concurrency = 7\n"
                                  "[queue.orders]\n"
                                  "handler = sql:public.handle_order\n");
    cfg_override ov[] = {{"poll_interval", "0.25", "--poll-interval"},
                         {"handle", "orders=sql:public.other", "--handle"},
                         {"handle", "more=so:/x.so:h", "--handle"}};
    worker_cfg cfg;
    char err[512];
    char *out = NULL;
    size_t outlen = 0;
    FILE *f;

    (void)state;
    setenv("TXQ_POLL_INTERVAL", "0.5", 1);
    setenv("TXQ_CONCURRENCY", "4", 1);
    assert_int_equal(config_load(&cfg, path, ov, 3, err, sizeof err), 0);
    unsetenv("TXQ_POLL_INTERVAL");
    unsetenv("TXQ_CONCURRENCY");
    /* defaults < file < env < flags */
    assert_true(cfg.poll_interval == 0.25);
    assert_int_equal(cfg.concurrency, 4);
    assert_true(cfg.timeout == 0.5);
    assert_int_equal(cfg.listen, 0);
    assert_true(cfg.drain_timeout == 30);
    assert_string_equal(cfg.schema, "txq");
    assert_int_equal(cfg.nqueues, 3);
    assert_string_equal(cfg.queues[0].name, "emails");
    assert_int_equal(queue_concurrency(&cfg, &cfg.queues[0]), 7);
    assert_string_equal(cfg.queues[1].handler, "sql:public.other");
    assert_int_equal(queue_concurrency(&cfg, &cfg.queues[1]), 4);
    assert_string_equal(cfg.queues[2].name, "more");

    /* --check-config's output masks the password */
    f = open_memstream(&out, &outlen);
    assert_non_null(f);
    config_print(&cfg, f);
    fclose(f);
    assert_non_null(strstr(out, "poll_interval = 0.25\n"));
    assert_non_null(strstr(out, "[queue.emails]\nconcurrency = 7\n"));
    assert_null(strstr(out, "sekrit"));
    assert_non_null(strstr(out, "password=********"));
    free(out);
    config_free(&cfg);
    unlink(path);
}

/* Queue names of SQS's rule in [queue.NAME] up to libinih's section
 * limit (42 characters), longer ones (up to 80) by --handle. */
static void
test_config_queue_names(void **state)
{
    const char *path =
        write_file("[queue.Billing-Events]\n"
                   "handler = exec:/bin/true\n"
                   "[queue.orders.fifo]\n"
                   "handler = exec:/bin/true\n"
                   "[queue.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN-P]\n"
                   "handler = exec:/bin/true\n");
    char h80[120], err[512];
    cfg_override ov[] = {{"handle", h80, "--handle"}};
    worker_cfg cfg;
    size_t i;
    int seen = 0;

    (void)state;
    memset(h80, 'X', 80);
    snprintf(h80 + 80, sizeof h80 - 80, "=exec:/bin/true");
    assert_int_equal(config_load(&cfg, path, ov, 1, err, sizeof err), 0);
    assert_int_equal(cfg.nqueues, 4);
    for (i = 0; i < cfg.nqueues; i++) {
        const char *n = cfg.queues[i].name;

        seen |= (strcmp(n, "Billing-Events") == 0) |
                (strcmp(n, "orders.fifo") == 0) << 1 |
                (strcmp(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN-P") == 0)
                    << 2 |
                (strlen(n) == 80 && strspn(n, "X") == 80) << 3;
    }
    assert_int_equal(seen, 15);
    config_free(&cfg);
    unlink(path);
    /* 81 characters by --handle: no queue name. */
    h80[80] = 'X';
    snprintf(h80 + 81, sizeof h80 - 81, "=exec:/bin/true");
    assert_int_equal(config_load(&cfg, NULL, ov, 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "bad queue name"));
}

static void
expect_error(const char *text, const char *want)
{
    const char *path = write_file(text);
    char err[512], full[600];
    const char *pct = strstr(want, "%s");
    worker_cfg cfg;

    assert_int_equal(config_load(&cfg, path, NULL, 0, err, sizeof err), -1);
    /* want may hold one %s for the path */
    if (pct != NULL)
        snprintf(full, sizeof full, "%.*s%s%s", (int)(pct - want), want, path,
                 pct + 2);
    else
        snprintf(full, sizeof full, "%s", want);
    if (strstr(err, full) == NULL)
        fail_msg("error \"%s\" does not contain \"%s\"", err, full);
    unlink(path);
}

static void
test_config_errors(void **state)
{
    worker_cfg cfg;
    char err[512];
    cfg_override bad[] = {{"timeout", "soon", "--timeout"}};

    (void)state;
    expect_error("[worker]\nschema = txq\npoll_intervall = 1\n",
                 "%s:3: [worker]: unknown key \"poll_intervall\"");
    expect_error("[worker]\n\n\nconcurrency = many\n",
                 "%s:4: [worker] concurrency: must be a whole number");
    expect_error("[queue.Bad.Name]\nhandler = exec:true\n",
                 "%s:2: [queue.Bad.Name]: bad queue name");
    /* libinih cuts a section name to 49 characters: one that long may
     * have been longer, so it names no queue. 42 is the most a name has
     * in a section (48 in all) and is taken. */
    expect_error(
        "[queue.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN-PQ-and-more]\n"
        "handler = exec:true\n",
        "is cut short by libinih");
    expect_error("[queue.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN-PQ]\nhandler "
                 "= exec:true\n",
                 "is cut short by libinih");
    expect_error("[queue.q]\nhandler = sql:x;drop\n",
                 "%s:2: [queue.q] handler: sql handler");
    expect_error("[pool]\nx = 1\n", "%s:2: unknown section [pool]");
    expect_error("[worker]\nthis line has no equals sign\n", "%s:2:");
    /* Garbage (not an ini file at all) is refused at its first line. */
    expect_error("\x7f\x45LF\x02\x01\x01\xff\xfe garbage\n", "%s:1:");
    expect_error("[worker]\nschema = 9lives\n",
                 "%s:2: [worker] schema: must match");
    expect_error("[queue.q]\nconcurrency = 2\n", "[queue.q]: handler is "
                                                 "missing");
    assert_int_equal(
        config_load(&cfg, "/nonexistent/txq.ini", NULL, 0, err, sizeof err),
        -1);
    assert_non_null(strstr(err, "/nonexistent/txq.ini: cannot open"));
    setenv("TXQ_DRAIN_TIMEOUT", "-3", 1);
    assert_int_equal(config_load(&cfg, NULL, NULL, 0, err, sizeof err), -1);
    unsetenv("TXQ_DRAIN_TIMEOUT");
    assert_non_null(strstr(err, "environment TXQ_DRAIN_TIMEOUT"));
    assert_int_equal(config_load(&cfg, NULL, bad, 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "--timeout: timeout: must be seconds"));
    assert_int_equal(config_load(&cfg, NULL, NULL, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "no queue to consume"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exec_exit_codes),
        cmocka_unit_test(test_sql_states),
        cmocka_unit_test(test_backoff_and_alert_rate),
        cmocka_unit_test(test_split_args),
        cmocka_unit_test(test_handler_specs),
        cmocka_unit_test(test_config_precedence),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_config_queue_names),
    };

    return cmocka_run_group_tests_name("worker_policy", tests, NULL, NULL);
}
