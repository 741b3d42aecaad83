/*
 * test_cli.c - the `txq` command-line tool, run as a program: queue
 * create/list/alter/drop, send from an argument and from stdin (binary
 * bodies come back as body_base64), recv's JSON lines with and without
 * --ack, stats --json, the dead-letter round trip (list, show, requeue,
 * discard), and bad input (exit codes 1 and 2 with one line on stderr).
 *
 * Runs $TXQ_BUILD_DIR/txq with fork/execv (no shell), TXQ_SCHEMA set to the
 * test's schema and --db from TXQ_TEST_DSN. JSON output is parsed by the
 * server (jsonb). Needs TXQ_TEST_DSN and TXQ_BUILD_DIR (ctest sets both).
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

#include "tt.h"

/* What a run of the tool gave. */
typedef struct run {
    int code;  /* exit status, or 128 + signal */
    char *out; /* stdout, NUL-terminated */
    size_t outlen;
    char *err; /* stderr, NUL-terminated */
} run;

static void
run_free(run *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

static char *
slurp(FILE *fp, size_t *len)
{
    long size;
    char *buf;

    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    size = ftell(fp);
    assert_true(size >= 0);
    rewind(fp);
    buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, fp), (size_t)size);
    buf[size] = '\0';
    if (len != NULL)
        *len = (size_t)size;
    fclose(fp);
    return buf;
}

/* Run txq --db DSN args... with TXQ_SCHEMA = f->schema and stdin from
 * in[0..inlen) (empty when in is NULL). */
static void
txq_run(tt_fixture *f,
        run *r,
        const void *in,
        size_t inlen,
        const char *const *args)
{
    const char *dir = getenv("TXQ_BUILD_DIR");
    char path[4096];
    char **argv;
    size_t n = 0;
    FILE *fin = tmpfile(), *fout = tmpfile(), *ferr = tmpfile();
    pid_t pid;
    int status;

    if (dir == NULL || dir[0] == '\0')
        fail_msg("TXQ_BUILD_DIR is not set (ctest sets it)");
    snprintf(path, sizeof path, "%s/txq", dir);
    assert_true(fin != NULL && fout != NULL && ferr != NULL);
    if (inlen > 0)
        assert_int_equal(fwrite(in, 1, inlen, fin), inlen);
    assert_int_equal(fflush(fin), 0);
    rewind(fin);

    while (args[n] != NULL)
        n++;
    argv = calloc(n + 4, sizeof *argv);
    assert_non_null(argv);
    argv[0] = strdup(path);
    argv[1] = strdup("--db");
    argv[2] = strdup(tt_dsn());
    for (size_t i = 0; i < n; i++)
        argv[i + 3] = strdup(args[i]);
    for (size_t i = 0; i < n + 3; i++)
        assert_non_null(argv[i]);

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (dup2(fileno(fin), 0) < 0 || dup2(fileno(fout), 1) < 0 ||
            dup2(fileno(ferr), 2) < 0 || setenv("TXQ_SCHEMA", f->schema, 1))
            _exit(126);
        execv(path, argv);
        _exit(127);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    for (size_t i = 0; i < n + 3; i++)
        free(argv[i]);
    free(argv);
    fclose(fin);
    r->code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r->out = slurp(fout, &r->outlen);
    r->err = slurp(ferr, NULL);
}

#define RUN(f, r, ...) \
    txq_run(f, r, NULL, 0, (const char *[]){__VA_ARGS__, NULL})
#define RUN_IN(f, r, in, inlen, ...) \
    txq_run(f, r, in, inlen, (const char *[]){__VA_ARGS__, NULL})

/* Exit 0 and nothing on stderr. */
static void
assert_ok(const run *r)
{
    if (r->code != 0 || r->err[0] != '\0')
        fail_msg("txq exited %d: %s", r->code, r->err);
}

/* Exit code want with exactly one line "txq: ..." on stderr that contains
 * needle. */
static void
assert_error(const run *r, int want, const char *needle)
{
    const char *nl = strchr(r->err, '\n');

    if (r->code != want)
        fail_msg("want exit %d, got %d (stderr: %s)", want, r->code, r->err);
    if (strncmp(r->err, "txq: ", 5) != 0 || nl == NULL || nl[1] != '\0')
        fail_msg("stderr is not one \"txq: \" line: [%s]", r->err);
    if (strstr(r->err, needle) == NULL)
        fail_msg("stderr does not mention \"%s\": %s", needle, r->err);
}

/* Number of lines in s. */
static int
lines(const char *s)
{
    int n = 0;

    for (; *s != '\0'; s++)
        n += *s == '\n';
    return n;
}

/* The n-th line (0-based) of s copied into buf. */
static char *
line(const char *s, int n, char *buf, size_t size)
{
    const char *end;

    while (n-- > 0) {
        s = strchr(s, '\n');
        assert_non_null(s);
        s++;
    }
    end = strchr(s, '\n');
    assert_non_null(end);
    assert_true((size_t)(end - s) < size);
    memcpy(buf, s, (size_t)(end - s));
    buf[end - s] = '\0';
    return buf;
}

/* (json)->>key as text, parsed by the server; "" for null. Also checks
 * that json is a JSON object. */
static char *
json_get(
    tt_fixture *f, const char *json, const char *key, char *buf, size_t size)
{
    const char *params[2] = {json, key};
    PGresult *res = PQexecParams(
        f->pg, "select coalesce($1::jsonb ->> $2, ''), jsonb_typeof($1::jsonb)",
        2, NULL, params, NULL, NULL, 0);

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        char msg[512];

        snprintf(msg, sizeof msg, "not JSON: %s (%s)", json,
                 PQerrorMessage(f->pg));
        PQclear(res);
        fail_msg("%s", msg);
    }
    assert_string_equal(PQgetvalue(res, 0, 1), "object");
    snprintf(buf, size, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return buf;
}

static void
test_queue_commands(void **state)
{
    tt_fixture *f = *state;
    char buf[1024], v[64];
    run r;

    RUN(f, &r, "queue", "create", "jobs", "--max-attempts", "3",
        "--visibility-timeout", "7.5", "--on-exhausted", "ignore",
        "--backoff-base", "0");
    assert_ok(&r);
    run_free(&r);
    RUN(f, &r, "queue", "create", "--fifo", "orders", "--dedup-window", "60");
    assert_ok(&r);
    run_free(&r);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues where "
                                      "name = 'jobs' and max_attempts = 3 "
                                      "and visibility_timeout = '7.5 s' and "
                                      "on_exhausted = 'ignore' and "
                                      "backoff_base = '0'"),
                     1);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues where "
                                      "name = 'orders' and kind = 'fifo'"),
                     1);

    RUN(f, &r, "queue", "list");
    assert_ok(&r);
    assert_int_equal(lines(r.out), 3); /* header + 2 */
    assert_non_null(strstr(r.out, "jobs"));
    assert_non_null(strstr(r.out, "fifo"));
    run_free(&r);

    RUN(f, &r, "queue", "alter", "jobs", "--max-attempts", "9",
        "--expire-after", "60");
    assert_ok(&r);
    run_free(&r);
    RUN(f, &r, "queue", "list", "--json");
    assert_ok(&r);
    assert_int_equal(lines(r.out), 2);
    json_get(f, line(r.out, 0, buf, sizeof buf), "name", v, sizeof v);
    assert_string_equal(v, "jobs");
    assert_string_equal(json_get(f, buf, "max_attempts", v, sizeof v), "9");
    assert_string_equal(json_get(f, buf, "expire_after", v, sizeof v), "60");
    assert_string_equal(json_get(f, buf, "visibility_timeout", v, sizeof v),
                        "7.5");
    run_free(&r);
    RUN(f, &r, "queue", "alter", "jobs", "--expire-after", "off");
    assert_ok(&r);
    run_free(&r);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues where "
                                      "name = 'jobs' and expire_after is null "
                                      "and max_attempts = 9"),
                     1);

    /* Duplicate, unknown, and a server-side bad setting: runtime errors. */
    RUN(f, &r, "queue", "create", "jobs");
    assert_error(&r, 1, "jobs");
    run_free(&r);
    RUN(f, &r, "queue", "alter", "nosuch", "--max-attempts", "2");
    assert_error(&r, 1, "nosuch");
    run_free(&r);
    RUN(f, &r, "queue", "alter", "jobs", "--max-attempts", "5000");
    assert_error(&r, 1, "max_attempts");
    run_free(&r);

    /* A queue holding a message is dropped only with --force. */
    tt_send(f, f->pg, "jobs", "x");
    RUN(f, &r, "queue", "drop", "jobs");
    assert_error(&r, 1, "jobs");
    run_free(&r);
    RUN(f, &r, "queue", "drop", "jobs", "--force");
    assert_ok(&r);
    run_free(&r);
    RUN(f, &r, "queue", "drop", "orders");
    assert_ok(&r);
    run_free(&r);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues"), 0);
    assert_int_equal(tt_depth(f), 0);
}

static void
test_send_and_recv(void **state)
{
    tt_fixture *f = *state;
    static const char bin[] = {'a', '\0', 'b', '\xff', '\0', '\n'};
    char buf[2048], v[256], hex[64];
    long long id_text, id_bin;
    run r;

    tt_queue(f, "jobs", NULL);
    RUN(f, &r, "send", "jobs", "héllo \"x\"", "--header", "k=1", "--header",
        "q=\"a\\b\tc", "--header", "k=2", "--correlation-id", "c-1",
        "--reply-to", "replies", "--priority", "5");
    assert_ok(&r);
    id_text = atoll(r.out);
    assert_true(id_text > 0);
    run_free(&r);
    assert_true(tt_json_eq(f->pg,
                           tt_text(f->pg, buf, sizeof buf,
                                   "select headers from messages where "
                                   "id = %lld",
                                   id_text),
                           "{\"k\": \"2\", \"q\": \"\\\"a\\\\b\\tc\"}"));

    RUN_IN(f, &r, bin, sizeof bin, "send", "jobs");
    assert_ok(&r);
    id_bin = atoll(r.out);
    assert_true(id_bin > id_text);
    run_free(&r);
    RUN_IN(f, &r, "from stdin", 10, "send", "jobs", "-");
    assert_ok(&r);
    run_free(&r);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from messages where "
                                      "body = 'from stdin'::bytea"),
                     1);

    RUN(f, &r, "recv", "jobs", "--max", "10");
    assert_ok(&r);
    assert_int_equal(lines(r.out), 3);
    /* Priority 5 comes first. */
    line(r.out, 0, buf, sizeof buf);
    assert_int_equal(atoll(json_get(f, buf, "id", v, sizeof v)), id_text);
    assert_string_equal(json_get(f, buf, "body", v, sizeof v), "héllo \"x\"");
    assert_string_equal(json_get(f, buf, "queue", v, sizeof v), "jobs");
    assert_string_equal(json_get(f, buf, "attempts", v, sizeof v), "1");
    assert_string_equal(json_get(f, buf, "correlation_id", v, sizeof v), "c-1");
    assert_string_equal(json_get(f, buf, "reply_to", v, sizeof v), "replies");
    assert_string_equal(json_get(f, buf, "headers", v, sizeof v),
                        "{\"k\": \"2\", \"q\": \"\\\"a\\\\b\\tc\"}");
    /* The binary body: base64 of exactly the bytes sent. */
    line(r.out, 1, buf, sizeof buf);
    assert_int_equal(atoll(json_get(f, buf, "id", v, sizeof v)), id_bin);
    assert_string_equal(json_get(f, buf, "body", v, sizeof v), "");
    json_get(f, buf, "body_base64", v, sizeof v);
    assert_string_equal(tt_text(f->pg, hex, sizeof hex,
                                "select encode(decode('%s', "
                                "'base64'), 'hex')",
                                v),
                        "610062ff000a");
    run_free(&r);
}

static void
test_recv_ack_and_invisible(void **state)
{
    tt_fixture *f = *state;
    char buf[1024], v[64];
    run r;

    tt_queue(f, "jobs", NULL);
    tt_send(f, f->pg, "jobs", "one");

    /* Without --ack: claimed (committed), invisible, still there. */
    RUN(f, &r, "recv", "jobs");
    assert_ok(&r);
    assert_int_equal(lines(r.out), 1);
    assert_string_equal(
        json_get(f, line(r.out, 0, buf, sizeof buf), "body", v, sizeof v),
        "one");
    run_free(&r);
    assert_int_equal(tt_depth(f), 1);
    assert_int_equal(tt_scalar(f->pg, "select attempts from messages"), 1);
    assert_int_equal(
        tt_scalar(f->pg, "select (visible_at > now())::int from messages"), 1);
    RUN(f, &r, "recv", "jobs", "--max", "5");
    assert_ok(&r);
    assert_int_equal(r.outlen, 0); /* nothing ready: no output, exit 0 */
    run_free(&r);

    /* With --ack: printed, then gone. */
    tt_send(f, f->pg, "jobs", "two");
    RUN(f, &r, "recv", "jobs", "--ack", "--max", "5");
    assert_ok(&r);
    assert_int_equal(lines(r.out), 1);
    assert_string_equal(
        json_get(f, line(r.out, 0, buf, sizeof buf), "body", v, sizeof v),
        "two");
    run_free(&r);
    assert_int_equal(tt_depth(f), 1);
    assert_int_equal(tt_scalar(f->pg, "select acked from queue_stats"), 1);
}

static void
test_stats(void **state)
{
    tt_fixture *f = *state;
    char buf[1024], v[64];
    run r;

    tt_queue(f, "alpha", NULL);
    tt_queue(f, "beta", NULL);
    tt_send(f, f->pg, "beta", "1");
    tt_send(f, f->pg, "beta", "2");

    RUN(f, &r, "stats", "--json");
    assert_ok(&r);
    assert_int_equal(lines(r.out), 2);
    line(r.out, 1, buf, sizeof buf);
    assert_string_equal(json_get(f, buf, "queue", v, sizeof v), "beta");
    assert_string_equal(json_get(f, buf, "depth", v, sizeof v), "2");
    assert_string_equal(json_get(f, buf, "ready", v, sizeof v), "2");
    assert_string_equal(json_get(f, buf, "dead", v, sizeof v), "0");
    run_free(&r);

    RUN(f, &r, "stats");
    assert_ok(&r);
    assert_int_equal(lines(r.out), 3);
    assert_non_null(strstr(r.out, "in_flight"));
    assert_non_null(strstr(r.out, "alpha"));
    run_free(&r);
}

static void
test_dead_letters(void **state)
{
    tt_fixture *f = *state;
    char buf[2048], v[256], ids[32];
    long long a, b;
    run r;

    tt_queue(f, "jobs", NULL);
    a = tt_send(f, f->pg, "jobs", "first");
    b = tt_send(f, f->pg, "jobs", "second");
    tt_exec(f->pg, "select fail(id, 'boom ' || id, i_permanent => true) "
                   "from receive('jobs', 10)");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from dead_letters"), 2);

    RUN(f, &r, "dead", "list");
    assert_ok(&r);
    assert_int_equal(lines(r.out), 3);
    assert_non_null(strstr(r.out, "boom"));
    run_free(&r);
    RUN(f, &r, "dead", "list", "jobs", "--json", "--limit", "1");
    assert_ok(&r);
    assert_int_equal(lines(r.out), 1);
    line(r.out, 0, buf, sizeof buf);
    assert_int_equal(atoll(json_get(f, buf, "id", v, sizeof v)), a);
    assert_string_equal(json_get(f, buf, "reason", v, sizeof v), "permanent");
    run_free(&r);

    snprintf(ids, sizeof ids, "%lld", a);
    RUN(f, &r, "dead", "show", ids);
    assert_ok(&r);
    assert_non_null(strstr(r.out, "errors:"));
    assert_non_null(strstr(r.out, "boom"));
    assert_non_null(strstr(r.out, "first"));
    run_free(&r);
    RUN(f, &r, "dead", "show", ids, "--json");
    assert_ok(&r);
    line(r.out, 0, buf, sizeof buf);
    assert_string_equal(json_get(f, buf, "body", v, sizeof v), "first");
    assert_non_null(strstr(json_get(f, buf, "errors", v, sizeof v), "boom"));
    run_free(&r);

    RUN(f, &r, "dead", "requeue", ids);
    assert_ok(&r);
    run_free(&r);
    assert_int_equal(
        tt_scalar(f->pg, "select count(*) from messages where id = %lld", a),
        1);
    RUN(f, &r, "dead", "requeue", ids);
    assert_error(&r, 1, ids);
    run_free(&r);

    snprintf(ids, sizeof ids, "%lld", b);
    RUN(f, &r, "dead", "discard", ids);
    assert_error(&r, 2, "--reason");
    run_free(&r);
    RUN(f, &r, "dead", "discard", ids, "--reason", "test; drop table x");
    assert_ok(&r);
    run_free(&r);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from dead_letters"), 0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from audit_log where "
                                      "action = 'discard' and detail = "
                                      "'test; drop table x'"),
                     1);

    /* requeue --all */
    tt_exec(f->pg, "select fail(id, 'again', i_permanent => true) "
                   "from receive('jobs', 10)");
    RUN(f, &r, "dead", "requeue", "--all", "jobs");
    assert_ok(&r);
    assert_non_null(strstr(r.out, "requeued 1 "));
    run_free(&r);
    assert_int_equal(tt_depth(f), 1);
}

static void
test_bad_input(void **state)
{
    tt_fixture *f = *state;
    run r;

    tt_queue(f, "jobs", NULL);
    RUN(f, &r, "send", "nosuch", "x");
    assert_error(&r, 1, "nosuch");
    run_free(&r);
    RUN(f, &r, "recv", "nosuch");
    assert_error(&r, 1, "nosuch");
    run_free(&r);
    RUN(f, &r, "queue", "create", "q", "--max-attempts", "3x");
    assert_error(&r, 2, "--max-attempts");
    run_free(&r);
    RUN(f, &r, "send", "jobs", "x", "--delay", "-1");
    assert_error(&r, 2, "--delay");
    run_free(&r);
    RUN(f, &r, "recv", "jobs", "--max", "0");
    assert_error(&r, 2, "--max");
    run_free(&r);
    RUN(f, &r, "queue", "create", "Bad-Name");
    assert_error(&r, 2, "Bad-Name");
    run_free(&r);
    RUN(f, &r, "send", "x'; drop table queues; --", "body");
    assert_error(&r, 2, "invalid queue name");
    run_free(&r);
    RUN(f, &r, "send", "jobs", "x", "--header", "novalue");
    assert_error(&r, 2, "--header");
    run_free(&r);
    RUN(f, &r, "dead", "discard", "1");
    assert_error(&r, 2, "--reason");
    run_free(&r);
    RUN(f, &r, "dead", "show", "12abc");
    assert_error(&r, 2, "ID");
    run_free(&r);
    RUN(f, &r, "frobnicate");
    assert_error(&r, 2, "frobnicate");
    run_free(&r);
    RUN(f, &r, "queue", "create", "q", "--no-such-flag");
    assert_error(&r, 2, "--no-such-flag");
    run_free(&r);
    RUN(f, &r, "--schema", "bad;schema", "stats");
    assert_error(&r, 2, "schema");
    run_free(&r);
    RUN(f, &r, "--schema", "txq_no_such_schema_here", "stats");
    assert_error(&r, 1, "txq_no_such_schema_here");
    run_free(&r);
    /* Nothing above changed anything. */
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues"), 1);
    assert_int_equal(tt_depth(f), 0);
}

static void
test_help_and_version(void **state)
{
    tt_fixture *f = *state;
    run r;

    RUN(f, &r, "--help");
    assert_ok(&r);
    assert_non_null(strstr(r.out, "usage: txq"));
    run_free(&r);
    RUN(f, &r, "dead", "--help");
    assert_ok(&r);
    assert_non_null(strstr(r.out, "txq dead discard"));
    run_free(&r);
    RUN(f, &r, "send", "--help");
    assert_ok(&r);
    assert_non_null(strstr(r.out, "--header"));
    run_free(&r);
    RUN(f, &r, "--version");
    assert_ok(&r);
    assert_non_null(strstr(r.out, txq_version()));
    run_free(&r);
    RUN(f, &r, "migrate");
    assert_ok(&r);
    assert_non_null(strstr(r.out, "(applied 0)"));
    assert_non_null(strstr(r.out, f->schema));
    run_free(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_queue_commands, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_send_and_recv, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_recv_ack_and_invisible, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_stats, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_dead_letters, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_help_and_version, tt_setup,
                                        tt_teardown),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
