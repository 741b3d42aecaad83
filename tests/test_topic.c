/*
 * test_topic.c - publish/subscribe and routing: a publish fans out to every
 * matching subscription inside the publisher's transaction (nothing on
 * rollback), filters are JSON containment on the headers, no match is
 * counted and not an error; a route topic sends each message to exactly
 * one queue (first rule by position, else the default queue, else
 * TXQ_ENOROUTE with nothing written); every call refuses bad input with a
 * clear error and changes nothing.
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

static int
setup_queues(void **state)
{
    tt_fixture *f;

    tt_setup(state);
    f = *state;
    tt_queue(f, "audit", NULL);
    tt_queue(f, "billing", NULL);
    tt_queue(f, "refunds", NULL);
    tt_queue(f, "eu", NULL);
    tt_queue(f, "vip", NULL);
    tt_queue(f, "other", NULL);
    return 0;
}

/* Messages now on queue name. */
static long long
on_queue(tt_fixture *f, const char *name)
{
    return tt_scalar(f->pg,
                     "select count(*) from messages m join queues q "
                     "using (queue_id) where q.name = '%s'",
                     name);
}

/* Queue of message id. */
static const char *
queue_of(tt_fixture *f, int64_t id, char *buf, size_t size)
{
    return tt_text(f->pg, buf, size,
                   "select q.name from messages m join queues q "
                   "using (queue_id) where m.id = %lld",
                   (long long)id);
}

static txq_err
pub(tt_fixture *f,
    const char *topic,
    const char *headers,
    int64_t *ids,
    size_t cap,
    size_t *n)
{
    return txq_publish(f->c, f->pg, topic, "payload", 7,
                       TXQ_SEND_OPTS(.headers_json = headers), ids, cap, n);
}

static void
test_fanout_in_one_transaction(void **state)
{
    tt_fixture *f = *state;
    PGconn *other = tt_connect(f->schema);
    int64_t ids[8] = {0};
    size_t n = 99;
    char q[64];

    assert_txq_ok(f->c, txq_topic_create(f->c, f->pg, "orders.events", NULL));
    assert_txq_ok(f->c,
                  txq_subscribe(f->c, f->pg, "orders.events", "audit", NULL));
    assert_txq_ok(f->c, txq_subscribe(f->c, f->pg, "orders.events", "billing",
                                      "{\"type\": \"order\"}"));
    assert_txq_ok(f->c, txq_subscribe(f->c, f->pg, "orders.events", "refunds",
                                      "{\"type\": \"refund\"}"));

    /* Rolled back: no copy anywhere. */
    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c,
                  pub(f, "orders.events", "{\"type\": \"order\"}", ids, 8, &n));
    assert_int_equal(n, 2);
    assert_int_equal(tt_scalar(other, "select count(*) from messages"), 0);
    tt_exec(f->pg, "rollback");
    assert_int_equal(tt_depth(f), 0);

    /* Committed: a copy in each matching queue, ids by queue name. */
    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c, pub(f, "orders.events",
                            "{\"type\": \"order\", \"n\": 1}", ids, 8, &n));
    assert_int_equal(tt_scalar(other, "select count(*) from messages"), 0);
    tt_exec(f->pg, "commit");
    assert_int_equal(n, 2);
    assert_string_equal(queue_of(f, ids[0], q, sizeof q), "audit");
    assert_string_equal(queue_of(f, ids[1], q, sizeof q), "billing");
    assert_int_equal(tt_scalar(other, "select count(*) from messages"), 2);
    assert_int_equal(on_queue(f, "refunds"), 0);
    /* Each copy is the whole message. */
    assert_int_equal(tt_scalar(f->pg, "select count(*) from messages m where "
                                      "coalesce(m.body, (select b.body from "
                                      "bodies b where b.id = m.body_id)) = "
                                      "'payload' and headers = "
                                      "'{\"type\": \"order\", \"n\": 1}'"),
                     2);

    /* A refund goes to audit and refunds; fewer ids than copies: only
     * cap are written, n says how many there were. */
    ids[1] = -1;
    assert_txq_ok(
        f->c, pub(f, "orders.events", "{\"type\": \"refund\"}", ids, 1, &n));
    assert_int_equal(n, 2);
    assert_int_equal(ids[1], -1);
    assert_int_equal(on_queue(f, "refunds"), 1);
    assert_int_equal(on_queue(f, "audit"), 2);

    /* ids may be NULL. */
    assert_txq_ok(f->c, pub(f, "orders.events", NULL, NULL, 0, &n));
    assert_int_equal(n, 1);

    /* The SQL call does the same. */
    assert_int_equal(tt_scalar(f->pg, "select cardinality(publish("
                                      "'orders.events', 'x', "
                                      "'{\"type\": \"order\"}'))"),
                     2);
    PQfinish(other);
}

static void
test_filters_and_unmatched(void **state)
{
    tt_fixture *f = *state;
    size_t n = 99;
    int64_t id = 0;

    assert_txq_ok(f->c, txq_topic_create(f->c, f->pg, "payments", NULL));
    /* Containment: every key of the filter, nested too. */
    assert_txq_ok(f->c,
                  txq_subscribe(f->c, f->pg, "payments", "billing",
                                "{\"currency\": \"EUR\", \"meta\": {\"live\": "
                                "true}}"));
    assert_txq_ok(f->c, pub(f, "payments",
                            "{\"currency\": \"EUR\", \"meta\": {\"live\": "
                            "true, \"x\": 1}, \"amount\": 5}",
                            &id, 1, &n));
    assert_int_equal(n, 1);
    assert_txq_ok(f->c,
                  pub(f, "payments", "{\"currency\": \"EUR\"}", &id, 1, &n));
    assert_int_equal(n, 0);
    assert_txq_ok(f->c, pub(f, "payments", NULL, &id, 1, &n));
    assert_int_equal(n, 0);
    /* No match is counted, not an error. */
    assert_int_equal(tt_scalar(f->pg,
                               "select unmatched from topics where name = "
                               "'payments'"),
                     2);
    assert_int_equal(on_queue(f, "billing"), 1);

    /* Subscribing again replaces the filter; unsubscribing stops copies. */
    assert_txq_ok(f->c, txq_subscribe(f->c, f->pg, "payments", "billing",
                                      "{\"currency\": \"USD\"}"));
    assert_int_equal(tt_scalar(f->pg, "select count(*) from subscriptions"), 1);
    assert_txq_ok(f->c,
                  pub(f, "payments", "{\"currency\": \"USD\"}", &id, 1, &n));
    assert_int_equal(n, 1);
    assert_txq_ok(f->c, txq_unsubscribe(f->c, f->pg, "payments", "billing"));
    assert_txq_rc(f->c, txq_unsubscribe(f->c, f->pg, "payments", "billing"),
                  TXQ_ENOTFOUND);
    assert_string_equal(txq_errmsg(f->c), "queue \"billing\" is not "
                                          "subscribed to topic \"payments\"");
    assert_txq_ok(f->c,
                  pub(f, "payments", "{\"currency\": \"USD\"}", &id, 1, &n));
    assert_int_equal(n, 0);

    /* A topic with no subscription at all. */
    assert_txq_ok(f->c, txq_topic_create(f->c, f->pg, "empty", NULL));
    assert_txq_ok(f->c, pub(f, "empty", NULL, &id, 1, &n));
    assert_int_equal(n, 0);

    /* Dropping a topic keeps the queues and their messages. */
    assert_txq_ok(f->c, txq_topic_drop(f->c, f->pg, "payments"));
    assert_int_equal(on_queue(f, "billing"), 2);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from topics"), 1);
}

static void
test_routing(void **state)
{
    tt_fixture *f = *state;
    int64_t id = 0;
    size_t n = 0;
    int pos = -1;
    char q[64];
    long long before;

    assert_txq_ok(f->c, txq_topic_create(f->c, f->pg, "router",
                                         TXQ_TOPIC_OPTS(.route = 1)));
    assert_txq_ok(f->c, txq_route_add(f->c, f->pg, "router",
                                      "{\"region\": \"eu\"}", "eu", 20, &pos));
    assert_int_equal(pos, 20);
    assert_txq_ok(f->c, txq_route_add(f->c, f->pg, "router",
                                      "{\"region\": \"eu\", \"vip\": \"yes\"}",
                                      "vip", 10, &pos));
    assert_int_equal(pos, 10);
    /* TXQ_ROUTE_LAST: 10 after the last rule. */
    assert_txq_ok(f->c,
                  txq_route_add(f->c, f->pg, "router", "{\"region\": \"apac\"}",
                                "other", TXQ_ROUTE_LAST, &pos));
    assert_int_equal(pos, 30);

    /* Exactly one queue: the first matching rule by position. */
    assert_txq_ok(f->c, pub(f, "router",
                            "{\"region\": \"eu\", \"vip\": "
                            "\"yes\"}",
                            &id, 1, &n));
    assert_int_equal(n, 1);
    assert_string_equal(queue_of(f, id, q, sizeof q), "vip");
    assert_txq_ok(f->c, pub(f, "router", "{\"region\": \"eu\"}", &id, 1, &n));
    assert_int_equal(n, 1);
    assert_string_equal(queue_of(f, id, q, sizeof q), "eu");
    assert_int_equal(tt_depth(f), 2);

    /* No rule and no default: an error naming the topic, nothing
     * written. */
    before = tt_depth(f);
    assert_txq_rc(f->c, pub(f, "router", "{\"region\": \"us\"}", &id, 1, &n),
                  TXQ_ENOROUTE);
    assert_string_equal(txq_sqlstate(f->c), "TQ004");
    assert_non_null(strstr(txq_errmsg(f->c), "topic \"router\""));
    assert_int_equal(n, 0);
    assert_int_equal(tt_depth(f), before);
    /* Inside a transaction the error aborts it: nothing at all. */
    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c, pub(f, "router", "{\"region\": \"eu\"}", &id, 1, &n));
    assert_txq_rc(f->c, pub(f, "router", NULL, &id, 1, &n), TXQ_ENOROUTE);
    tt_exec(f->pg, "rollback");
    assert_int_equal(tt_depth(f), before);
    {
        char msg[256];
        assert_string_equal(
            tt_fails(f->pg, msg, sizeof msg, "select publish('router', 'x')"),
            "TQ004");
        assert_non_null(strstr(msg, "router"));
    }

    /* Replace a rule at its position; remove one. */
    assert_txq_ok(f->c,
                  txq_route_add(f->c, f->pg, "router", "{\"region\": \"eu\"}",
                                "other", 20, NULL));
    assert_txq_ok(f->c, pub(f, "router", "{\"region\": \"eu\"}", &id, 1, &n));
    assert_string_equal(queue_of(f, id, q, sizeof q), "other");
    assert_txq_ok(f->c, txq_route_remove(f->c, f->pg, "router", 10));
    assert_txq_rc(f->c, txq_route_remove(f->c, f->pg, "router", 10),
                  TXQ_ENOTFOUND);
    assert_string_equal(txq_errmsg(f->c),
                        "topic \"router\" has no route at position 10");
    assert_txq_ok(f->c, pub(f, "router",
                            "{\"region\": \"eu\", \"vip\": "
                            "\"yes\"}",
                            &id, 1, &n));
    assert_string_equal(queue_of(f, id, q, sizeof q), "other");

    /* A default queue takes what no rule matches; '{}' matches all. */
    assert_txq_ok(
        f->c,
        txq_topic_create(f->c, f->pg, "with_default",
                         TXQ_TOPIC_OPTS(.route = 1, .default_queue = "audit")));
    assert_txq_ok(f->c, txq_route_add(f->c, f->pg, "with_default", "{\"k\": 1}",
                                      "eu", TXQ_ROUTE_LAST, &pos));
    assert_int_equal(pos, 10);
    assert_txq_ok(f->c, pub(f, "with_default", "{\"k\": 2}", &id, 1, &n));
    assert_string_equal(queue_of(f, id, q, sizeof q), "audit");
    assert_txq_ok(f->c, pub(f, "with_default", "{\"k\": 1}", &id, 1, &n));
    assert_string_equal(queue_of(f, id, q, sizeof q), "eu");
    assert_txq_ok(
        f->c, txq_route_add(f->c, f->pg, "with_default", "{}", "vip", 5, NULL));
    assert_txq_ok(f->c, pub(f, "with_default", "{\"k\": 1}", &id, 1, &n));
    assert_string_equal(queue_of(f, id, q, sizeof q), "vip");

    /* Dropping the default queue: unmatched messages are refused again. */
    assert_txq_ok(f->c, txq_route_remove(f->c, f->pg, "with_default", 5));
    assert_txq_ok(f->c, txq_queue_drop(f->c, f->pg, "audit", 1));
    assert_txq_rc(f->c, pub(f, "with_default", "{\"k\": 2}", &id, 1, &n),
                  TXQ_ENOROUTE);

    /* Modes do not mix. */
    assert_txq_rc(f->c, txq_subscribe(f->c, f->pg, "router", "eu", NULL),
                  TXQ_EINVAL);
    assert_string_equal(txq_errmsg(f->c),
                        "topic \"router\" routes; use add_route, not "
                        "subscribe");
    assert_txq_ok(f->c, txq_topic_create(f->c, f->pg, "fan", NULL));
    assert_txq_rc(f->c, txq_route_add(f->c, f->pg, "fan", "{}", "eu", 1, NULL),
                  TXQ_EINVAL);
    assert_string_equal(txq_errmsg(f->c),
                        "topic \"fan\" is fanout; use subscribe, not "
                        "add_route");
}

/* Rows of the topic tables, to show a refused call changed nothing. */
static long long
topic_rows(tt_fixture *f)
{
    return tt_scalar(f->pg, "select (select count(*) from topics) * 10000 + "
                            "(select count(*) from subscriptions) * 100 + "
                            "(select count(*) from routes) + (select "
                            "coalesce(sum(unmatched), 0) from topics) * 1000 "
                            "+ (select count(*) from messages) * 1000000");
}

/* Expect code rc with exactly msg (or, when prefix, starting with it). */
static void
expect(tt_fixture *f, txq_err got, txq_err want, const char *msg, int prefix)
{
    assert_txq_rc(f->c, got, want);
    if (prefix) {
        if (strncmp(txq_errmsg(f->c), msg, strlen(msg)) != 0)
            fail_msg("want message starting \"%s\", got \"%s\"", msg,
                     txq_errmsg(f->c));
    } else {
        assert_string_equal(txq_errmsg(f->c), msg);
    }
}

static void
test_bad_input(void **state)
{
    tt_fixture *f = *state;
    char long_name[80];
    int64_t id;
    size_t n = 7;
    long long before;
    txq_topic_opts route = {.size = sizeof(txq_topic_opts), .route = 1};

    assert_txq_ok(f->c, txq_topic_create(f->c, f->pg, "t", NULL));
    assert_txq_ok(f->c, txq_topic_create(f->c, f->pg, "r", &route));
    assert_txq_ok(f->c, txq_subscribe(f->c, f->pg, "t", "eu", NULL));
    assert_txq_ok(f->c, txq_route_add(f->c, f->pg, "r", "{}", "eu", 1, NULL));
    before = topic_rows(f);

    /* Names. */
    memset(long_name, 'a', 64);
    long_name[64] = '\0';
    expect(f, txq_topic_create(f->c, f->pg, "Bad Name", NULL), TXQ_EINVAL,
           "invalid topic name \"Bad Name\": use 1 to 63 characters a-z, "
           "0-9, _ and ., starting with a letter",
           0);
    expect(f, txq_topic_create(f->c, f->pg, long_name, NULL), TXQ_EINVAL,
           "invalid topic name", 1);
    expect(f, txq_topic_create(f->c, f->pg, "1abc", NULL), TXQ_EINVAL,
           "invalid topic name", 1);
    expect(f, txq_topic_create(f->c, f->pg, "", NULL), TXQ_EINVAL,
           "invalid topic name", 1);
    expect(f, txq_topic_create(f->c, f->pg, "x'; drop table topics; --", NULL),
           TXQ_EINVAL, "invalid topic name", 1);
    expect(f, txq_topic_create(f->c, f->pg, NULL, NULL), TXQ_EINVAL,
           "topic name is NULL", 0);
    expect(f, txq_topic_create(f->c, NULL, "x", NULL), TXQ_EINVAL, "pg is NULL",
           0);
    assert_int_equal(txq_topic_create(NULL, f->pg, "x", NULL), TXQ_EINVAL);
    expect(f, txq_topic_create(f->c, f->pg, "t", NULL), TXQ_EEXIST,
           "topic \"t\" already exists", 0);
    expect(f,
           txq_topic_create(f->c, f->pg, "x",
                            TXQ_TOPIC_OPTS(.default_queue = "eu")),
           TXQ_EINVAL, "default_queue is only for route topics", 0);
    expect(
        f,
        txq_topic_create(f->c, f->pg, "x",
                         TXQ_TOPIC_OPTS(.route = 1, .default_queue = "nope")),
        TXQ_ENOTFOUND, "unknown queue \"nope\"", 0);
    expect(f,
           txq_topic_create(f->c, f->pg, "x",
                            TXQ_TOPIC_OPTS(.route = 1, .default_queue = "N.o")),
           TXQ_EINVAL, "invalid default queue name \"N.o\"", 1);

    /* Unknown topic / queue. */
    expect(f, txq_subscribe(f->c, f->pg, "nope", "eu", NULL), TXQ_ENOTFOUND,
           "unknown topic \"nope\"", 0);
    expect(f, txq_subscribe(f->c, f->pg, "t", "nope", NULL), TXQ_ENOTFOUND,
           "unknown queue \"nope\"", 0);
    expect(f, txq_subscribe(f->c, f->pg, "t", "B.d", NULL), TXQ_EINVAL,
           "invalid queue name \"B.d\"", 1);
    expect(f, txq_route_add(f->c, f->pg, "nope", "{}", "eu", 1, NULL),
           TXQ_ENOTFOUND, "unknown topic \"nope\"", 0);
    expect(f, txq_route_add(f->c, f->pg, "r", "{}", "nope", 1, NULL),
           TXQ_ENOTFOUND, "unknown queue \"nope\"", 0);
    expect(f, txq_topic_drop(f->c, f->pg, "nope"), TXQ_ENOTFOUND,
           "unknown topic \"nope\"", 0);
    expect(f, txq_unsubscribe(f->c, f->pg, "nope", "eu"), TXQ_ENOTFOUND,
           "unknown topic \"nope\"", 0);
    expect(f, txq_route_remove(f->c, f->pg, "nope", 1), TXQ_ENOTFOUND,
           "unknown topic \"nope\"", 0);
    expect(f, pub(f, "nope", NULL, &id, 1, &n), TXQ_ENOTFOUND,
           "unknown topic \"nope\"", 0);
    assert_int_equal(n, 0);

    /* Filters. */
    expect(f, txq_subscribe(f->c, f->pg, "t", "eu", "[1, 2]"), TXQ_EINVAL,
           "filter must be a JSON object (got array)", 0);
    expect(f, txq_subscribe(f->c, f->pg, "t", "eu", "\"x\""), TXQ_EINVAL,
           "filter must be a JSON object (got string)", 0);
    expect(f, txq_subscribe(f->c, f->pg, "t", "eu", "{\"a\":"), TXQ_EINVAL,
           "invalid input syntax for type json", 0);
    assert_string_equal(txq_sqlstate(f->c), "22P02");
    expect(f, txq_subscribe(f->c, f->pg, "t", "eu", "{\"a\": \"\xff\"}"),
           TXQ_EINVAL, "filter is not valid UTF-8", 0);
    expect(f, txq_route_add(f->c, f->pg, "r", NULL, "eu", 1, NULL), TXQ_EINVAL,
           "filter is NULL (use \"{}\" to match every message)", 0);
    expect(f, txq_route_add(f->c, f->pg, "r", "3", "eu", 1, NULL), TXQ_EINVAL,
           "filter must be a JSON object (got number)", 0);
    expect(f, txq_route_add(f->c, f->pg, "r", "{", "eu", 1, NULL), TXQ_EINVAL,
           "invalid input syntax for type json", 0);

    /* Positions. */
    expect(f, txq_route_add(f->c, f->pg, "r", "{}", "eu", -5, NULL), TXQ_EINVAL,
           "position must be between 0 and 1000000, or TXQ_ROUTE_LAST (got "
           "-5)",
           0);
    expect(f, txq_route_add(f->c, f->pg, "r", "{}", "eu", 1000001, NULL),
           TXQ_EINVAL, "position must be between 0 and 1000000", 1);
    expect(f, txq_route_remove(f->c, f->pg, "r", -1), TXQ_EINVAL,
           "position must be between 0 and 1000000 (got -1)", 0);

    /* Publish arguments. */
    expect(f, pub(f, "t", "[1]", &id, 1, &n), TXQ_EINVAL,
           "headers must be a JSON object (got array)", 0);
    expect(f, txq_publish(f->c, f->pg, "t", NULL, 3, NULL, &id, 1, &n),
           TXQ_EINVAL, "body is NULL but len is 3", 0);
    expect(f, txq_publish(f->c, f->pg, "t", "x", 1, NULL, NULL, 2, &n),
           TXQ_EINVAL, "ids is NULL but cap is 2", 0);
    expect(f,
           txq_publish(f->c, f->pg, "t", "x", 1,
                       TXQ_SEND_OPTS(.priority = 40000), &id, 1, &n),
           TXQ_EINVAL, "priority must be between -32768 and 32767", 1);
    expect(f, txq_publish(f->c, f->pg, "Bad", "x", 1, NULL, &id, 1, &n),
           TXQ_EINVAL, "invalid topic name \"Bad\"", 1);

    /* The SQL functions check the same. */
    assert_string_equal(
        tt_fails(f->pg, NULL, 0, "select create_topic('x', 'bogus')"), "22023");
    assert_string_equal(tt_fails(f->pg, NULL, 0, "select create_topic('A')"),
                        "22023");
    assert_string_equal(
        tt_fails(f->pg, NULL, 0, "select add_route('r', '{}', 'eu', -1)"),
        "22023");
    assert_string_equal(
        tt_fails(f->pg, NULL, 0, "select subscribe('t', 'eu', '[]')"), "22023");

    /* Nothing changed by any of them. */
    assert_int_equal(topic_rows(f), before);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fanout_in_one_transaction,
                                        setup_queues, tt_teardown),
        cmocka_unit_test_setup_teardown(test_filters_and_unmatched,
                                        setup_queues, tt_teardown),
        cmocka_unit_test_setup_teardown(test_routing, setup_queues,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup_queues,
                                        tt_teardown),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("topic", tests, NULL, NULL);
}
