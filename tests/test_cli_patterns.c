/*
 * test_cli_patterns.c - the messaging patterns through the `txq` tool:
 * topic create/subscribe/unsubscribe/route/unroute/list/drop, publish
 * (fanout with filters, no match, routing with a default, no route),
 * request (a reply from a responder process, a timeout, reply queues made
 * and dropped), queue create/alter --delay, and bad input (exit 2 for
 * usage, 1 for runtime errors, one line on stderr).
 *
 * Runs $TXQ_BUILD_DIR/txq as test_cli.c does. Needs TXQ_TEST_DSN and
 * TXQ_BUILD_DIR (ctest sets both).
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

/* Queue holding message id (its decimal text, as printed). */
static char *
queue_of(tt_fixture *f, const char *id, char *buf, size_t size)
{
    return tt_text(f->pg, buf, size,
                   "select q.name from messages m join queues q "
                   "using (queue_id) where m.id = %s",
                   id);
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

static int
setup_cli(void **state)
{
    tt_fixture *f;

    tt_setup(state);
    f = *state;
    tt_queue(f, "qa", NULL);
    tt_queue(f, "qb", NULL);
    tt_queue(f, "qc", NULL);
    tt_queue(f, "svc", NULL);
    return 0;
}

static void
test_topics_and_publish(void **state)
{
    tt_fixture *f = *state;
    run r;
    char buf[1024], q[64];

    RUN(f, &r, "topic", "create", "ev");
    assert_ok(&r);
    assert_string_equal(r.out, "topic ev created (fanout)\n");
    run_free(&r);
    RUN(f, &r, "topic", "subscribe", "ev", "qa");
    assert_ok(&r);
    assert_string_equal(r.out, "queue qa subscribed to topic ev\n");
    run_free(&r);
    RUN(f, &r, "topic", "subscribe", "ev", "qb", "--filter",
        "{\"type\":\"x\"}");
    assert_ok(&r);
    run_free(&r);

    /* Fanout: one id per copy, by queue name. */
    RUN(f, &r, "publish", "ev", "hello", "--header", "type=x", "--priority",
        "3");
    assert_ok(&r);
    assert_int_equal(lines(r.out), 2);
    assert_string_equal(
        queue_of(f, line(r.out, 0, buf, sizeof buf), q, sizeof q), "qa");
    assert_string_equal(
        queue_of(f, line(r.out, 1, buf, sizeof buf), q, sizeof q), "qb");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from messages where "
                                      "body = 'hello' and priority = 3 and "
                                      "headers = '{\"type\": \"x\"}'"),
                     2);
    run_free(&r);
    /* The body from stdin, any bytes. */
    RUN_IN(f, &r, "bin\0ary", 7, "publish", "ev", "-", "--header", "type=y");
    assert_ok(&r);
    assert_int_equal(lines(r.out), 1);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from messages where "
                                      "body = '\\x62696e00617279'"),
                     1);
    run_free(&r);

    /* No match: nothing printed, a note, exit 0, counted. */
    RUN(f, &r, "topic", "create", "quiet");
    run_free(&r);
    RUN(f, &r, "topic", "subscribe", "quiet", "qa", "--filter", "{\"a\":1}");
    run_free(&r);
    RUN(f, &r, "publish", "quiet", "x");
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out, "");
    assert_non_null(strstr(r.err, "no subscription of topic \"quiet\""));
    run_free(&r);
    assert_int_equal(tt_scalar(f->pg, "select unmatched from topics where "
                                      "name = 'quiet'"),
                     1);

    /* Routing with a default queue. */
    RUN(f, &r, "topic", "create", "rt", "--route", "--default-queue", "qc");
    assert_ok(&r);
    assert_string_equal(r.out, "topic rt created (route)\n");
    run_free(&r);
    RUN(f, &r, "topic", "route", "rt", "--filter", "{\"k\":\"1\"}", "qa",
        "--position", "5");
    assert_ok(&r);
    assert_string_equal(r.out, "route 5 of topic rt: {\"k\":\"1\"} -> qa\n");
    run_free(&r);
    RUN(f, &r, "topic", "route", "rt", "qb", "--filter", "{\"k\":\"2\"}");
    assert_ok(&r);
    assert_string_equal(r.out, "route 15 of topic rt: {\"k\":\"2\"} -> qb\n");
    run_free(&r);
    RUN(f, &r, "publish", "rt", "one", "--header", "k=1");
    assert_ok(&r);
    assert_string_equal(
        queue_of(f, line(r.out, 0, buf, sizeof buf), q, sizeof q), "qa");
    run_free(&r);
    RUN(f, &r, "publish", "rt", "three", "--header", "k=3");
    assert_ok(&r);
    assert_string_equal(
        queue_of(f, line(r.out, 0, buf, sizeof buf), q, sizeof q), "qc");
    run_free(&r);

    /* list, as a table and as JSON lines. */
    RUN(f, &r, "topic", "list");
    assert_ok(&r);
    assert_int_equal(lines(r.out), 4);
    assert_non_null(strstr(r.out, "5: {\"k\": \"1\"} -> qa"));
    assert_non_null(strstr(r.out, "qb {\"type\": \"x\"}"));
    run_free(&r);
    RUN(f, &r, "topic", "list", "--json");
    assert_ok(&r);
    assert_int_equal(lines(r.out), 3);
    assert_int_equal(tt_scalar(f->pg,
                               "select jsonb_array_length(($$%s$$::jsonb) "
                               "-> 'routes')",
                               line(r.out, 2, buf, sizeof buf)),
                     2);
    run_free(&r);

    /* unsubscribe, unroute, drop. */
    RUN(f, &r, "topic", "unsubscribe", "ev", "qb");
    assert_ok(&r);
    run_free(&r);
    RUN(f, &r, "topic", "unroute", "rt", "5");
    assert_ok(&r);
    run_free(&r);
    RUN(f, &r, "topic", "unroute", "rt", "5");
    assert_error(&r, 1, "topic \"rt\" has no route at position 5");
    run_free(&r);
    RUN(f, &r, "topic", "drop", "ev");
    assert_ok(&r);
    assert_string_equal(r.out, "topic ev dropped\n");
    run_free(&r);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from subscriptions s "
                                      "join topics t using (topic_id) where "
                                      "t.name = 'ev'"),
                     0);

    /* No route and no default: exit 1, nothing written. */
    RUN(f, &r, "topic", "create", "strict", "--route");
    run_free(&r);
    {
        long long before = tt_depth(f);

        RUN(f, &r, "publish", "strict", "x");
        assert_error(&r, 1, "no route of topic \"strict\"");
        assert_string_equal(r.out, "");
        run_free(&r);
        assert_int_equal(tt_depth(f), before);
    }
}

static void
test_queue_delay(void **state)
{
    tt_fixture *f = *state;
    run r;

    RUN(f, &r, "queue", "create", "slow", "--delay", "30");
    assert_ok(&r);
    run_free(&r);
    assert_int_equal(tt_scalar(f->pg, "select extract(epoch from delay) from "
                                      "queues where name = 'slow'"),
                     30);
    RUN(f, &r, "send", "slow", "x");
    assert_ok(&r);
    run_free(&r);
    assert_int_equal(tt_scalar(f->pg, "select delayed from queue_stats where "
                                      "queue = 'slow'"),
                     1);
    RUN(f, &r, "queue", "alter", "slow", "--delay", "0");
    assert_ok(&r);
    run_free(&r);
    assert_int_equal(tt_scalar(f->pg, "select extract(epoch from delay) from "
                                      "queues where name = 'slow'"),
                     0);
    RUN(f, &r, "queue", "list", "--json");
    assert_ok(&r);
    assert_non_null(strstr(r.out, "\"delay\":0"));
    run_free(&r);
    RUN(f, &r, "queue", "create", "bad", "--delay", "-1");
    assert_error(&r, 2, "--delay");
    run_free(&r);
    RUN(f, &r, "queue", "create", "bad", "--delay", "40000000");
    assert_error(&r, 1, "delay must be between");
    run_free(&r);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues where "
                                      "name = 'bad'"),
                     0);
}

/* Answers n requests of svc with "re:" + body, in the ack transaction. */
static int
respond(void *arg)
{
    tt_fixture *f = arg;
    PGconn *pg = tt_child_connect(f->schema);
    txq_client *c = txq_client_new(&(txq_options){.schema = f->schema});
    double until = tt_now() + 30;
    int rc = 1;

    if (pg == NULL || c == NULL)
        goto out;
    while (tt_now() < until) {
        txq_msg **m = NULL;
        size_t n = 0, len;
        char out[128];
        const char *body;
        int k;

        if (txq_claim(c, pg, "svc", 1, &(txq_recv_opts){.wait = 1}, &m, &n) !=
            TXQ_OK)
            continue;
        body = txq_msg_body(m[0], &len);
        k = snprintf(out, sizeof out, "re:%.*s", (int)len, body);
        PQclear(PQexec(pg, "begin"));
        if (txq_reply(c, pg, m[0], out, (size_t)k, NULL, NULL) != TXQ_OK ||
            txq_ack(c, pg, m[0]) != TXQ_OK) {
            fprintf(stderr, "responder: %s\n", txq_errmsg(c));
            txq_msgs_free(m, n);
            goto out;
        }
        PQclear(PQexec(pg, "commit"));
        txq_msgs_free(m, n);
        rc = 0;
        break;
    }
out:
    txq_client_free(c);
    PQfinish(pg);
    return rc;
}

static void
test_request(void **state)
{
    tt_fixture *f = *state;
    run r;
    int pid;

    /* A per-process reply queue, created and dropped. */
    pid = tt_fork(respond, f);
    RUN(f, &r, "request", "svc", "ping", "--timeout", "20");
    assert_ok(&r);
    assert_string_equal(r.out, "re:ping");
    run_free(&r);
    assert_int_equal(tt_wait(pid), 0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues where "
                                      "name like 'reply\\_%%'"),
                     0);

    /* A named reply queue that exists is used and kept; headers pass. */
    tt_queue(f, "mine", NULL);
    pid = tt_fork(respond, f);
    RUN(f, &r, "request", "svc", "pong", "--reply-queue", "mine", "--header",
        "op=echo", "--timeout", "20");
    assert_ok(&r);
    assert_string_equal(r.out, "re:pong");
    run_free(&r);
    assert_int_equal(tt_wait(pid), 0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues where "
                                      "name = 'mine'"),
                     1);

    /* Nobody answers: exit 1 with a clear message, the queue is gone. */
    RUN(f, &r, "request", "svc", "anyone?", "--timeout", "0.3");
    assert_error(&r, 1, "no reply within 0.3 seconds");
    assert_string_equal(r.out, "");
    run_free(&r);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues where "
                                      "name like 'reply\\_%%'"),
                     0);
    /* The unanswered request is still there for a handler to take. */
    assert_int_equal(tt_scalar(f->pg, "select count(*) from messages m join "
                                      "queues q using (queue_id) where "
                                      "q.name = 'svc' and reply_to is not "
                                      "null"),
                     1);
}

static void
test_bad_input(void **state)
{
    tt_fixture *f = *state;
    run r;

    RUN(f, &r, "topic", "create", "ok");
    run_free(&r);
    RUN(f, &r, "topic", "create", "rt", "--route");
    run_free(&r);

    RUN(f, &r, "topic", "create", "Bad");
    assert_error(&r, 2, "invalid topic name \"Bad\"");
    run_free(&r);
    RUN(f, &r, "topic", "create", "x", "--default-queue", "qa");
    assert_error(&r, 2, "--default-queue needs --route");
    run_free(&r);
    RUN(f, &r, "topic", "create", "ok");
    assert_error(&r, 1, "topic \"ok\" already exists");
    run_free(&r);
    RUN(f, &r, "topic", "subscribe", "ok", "nope");
    assert_error(&r, 1, "unknown queue \"nope\"");
    run_free(&r);
    RUN(f, &r, "topic", "subscribe", "nope", "qa");
    assert_error(&r, 1, "unknown topic \"nope\"");
    run_free(&r);
    RUN(f, &r, "topic", "subscribe", "ok", "qa", "--filter", "[1]");
    assert_error(&r, 1, "filter must be a JSON object (got array)");
    run_free(&r);
    RUN(f, &r, "topic", "subscribe", "ok", "qa", "--filter", "{bad");
    assert_error(&r, 1, "invalid input syntax for type json");
    run_free(&r);
    RUN(f, &r, "topic", "subscribe", "ok");
    assert_error(&r, 2, "subscribe takes TOPIC QUEUE");
    run_free(&r);
    RUN(f, &r, "topic", "route", "rt", "qa");
    assert_error(&r, 2, "route needs --filter JSON");
    run_free(&r);
    RUN(f, &r, "topic", "route", "rt", "--filter", "{}", "qa", "--position",
        "-1");
    assert_error(&r, 2, "--position: -1 is out of range");
    run_free(&r);
    RUN(f, &r, "topic", "route", "ok", "--filter", "{}", "qa");
    assert_error(&r, 1, "topic \"ok\" is fanout");
    run_free(&r);
    RUN(f, &r, "topic", "subscribe", "ok", "qa", "--position", "3");
    assert_error(&r, 2, "unknown option \"--position\" for subscribe");
    run_free(&r);
    RUN(f, &r, "topic", "drop", "nope");
    assert_error(&r, 1, "unknown topic \"nope\"");
    run_free(&r);
    RUN(f, &r, "topic", "bogus");
    assert_error(&r, 2, "unknown sub-command \"bogus\"");
    run_free(&r);
    RUN(f, &r, "topic");
    assert_error(&r, 2, "missing sub-command");
    run_free(&r);
    RUN(f, &r, "publish", "nope", "x");
    assert_error(&r, 1, "unknown topic \"nope\"");
    run_free(&r);
    RUN(f, &r, "publish", "ok", "x", "--header", "novalue");
    assert_error(&r, 2, "--header: expected KEY=VALUE");
    run_free(&r);
    RUN(f, &r, "publish");
    assert_error(&r, 2, "expected TOPIC [BODY|-]");
    run_free(&r);
    RUN(f, &r, "request");
    assert_error(&r, 2, "expected QUEUE [BODY|-]");
    run_free(&r);
    RUN(f, &r, "request", "svc", "x", "--timeout", "0");
    assert_error(&r, 2, "--timeout: 0 is out of range");
    run_free(&r);
    RUN(f, &r, "request", "svc", "x", "--timeout", "abc");
    assert_error(&r, 2, "--timeout: not a number");
    run_free(&r);
    RUN(f, &r, "request", "svc", "x", "--reply-queue", "Bad");
    assert_error(&r, 2, "invalid queue name \"Bad\"");
    run_free(&r);
    RUN(f, &r, "request", "nope", "x", "--timeout", "1");
    assert_error(&r, 1, "unknown queue \"nope\"");
    run_free(&r);
    /* Nothing changed by any of them. */
    assert_int_equal(tt_scalar(f->pg, "select count(*) from topics"), 2);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from subscriptions"), 0);
    assert_int_equal(tt_depth(f), 0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues"), 4);

    /* Help. */
    RUN(f, &r, "topic", "--help");
    assert_ok(&r);
    assert_non_null(strstr(r.out, "usage: txq topic create"));
    run_free(&r);
    RUN(f, &r, "request", "--help");
    assert_ok(&r);
    assert_non_null(strstr(r.out, "usage: txq request"));
    run_free(&r);
    RUN(f, &r, "publish", "--help");
    assert_ok(&r);
    assert_non_null(strstr(r.out, "usage: txq publish"));
    run_free(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_topics_and_publish, setup_cli,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_queue_delay, setup_cli,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_request, setup_cli, tt_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup_cli, tt_teardown),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("cli_patterns", tests, NULL, NULL);
}
