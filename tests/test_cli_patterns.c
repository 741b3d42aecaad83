/*
 * test_cli_patterns.c - the messaging patterns through the `txq` tool:
 * topic create/subscribe/unsubscribe/route/unroute/list/drop, publish
 * (fanout with filters, no match, routing with a default, no route),
 * request (a reply from a responder process, a timeout, reply queues made
 * and dropped), queue create/alter --delay, and bad input (exit 2 for
 * usage, 1 for runtime errors, one line on stderr).
 *
 * Runs $TXQ_BUILD_DIR/txq through tt_txq (tt.h), as test_cli.c does.
 * Needs TXQ_TEST_DSN and TXQ_BUILD_DIR (ctest sets both).
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

/* Queue holding message id (its decimal text, as printed). */
static char *
queue_of(tt_fixture *f, const char *id, char *buf, size_t size)
{
    return tt_text(f->pg, buf, size,
                   "select q.name from messages m join queues q "
                   "using (queue_id) where m.id = %s",
                   id);
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
    tt_run r;
    char buf[1024], q[64];

    TT_RUN(f, &r, "topic", "create", "ev");
    tt_run_ok(&r);
    assert_string_equal(r.out, "topic ev created (fanout)\n");
    tt_run_free(&r);
    TT_RUN(f, &r, "topic", "subscribe", "ev", "qa");
    tt_run_ok(&r);
    assert_string_equal(r.out, "queue qa subscribed to topic ev\n");
    tt_run_free(&r);
    TT_RUN_OK(f, "topic", "subscribe", "ev", "qb", "--filter",
              "{\"type\":\"x\"}");

    /* Fanout: one id per copy, by queue name. */
    TT_RUN(f, &r, "publish", "ev", "hello", "--header", "type=x", "--priority",
           "3");
    tt_run_ok(&r);
    assert_int_equal(tt_lines(r.out), 2);
    assert_string_equal(
        queue_of(f, tt_line(r.out, 0, buf, sizeof buf), q, sizeof q), "qa");
    assert_string_equal(
        queue_of(f, tt_line(r.out, 1, buf, sizeof buf), q, sizeof q), "qb");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from messages m where "
                                      "coalesce(m.body, (select b.body from "
                                      "bodies b where b.id = m.body_id)) = "
                                      "'hello' and priority = 3 and "
                                      "headers = '{\"type\": \"x\"}'"),
                     2);
    tt_run_free(&r);
    /* The body from stdin, any bytes. */
    TT_RUN_IN(f, &r, "bin\0ary", 7, "publish", "ev", "-", "--header", "type=y");
    tt_run_ok(&r);
    assert_int_equal(tt_lines(r.out), 1);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from messages where "
                                      "body = '\\x62696e00617279'"),
                     1);
    tt_run_free(&r);

    /* No match: nothing printed, a note, exit 0, counted. */
    TT_RUN(f, &r, "topic", "create", "quiet");
    tt_run_free(&r);
    TT_RUN(f, &r, "topic", "subscribe", "quiet", "qa", "--filter", "{\"a\":1}");
    tt_run_free(&r);
    TT_RUN(f, &r, "publish", "quiet", "x");
    assert_int_equal(r.code, 0);
    assert_string_equal(r.out, "");
    assert_non_null(strstr(r.err, "no subscription of topic \"quiet\""));
    tt_run_free(&r);
    assert_int_equal(tt_scalar(f->pg, "select unmatched from topics where "
                                      "name = 'quiet'"),
                     1);

    /* Routing with a default queue. */
    TT_RUN(f, &r, "topic", "create", "rt", "--route", "--default-queue", "qc");
    tt_run_ok(&r);
    assert_string_equal(r.out, "topic rt created (route)\n");
    tt_run_free(&r);
    TT_RUN(f, &r, "topic", "route", "rt", "--filter", "{\"k\":\"1\"}", "qa",
           "--position", "5");
    tt_run_ok(&r);
    assert_string_equal(r.out, "route 5 of topic rt: {\"k\":\"1\"} -> qa\n");
    tt_run_free(&r);
    TT_RUN(f, &r, "topic", "route", "rt", "qb", "--filter", "{\"k\":\"2\"}");
    tt_run_ok(&r);
    assert_string_equal(r.out, "route 15 of topic rt: {\"k\":\"2\"} -> qb\n");
    tt_run_free(&r);
    TT_RUN(f, &r, "publish", "rt", "one", "--header", "k=1");
    tt_run_ok(&r);
    assert_string_equal(
        queue_of(f, tt_line(r.out, 0, buf, sizeof buf), q, sizeof q), "qa");
    tt_run_free(&r);
    TT_RUN(f, &r, "publish", "rt", "three", "--header", "k=3");
    tt_run_ok(&r);
    assert_string_equal(
        queue_of(f, tt_line(r.out, 0, buf, sizeof buf), q, sizeof q), "qc");
    tt_run_free(&r);

    /* list, as a table and as JSON lines. */
    TT_RUN(f, &r, "topic", "list");
    tt_run_ok(&r);
    assert_int_equal(tt_lines(r.out), 4);
    assert_non_null(strstr(r.out, "5: {\"k\": \"1\"} -> qa"));
    assert_non_null(strstr(r.out, "qb {\"type\": \"x\"}"));
    tt_run_free(&r);
    TT_RUN(f, &r, "topic", "list", "--json");
    tt_run_ok(&r);
    assert_int_equal(tt_lines(r.out), 3);
    assert_int_equal(tt_scalar(f->pg,
                               "select jsonb_array_length(($$%s$$::jsonb) "
                               "-> 'routes')",
                               tt_line(r.out, 2, buf, sizeof buf)),
                     2);
    tt_run_free(&r);

    /* unsubscribe, unroute, drop. */
    TT_RUN_OK(f, "topic", "unsubscribe", "ev", "qb");
    TT_RUN_OK(f, "topic", "unroute", "rt", "5");
    TT_RUN_FAILS(f, 1, "topic \"rt\" has no route at position 5", "topic",
                 "unroute", "rt", "5");
    TT_RUN(f, &r, "topic", "drop", "ev");
    tt_run_ok(&r);
    assert_string_equal(r.out, "topic ev dropped\n");
    tt_run_free(&r);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from subscriptions s "
                                      "join topics t using (topic_id) where "
                                      "t.name = 'ev'"),
                     0);

    /* No route and no default: exit 1, nothing written. */
    TT_RUN(f, &r, "topic", "create", "strict", "--route");
    tt_run_free(&r);
    {
        long long before = tt_depth(f);

        TT_RUN(f, &r, "publish", "strict", "x");
        tt_run_error(&r, 1, "no route of topic \"strict\"");
        assert_string_equal(r.out, "");
        tt_run_free(&r);
        assert_int_equal(tt_depth(f), before);
    }
}

static void
test_queue_delay(void **state)
{
    tt_fixture *f = *state;
    tt_run r;

    TT_RUN_OK(f, "queue", "create", "slow", "--delay", "30");
    assert_int_equal(tt_scalar(f->pg, "select extract(epoch from delay) from "
                                      "queues where name = 'slow'"),
                     30);
    TT_RUN_OK(f, "send", "slow", "x");
    assert_int_equal(tt_scalar(f->pg, "select delayed from queue_stats where "
                                      "queue = 'slow'"),
                     1);
    TT_RUN_OK(f, "queue", "alter", "slow", "--delay", "0");
    assert_int_equal(tt_scalar(f->pg, "select extract(epoch from delay) from "
                                      "queues where name = 'slow'"),
                     0);
    TT_RUN(f, &r, "queue", "list", "--json");
    tt_run_ok(&r);
    assert_non_null(strstr(r.out, "\"delay\":0"));
    tt_run_free(&r);
    TT_RUN_FAILS(f, 2, "--delay", "queue", "create", "bad", "--delay", "-1");
    TT_RUN_FAILS(f, 1, "delay must be between", "queue", "create", "bad",
                 "--delay", "40000000");
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
    txq_client *c = txq_client_new(TXQ_OPTIONS(.schema = f->schema));
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

        if (txq_claim(c, pg, "svc", 1, TXQ_RECV_OPTS(.wait = 1), &m, &n) !=
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
    tt_run r;
    int pid;

    /* A per-process reply queue, created and dropped. */
    pid = tt_fork(respond, f);
    TT_RUN(f, &r, "request", "svc", "ping", "--timeout", "20");
    tt_run_ok(&r);
    assert_string_equal(r.out, "re:ping");
    tt_run_free(&r);
    assert_int_equal(tt_wait(pid), 0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues where "
                                      "name like 'reply\\_%%'"),
                     0);

    /* A named reply queue that exists is used and kept; headers pass. */
    tt_queue(f, "mine", NULL);
    pid = tt_fork(respond, f);
    TT_RUN(f, &r, "request", "svc", "pong", "--reply-queue", "mine", "--header",
           "op=echo", "--timeout", "20");
    tt_run_ok(&r);
    assert_string_equal(r.out, "re:pong");
    tt_run_free(&r);
    assert_int_equal(tt_wait(pid), 0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues where "
                                      "name = 'mine'"),
                     1);

    /* Nobody answers: exit 1 with a clear message, the queue is gone. */
    TT_RUN(f, &r, "request", "svc", "anyone?", "--timeout", "0.3");
    tt_run_error(&r, 1, "no reply within 0.3 seconds");
    assert_string_equal(r.out, "");
    tt_run_free(&r);
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
    tt_run r;

    TT_RUN(f, &r, "topic", "create", "ok");
    tt_run_free(&r);
    TT_RUN(f, &r, "topic", "create", "rt", "--route");
    tt_run_free(&r);

    TT_RUN_FAILS(f, 2, "invalid topic name \"Bad\"", "topic", "create", "Bad");
    TT_RUN_FAILS(f, 2, "--default-queue needs --route", "topic", "create", "x",
                 "--default-queue", "qa");
    TT_RUN_FAILS(f, 1, "topic \"ok\" already exists", "topic", "create", "ok");
    TT_RUN_FAILS(f, 1, "unknown queue \"nope\"", "topic", "subscribe", "ok",
                 "nope");
    TT_RUN_FAILS(f, 1, "unknown topic \"nope\"", "topic", "subscribe", "nope",
                 "qa");
    TT_RUN_FAILS(f, 1, "filter must be a JSON object (got array)", "topic",
                 "subscribe", "ok", "qa", "--filter", "[1]");
    TT_RUN_FAILS(f, 1, "invalid input syntax for type json", "topic",
                 "subscribe", "ok", "qa", "--filter", "{bad");
    TT_RUN_FAILS(f, 2, "subscribe takes TOPIC QUEUE", "topic", "subscribe",
                 "ok");
    TT_RUN_FAILS(f, 2, "route needs --filter JSON", "topic", "route", "rt",
                 "qa");
    TT_RUN_FAILS(f, 2, "--position: -1 is out of range", "topic", "route", "rt",
                 "--filter", "{}", "qa", "--position", "-1");
    TT_RUN_FAILS(f, 1, "topic \"ok\" is fanout", "topic", "route", "ok",
                 "--filter", "{}", "qa");
    TT_RUN_FAILS(f, 2, "unknown option \"--position\" for subscribe", "topic",
                 "subscribe", "ok", "qa", "--position", "3");
    TT_RUN_FAILS(f, 1, "unknown topic \"nope\"", "topic", "drop", "nope");
    TT_RUN_FAILS(f, 2, "unknown sub-command \"bogus\"", "topic", "bogus");
    TT_RUN_FAILS(f, 2, "missing sub-command", "topic");
    TT_RUN_FAILS(f, 1, "unknown topic \"nope\"", "publish", "nope", "x");
    TT_RUN_FAILS(f, 2, "--header: expected KEY=VALUE", "publish", "ok", "x",
                 "--header", "novalue");
    TT_RUN_FAILS(f, 2, "expected TOPIC [BODY|-]", "publish");
    TT_RUN_FAILS(f, 2, "expected QUEUE [BODY|-]", "request");
    TT_RUN_FAILS(f, 2, "--timeout: 0 is out of range", "request", "svc", "x",
                 "--timeout", "0");
    TT_RUN_FAILS(f, 2, "--timeout: not a number", "request", "svc", "x",
                 "--timeout", "abc");
    TT_RUN_FAILS(f, 2, "invalid queue name \"B.d\"", "request", "svc", "x",
                 "--reply-queue", "B.d");
    TT_RUN_FAILS(f, 2, "invalid queue name \"R12345678901234567890", "request",
                 "svc", "x", "--reply-queue",
                 "R1234567890123456789012345678901234567890"
                 "12345678901234567890123456789012345678901");
    TT_RUN_FAILS(f, 1, "unknown queue \"nope\"", "request", "nope", "x",
                 "--timeout", "1");
    /* Nothing changed by any of them. */
    assert_int_equal(tt_scalar(f->pg, "select count(*) from topics"), 2);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from subscriptions"), 0);
    assert_int_equal(tt_depth(f), 0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues"), 4);

    /* Help. */
    TT_RUN(f, &r, "topic", "--help");
    tt_run_ok(&r);
    assert_non_null(strstr(r.out, "usage: txq topic create"));
    tt_run_free(&r);
    TT_RUN(f, &r, "request", "--help");
    tt_run_ok(&r);
    assert_non_null(strstr(r.out, "usage: txq request"));
    tt_run_free(&r);
    TT_RUN(f, &r, "publish", "--help");
    tt_run_ok(&r);
    assert_non_null(strstr(r.out, "usage: txq publish"));
    tt_run_free(&r);
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
