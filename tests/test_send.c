/*
 * test_send.c - sending: transactional and durable send, batches, bodies of
 * any bytes and size, headers, delay, priority, every kind of bad input
 * (rejected with the right code, nothing changed), SQL metacharacters
 * stored verbatim, queue settings validated on create, and the positional
 * SQL API.
 *
 * Needs TXQ_TEST_DSN (ctest's pg_start fixture provides it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt.h"

static void
test_rollback_never_visible(void **state)
{
    tt_fixture *f = *state;
    PGconn *pg2 = tt_connect(f->schema);
    txq_msg **msgs = NULL;
    size_t n = 99;
    int64_t id = 0;

    tt_queue(f, "jobs", NULL);
    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "jobs", "a", 1, NULL, &id));
    /* Not visible to anybody before commit... */
    assert_int_equal(tt_scalar(pg2, "select count(*) from messages"), 0);
    assert_txq_rc(f->c, txq_receive(f->c, pg2, "jobs", 10, NULL, &msgs, &n),
                  TXQ_EMPTY);
    assert_null(msgs);
    assert_int_equal(n, 0);
    tt_exec(f->pg, "rollback");
    /* ...and never after a rollback, not even in the future. */
    assert_int_equal(tt_depth(f), 0);
    assert_txq_rc(f->c, txq_receive(f->c, pg2, "jobs", 10, NULL, &msgs, &n),
                  TXQ_EMPTY);
    assert_int_equal(tt_scalar(pg2, "select count(*) from receive('jobs', "
                                    "10, null, now() + interval '1 day')"),
                     0);
    PQfinish(pg2);
}

static void
test_commit_visible_once(void **state)
{
    tt_fixture *f = *state;
    PGconn *pg2 = tt_connect(f->schema);
    PGconn *pg3 = tt_connect(f->schema);
    txq_msg **msgs, **none = NULL;
    size_t n = 0;
    int64_t id = 0;

    tt_queue(f, "jobs", NULL);
    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "jobs", "a", 1, NULL, &id));
    tt_exec(f->pg, "commit");

    tt_exec(pg2, "begin");
    msgs = tt_take(f, pg2, "jobs", 0);
    assert_int_equal(txq_msg_id(msgs[0]), id);
    assert_int_equal(txq_msg_attempt(msgs[0]), 1);
    /* While pg2 holds it, nobody else gets it. */
    assert_txq_rc(f->c, txq_receive(f->c, pg3, "jobs", 10, NULL, &none, &n),
                  TXQ_EMPTY);
    assert_txq_ok(f->c, txq_ack(f->c, pg2, msgs[0]));
    tt_exec(pg2, "commit");
    txq_msgs_free(msgs, 1);

    assert_txq_rc(f->c, txq_receive(f->c, pg3, "jobs", 10, NULL, &none, &n),
                  TXQ_EMPTY);
    assert_int_equal(tt_scalar(pg3, "select count(*) from receive('jobs', "
                                    "10, null, now() + interval '1 day')"),
                     0);
    assert_int_equal(tt_depth(f), 0);
    assert_int_equal(
        tt_scalar(f->pg, "select acked from queue_stats where queue = 'jobs'"),
        1);
    PQfinish(pg2);
    PQfinish(pg3);
}

static void
test_send_batch_1000(void **state)
{
    tt_fixture *f = *state;
    enum { N = 1000 };
    char(*text)[16] = calloc(N, sizeof(*text));
    const void **bodies = calloc(N, sizeof(*bodies));
    size_t *lens = calloc(N, sizeof(*lens));
    int64_t *ids = calloc(N, sizeof(*ids));
    PGresult *res;
    int i;

    assert_non_null(text);
    assert_non_null(bodies);
    assert_non_null(lens);
    assert_non_null(ids);
    tt_queue(f, "jobs", NULL);
    for (i = 0; i < N; i++) {
        snprintf(text[i], sizeof(text[i]), "msg-%d", i);
        bodies[i] = text[i];
        lens[i] = strlen(text[i]);
    }
    assert_txq_ok(
        f->c, txq_send_batch(f->c, f->pg, "jobs", bodies, lens, N, NULL, ids));
    res = tt_query(f->pg, "select id, convert_from(body, 'UTF8') "
                          "from messages order by id");
    assert_int_equal(PQntuples(res), N);
    for (i = 0; i < N; i++) {
        if (i > 0)
            assert_true(ids[i] > ids[i - 1]);
        assert_int_equal(strtoll(PQgetvalue(res, i, 0), NULL, 10), ids[i]);
        assert_string_equal(PQgetvalue(res, i, 1), text[i]);
    }
    PQclear(res);
    free(text);
    free(bodies);
    free(lens);
    free(ids);
}

static void
test_all_byte_values(void **state)
{
    tt_fixture *f = *state;
    unsigned char body[512];
    const void *got;
    size_t len = 0;
    txq_msg **msgs;
    int i;

    for (i = 0; i < 512; i++)
        body[i] = (unsigned char)(i % 256);
    tt_queue(f, "jobs", NULL);
    assert_txq_ok(
        f->c, txq_send(f->c, f->pg, "jobs", body, sizeof(body), NULL, NULL));
    /* An empty body is a body too. */
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "jobs", "", 0, NULL, NULL));
    assert_int_equal(
        tt_scalar(f->pg, "select octet_length(body) from messages order by id "
                         "limit 1"),
        512);
    assert_int_equal(tt_scalar(f->pg, "select get_byte(body, 0) + "
                                      "get_byte(body, 256) from messages "
                                      "order by id limit 1"),
                     0);

    msgs = tt_take(f, f->pg, "jobs", 0);
    got = txq_msg_body(msgs[0], &len);
    assert_int_equal(len, sizeof(body));
    assert_memory_equal(got, body, sizeof(body));
    assert_int_equal(((const unsigned char *)got)[len], 0);
    txq_msgs_free(msgs, 1);

    msgs = tt_take(f, f->pg, "jobs", 0);
    got = txq_msg_body(msgs[0], &len);
    assert_int_equal(len, 0);
    assert_non_null(got);
    assert_int_equal(((const unsigned char *)got)[0], 0);
    txq_msgs_free(msgs, 1);
}

static void
test_64mib_body(void **state)
{
    tt_fixture *f = *state;
    const size_t size = 64u * 1024 * 1024;
    unsigned char *body = malloc(size + 1);
    const void *got;
    size_t i, len = 0;
    txq_msg **msgs;

    assert_non_null(body);
    for (i = 0; i < size + 1; i++)
        body[i] = (unsigned char)((i * 2654435761u) >> 13);
    tt_queue(f, "big", TXQ_QUEUE_OPTS(.max_body_bytes = 67108864));
    assert_txq_rc(f->c,
                  txq_send(f->c, f->pg, "big", body, size + 1, NULL, NULL),
                  TXQ_ETOOBIG);
    assert_int_equal(tt_depth(f), 0);
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "big", body, size, NULL, NULL));
    msgs = tt_take(f, f->pg, "big", 0);
    got = txq_msg_body(msgs[0], &len);
    assert_int_equal(len, size);
    assert_true(memcmp(got, body, size) == 0);
    txq_msgs_free(msgs, 1);
    free(body);
}

static void
test_headers_round_trip(void **state)
{
    tt_fixture *f = *state;
    const char *headers = "{\"type\": \"order.created\", \"n\": 42, "
                          "\"q\": \"it's \\\"quoted\\\"\", "
                          "\"nested\": {\"k\": [1, 2.5, null, true]}, "
                          "\"utf8\": \"caf\xc3\xa9 \xe2\x98\x83\"}";
    txq_msg **msgs;

    tt_queue(f, "jobs", NULL);
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "jobs", "x", 1,
                                 TXQ_SEND_OPTS(.headers_json = headers), NULL));
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "jobs", "y", 1, NULL, NULL));
    msgs = tt_take(f, f->pg, "jobs", 0);
    assert_true(tt_json_eq(f->pg, txq_msg_headers(msgs[0]), headers));
    txq_msgs_free(msgs, 1);
    msgs = tt_take(f, f->pg, "jobs", 0);
    assert_true(tt_json_eq(f->pg, txq_msg_headers(msgs[0]), "{}"));
    assert_null(txq_msg_group(msgs[0]));
    assert_null(txq_msg_correlation_id(msgs[0]));
    assert_null(txq_msg_reply_to(msgs[0]));
    txq_msgs_free(msgs, 1);
}

static void
test_delay(void **state)
{
    tt_fixture *f = *state;
    txq_msg **msgs = NULL;
    size_t n = 0;
    PGresult *res;

    tt_queue(f, "jobs", NULL);
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "jobs", "later", 5,
                                 TXQ_SEND_OPTS(.delay = 60), NULL));
    assert_txq_rc(f->c, txq_receive(f->c, f->pg, "jobs", 1, NULL, &msgs, &n),
                  TXQ_EMPTY);
    assert_int_equal(tt_scalar(f->pg, "select delayed from queue_stats"), 1);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from receive('jobs', "
                                      "1, null, now() + interval '58 s')"),
                     0);
    res = tt_query(f->pg, "select attempts, convert_from(body, 'UTF8') from "
                          "receive('jobs', 1, null, now() + interval '61 s')");
    assert_int_equal(PQntuples(res), 1);
    assert_string_equal(PQgetvalue(res, 0, 0), "1");
    assert_string_equal(PQgetvalue(res, 0, 1), "later");
    PQclear(res);
}

static void
test_priority_order(void **state)
{
    tt_fixture *f = *state;
    static const struct {
        int prio;
        const char *body;
    } sends[] = {{0, "a"}, {5, "b"}, {-3, "c"}, {5, "d"}, {32767, "e"}};
    static const char *const want[] = {"e", "b", "d", "a", "c"};
    size_t i;

    tt_queue(f, "jobs", NULL);
    for (i = 0; i < 5; i++)
        assert_txq_ok(f->c,
                      txq_send(f->c, f->pg, "jobs", sends[i].body, 1,
                               TXQ_SEND_OPTS(.priority = sends[i].prio), NULL));
    for (i = 0; i < 5; i++) {
        txq_msg **msgs = tt_take(f, f->pg, "jobs", 0);

        assert_string_equal(txq_msg_body(msgs[0], NULL), want[i]);
        txq_msgs_free(msgs, 1);
    }
}

/* Send expecting want; the number of messages must not change. */
static void
send_rejected(tt_fixture *f,
              const char *queue,
              size_t len,
              const txq_send_opts *opts,
              txq_err want)
{
    static const char body[64] = "0123456789abcdef";
    long long before = tt_depth(f);
    int64_t id = -1;
    txq_err rc = txq_send(f->c, f->pg, queue, body, len, opts, &id);

    if (rc != want)
        fail_msg("send to \"%.70s\": want %s, got %s (%s)",
                 queue ? queue : "(null)", txq_strerror(want), txq_strerror(rc),
                 txq_errmsg(f->c));
    assert_true(strlen(txq_errmsg(f->c)) > 0);
    assert_int_equal(tt_depth(f), before);
    assert_int_equal(PQtransactionStatus(f->pg), PQTRANS_IDLE);
}

static void
test_bad_input(void **state)
{
    tt_fixture *f = *state;
    char long_name[82];

    /* 80 characters is a name; 81 is not. */
    memset(long_name, 'a', 81);
    long_name[80] = '\0';
    tt_queue(f, long_name, NULL);
    long_name[80] = 'a';
    long_name[81] = '\0';
    tt_queue(f, "small", TXQ_QUEUE_OPTS(.max_body_bytes = 16));
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "small", "0123456789abcdef", 16,
                                 NULL, NULL));

    /* Size. */
    send_rejected(f, "small", 17, NULL, TXQ_ETOOBIG);
    assert_non_null(strstr(txq_errmsg(f->c), "16"));
    /* Queue names. */
    send_rejected(f, "Bad.name", 1, NULL, TXQ_EINVAL);
    send_rejected(f, "a;drop table x", 1, NULL, TXQ_EINVAL);
    send_rejected(f, long_name, 1, NULL, TXQ_EINVAL);
    send_rejected(f, "", 1, NULL, TXQ_EINVAL);
    send_rejected(f, NULL, 1, NULL, TXQ_EINVAL);
    send_rejected(f, "bad\xff", 1, NULL, TXQ_EINVAL);
    send_rejected(f, "nosuch", 1, NULL, TXQ_ENOTFOUND);
    assert_non_null(strstr(txq_errmsg(f->c), "nosuch"));
    /* Delays. */
    send_rejected(f, "small", 1, TXQ_SEND_OPTS(.delay = -1), TXQ_EINVAL);
    send_rejected(f, "small", 1, TXQ_SEND_OPTS(.delay = 366.0 * 86400),
                  TXQ_EINVAL);
    send_rejected(f, "small", 1, TXQ_SEND_OPTS(.delay = NAN), TXQ_EINVAL);
    send_rejected(f, "small", 1, TXQ_SEND_OPTS(.delay = INFINITY), TXQ_EINVAL);
    /* Priority. */
    send_rejected(f, "small", 1, TXQ_SEND_OPTS(.priority = 40000), TXQ_EINVAL);
    /* Headers. */
    send_rejected(f, "small", 1, TXQ_SEND_OPTS(.headers_json = "[1, 2]"),
                  TXQ_EINVAL);
    send_rejected(f, "small", 1, TXQ_SEND_OPTS(.headers_json = "\"s\""),
                  TXQ_EINVAL);
    send_rejected(f, "small", 1, TXQ_SEND_OPTS(.headers_json = "{not json"),
                  TXQ_EINVAL);
    send_rejected(f, "small", 1,
                  TXQ_SEND_OPTS(.headers_json = "{\"a\": \"\xc3\x28\"}"),
                  TXQ_EINVAL);
    send_rejected(f, "small", 1,
                  TXQ_SEND_OPTS(.headers_json = "{\"a\": \"\\u0000\"}"),
                  TXQ_EINVAL);
    /* Invalid UTF-8 and control characters in text fields. */
    send_rejected(f, "small", 1, TXQ_SEND_OPTS(.group = "g\xff"), TXQ_EINVAL);
    send_rejected(f, "small", 1, TXQ_SEND_OPTS(.correlation_id = "\xe2\x82"),
                  TXQ_EINVAL);
    send_rejected(f, "small", 1, TXQ_SEND_OPTS(.group = "a\nb"), TXQ_EINVAL);
    send_rejected(f, "small", 1, TXQ_SEND_OPTS(.correlation_id = "a\x01"),
                  TXQ_EINVAL);
    send_rejected(f, "small", 1, TXQ_SEND_OPTS(.reply_to = "Not A Queue"),
                  TXQ_EINVAL);
    /* A dedup id past 512 characters. */
    {
        char longid[600];

        memset(longid, 'k', sizeof longid - 1);
        longid[sizeof longid - 1] = '\0';
        send_rejected(f, "small", 1, TXQ_SEND_OPTS(.dedup_id = longid),
                      TXQ_EINVAL);
    }
    /* A NULL body with a length. */
    {
        long long before = tt_depth(f);

        assert_txq_rc(f->c, txq_send(f->c, f->pg, "small", NULL, 3, NULL, NULL),
                      TXQ_EINVAL);
        assert_int_equal(tt_depth(f), before);
    }
    assert_int_equal(tt_depth(f), 1);
}

static void
test_bad_batch_changes_nothing(void **state)
{
    tt_fixture *f = *state;
    const void *bodies[4] = {"a", "b", "0123456789abcdefX", "d"};
    size_t lens[4] = {1, 1, 17, 1};
    int64_t ids[4] = {0};

    tt_queue(f, "small", TXQ_QUEUE_OPTS(.max_body_bytes = 16));
    assert_txq_rc(
        f->c, txq_send_batch(f->c, f->pg, "small", bodies, lens, 4, NULL, ids),
        TXQ_ETOOBIG);
    assert_int_equal(tt_depth(f), 0);
    lens[2] = 16;
    assert_txq_rc(f->c,
                  txq_send_batch(f->c, f->pg, "small", bodies, lens, 4,
                                 TXQ_SEND_OPTS(.delay = -5), ids),
                  TXQ_EINVAL);
    assert_int_equal(tt_depth(f), 0);
    assert_txq_ok(
        f->c, txq_send_batch(f->c, f->pg, "small", bodies, lens, 4, NULL, ids));
    assert_int_equal(tt_depth(f), 4);
}

static void
test_metacharacters_verbatim(void **state)
{
    tt_fixture *f = *state;
    static const char *const evil[] = {
        "'; drop table messages; --",
        "O'Reilly \\ back\\slash \\\\ \"dq\" $$dollar$$ $1 %s %n",
        "\\x00ff",
        "); select pg_sleep(10); --",
    };
    char headers[512];
    size_t i;

    tt_queue(f, "jobs", NULL);
    for (i = 0; i < 4; i++) {
        txq_msg **msgs;
        char key[64];

        snprintf(key, sizeof(key), "k'%zu\\\"", i);
        /* JSON-escape the value: only " and \ occur. */
        {
            char val[256];
            const char *s;
            size_t o = 0;

            for (s = evil[i]; *s; s++) {
                if (*s == '"' || *s == '\\')
                    val[o++] = '\\';
                val[o++] = *s;
            }
            val[o] = '\0';
            snprintf(headers, sizeof(headers), "{\"k'%zu\\\\\\\"\": \"%s\"}", i,
                     val);
        }
        assert_txq_ok(
            f->c,
            txq_send(f->c, f->pg, "jobs", evil[i], strlen(evil[i]),
                     TXQ_SEND_OPTS(.headers_json = headers, .group = evil[i],
                                   .correlation_id = evil[i]),
                     NULL));
        msgs = tt_take(f, f->pg, "jobs", 0);
        assert_string_equal(txq_msg_body(msgs[0], NULL), evil[i]);
        assert_string_equal(txq_msg_group(msgs[0]), evil[i]);
        assert_string_equal(txq_msg_correlation_id(msgs[0]), evil[i]);
        assert_true(tt_json_eq(f->pg, txq_msg_headers(msgs[0]), headers));
        /* The key survived as written. */
        {
            char sql[128];
            PGresult *res;
            const char *p[2] = {txq_msg_headers(msgs[0]), key};

            snprintf(sql, sizeof(sql), "select $1::jsonb ->> $2");
            res = PQexecParams(f->pg, sql, 2, NULL, p, NULL, NULL, 0);
            assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
            assert_string_equal(PQgetvalue(res, 0, 0), evil[i]);
            PQclear(res);
        }
        assert_txq_ok(f->c, txq_ack(f->c, f->pg, msgs[0]));
        txq_msgs_free(msgs, 1);
    }
    /* Everything is still there. */
    assert_int_equal(tt_depth(f), 0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues"), 1);
    assert_int_equal(
        tt_scalar(f->pg, "select acked from queue_stats where queue = 'jobs'"),
        4);
}

/* Create a queue expecting EINVAL; no queue may appear. */
static void
create_rejected(tt_fixture *f, const char *name, const txq_queue_opts *o)
{
    long long before = tt_scalar(f->pg, "select count(*) from queues");
    txq_err rc = txq_queue_create(f->c, f->pg, name, o);

    if (rc != TXQ_EINVAL)
        fail_msg("create \"%s\": want EINVAL, got %s (%s)", name,
                 txq_strerror(rc), txq_errmsg(f->c));
    assert_true(strlen(txq_errmsg(f->c)) > 0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues"), before);
}

static void
test_queue_settings_validated(void **state)
{
    tt_fixture *f = *state;

    create_rejected(f, "B.d", NULL);
    create_rejected(f, "q;drop", NULL);
    create_rejected(f, "q", TXQ_QUEUE_OPTS(.max_body_bytes = 268435456LL + 1));
    create_rejected(f, "q", TXQ_QUEUE_OPTS(.max_body_bytes = -1));
    create_rejected(f, "q", TXQ_QUEUE_OPTS(.visibility_timeout = -1));
    create_rejected(f, "q",
                    TXQ_QUEUE_OPTS(.visibility_timeout = 12 * 3600 + 1));
    create_rejected(f, "q", TXQ_QUEUE_OPTS(.visibility_timeout = NAN));
    create_rejected(f, "q", TXQ_QUEUE_OPTS(.max_attempts = -1));
    create_rejected(f, "q", TXQ_QUEUE_OPTS(.max_attempts = 1001));
    create_rejected(f, "q", TXQ_QUEUE_OPTS(.on_exhausted = 9));
    create_rejected(f, "q", TXQ_QUEUE_OPTS(.backoff_jitter = 1.5));
    create_rejected(f, "q",
                    TXQ_QUEUE_OPTS(.backoff_base = 10, .backoff_cap = 5));
    create_rejected(f, "q", TXQ_QUEUE_OPTS(.expire_after = -3));

    /* The same limits through SQL, where 0 is not "the default". */
    assert_string_equal(
        tt_fails(f->pg, NULL, 0,
                 "select create_queue('q', i_visibility_timeout => '0')"),
        "22023");
    assert_string_equal(
        tt_fails(f->pg, NULL, 0,
                 "select create_queue('q', i_visibility_timeout => '13h')"),
        "22023");
    assert_string_equal(
        tt_fails(f->pg, NULL, 0,
                 "select create_queue('q', i_on_exhausted => 'explode')"),
        "22023");
    assert_string_equal(
        tt_fails(f->pg, NULL, 0,
                 "select create_queue('q', i_max_body_bytes => 268435457)"),
        "22023");
    assert_string_equal(
        tt_fails(f->pg, NULL, 0, "select create_queue('q', 'lifo')"), "22023");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues"), 0);

    /* The limits themselves are allowed; a duplicate is EEXIST. */
    tt_queue(f, "q",
             TXQ_QUEUE_OPTS(.max_body_bytes = 268435456LL,
                            .visibility_timeout = 12 * 3600,
                            .max_attempts = 1000));
    assert_txq_rc(f->c, txq_queue_create(f->c, f->pg, "q", NULL), TXQ_EEXIST);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues"), 1);
}

static void
test_sql_positional_api(void **state)
{
    tt_fixture *f = *state;
    PGresult *res;
    long long id1, id2;

    tt_exec(f->pg, "select create_queue('jobs')");
    id1 = tt_scalar(f->pg, "select send('jobs', 'hello'::bytea)");
    id2 = tt_scalar(f->pg, "select send('jobs', '\\x00ff'::bytea, "
                           "'{\"k\": 1}')");
    assert_true(id2 > id1);
    tt_scalar(f->pg, "select send('jobs', 'x', null, '1 hour')");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from send_batch('jobs', "
                                      "array['a', 'b']::bytea[])"),
                     2);
    assert_int_equal(tt_depth(f), 5);

    res = tt_query(f->pg, "select id, attempts, headers, body "
                          "from receive('jobs', 2) order by id");
    assert_int_equal(PQntuples(res), 2);
    assert_int_equal(strtoll(PQgetvalue(res, 0, 0), NULL, 10), id1);
    assert_string_equal(PQgetvalue(res, 0, 1), "1");
    assert_string_equal(PQgetvalue(res, 0, 3), "\\x68656c6c6f");
    assert_string_equal(PQgetvalue(res, 1, 2), "{\"k\": 1}");
    assert_string_equal(PQgetvalue(res, 1, 3), "\\x00ff");
    PQclear(res);

    assert_int_equal(tt_scalar(f->pg, "select ack(array[%lld])", id1), 1);
    assert_int_equal(
        tt_scalar(f->pg, "select (fail(%lld, 'boom') = 'retry')::int", id2), 1);
    assert_int_equal(tt_depth(f), 4);
    assert_int_equal(tt_scalar(f->pg, "select retried from queue_stats"), 1);
}

/* send() in SQL writes each option as given, with the queue's settings
 * where none is given, and its errors stay send()'s. */
static void
test_sql_send_options(void **state)
{
    tt_fixture *f = *state;
    long long id;
    char buf[256];

    tt_exec(f->pg, "select create_queue('jobs', i_expire_after => '1 hour',"
                   " i_delay => '2 s', i_max_body_bytes => 16)");
    id = tt_scalar(f->pg, "select send('jobs', 'a', '{\"k\": 1}', '5 s', 7, "
                          "i_correlation_id => 'c1', i_reply_to => 'back', "
                          "i_now => '2026-01-01 00:00+00')");
    assert_int_equal(
        tt_scalar(f->pg,
                  "select count(*) from messages where id = %lld"
                  " and enqueued_at = '2026-01-01 00:00+00'"
                  " and visible_at = enqueued_at + '5 s'"
                  " and expires_at = enqueued_at + '1 hour'"
                  " and priority = 7 and headers = '{\"k\": 1}'"
                  " and correlation_id = 'c1' and reply_to = 'back'"
                  " and attempts = 0 and group_key is null"
                  " and dedup_id is null and body = 'a'",
                  id),
        1);
    id = tt_scalar(f->pg, "select send('jobs', 'b')");
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from messages where id = %lld"
                               " and visible_at = enqueued_at + '2 s'"
                               " and priority = 0 and headers = '{}'"
                               " and correlation_id is null",
                               id),
                     1);
    /* Each bad option: send()'s error, nothing written. */
    static const char *const bad[][2] = {
        {"select send('jobs', 'x', '[1]')", "JSON object"},
        {"select send('jobs', 'x', null, '-1 s')", "delay"},
        {"select send('jobs', 'x', null, '366 days')", "delay"},
        {"select send('jobs', 'x', null, null, 40000)", "priority"},
        {"select send('jobs', 'x', i_correlation_id => repeat('c', 513))",
         "correlation_id"},
        {"select send('jobs', 'x', i_reply_to => 'Bad Name')", "reply_to"},
        {"select send('jobs', '12345678901234567')", "max_body_bytes"},
        {"select send('jobs', null)", "body"},
        {"select send('nope', 'x')", "nope"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *st = tt_fails(f->pg, buf, sizeof buf, "%s", bad[i][0]);

        assert_true(strcmp(st, "22023") == 0 || strcmp(st, "54000") == 0 ||
                    strcmp(st, "TQ002") == 0);
        if (strstr(buf, bad[i][1]) == NULL)
            fail_msg("%s: want \"%s\" in the error, got: %s", bad[i][0],
                     bad[i][1], buf);
    }
    assert_int_equal(tt_depth(f), 2);
}

static void
st_table_refuses(tt_fixture *f, const char *sql, const char *constraint)
{
    char buf[512];
    const char *st = tt_fails(f->pg, buf, sizeof buf, "%s", sql);

    assert_string_equal(st, "23514");
    if (strstr(buf, constraint) == NULL)
        fail_msg("%s: want \"%s\" in the error, got: %s", sql, constraint, buf);
}

/* Queue names follow SQS's rule in SQL too: 1 to 80 ASCII letters,
 * digits, - and _, or up to 75 of them and ".fifo", which only a fifo
 * queue's name may end in. The table refuses what create_queue would. */
static void
test_sql_queue_names(void **state)
{
    tt_fixture *f = *state;
    char buf[512];
    static const char *const bad[][2] = {
        {"select create_queue(repeat('a', 81))", "invalid queue name"},
        {"select create_queue(repeat('a', 76) || '.fifo', 'fifo')",
         "invalid queue name"},
        {"select create_queue('std.fifo')", "ending in \".fifo\""},
        {"select create_queue('std.fifo', 'standard')", "fifo queue only"},
        {"select create_queue('a.b')", "invalid queue name"},
        {"select create_queue('a.b.fifo', 'fifo')", "invalid queue name"},
        {"select create_queue('.fifo', 'fifo')", "invalid queue name"},
        {"select create_queue('')", "invalid queue name"},
        {"select create_queue('caf\xc3\xa9')", "invalid queue name"},
        {"select create_queue('a b')", "invalid queue name"},
        {"select send('Billing-Events', 'x', i_reply_to => 'a.b')", "reply_to"},
        {"select send('Billing-Events', 'x', i_reply_to => repeat('r', 81))",
         "reply_to"},
    };

    tt_exec(f->pg, "select create_queue(repeat('a', 80))");
    tt_exec(f->pg, "select create_queue(repeat('-', 75) || '.fifo', 'fifo')");
    tt_exec(f->pg, "select create_queue('Billing-Events')");
    tt_exec(f->pg, "select create_queue('orders.fifo', 'fifo')");
    tt_exec(f->pg, "select create_queue('orders', 'fifo')");
    tt_exec(f->pg, "select create_queue('9_Lives')");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues where "
                                      "name = 'orders.fifo' and kind = "
                                      "'fifo'"),
                     1);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *st = tt_fails(f->pg, buf, sizeof buf, "%s", bad[i][0]);

        assert_string_equal(st, "22023");
        if (strstr(buf, bad[i][1]) == NULL)
            fail_msg("%s: want \"%s\" in the error, got: %s", bad[i][0],
                     bad[i][1], buf);
    }
    /* A name is data: sent, received and replied to as given. */
    tt_exec(f->pg, "select send('Billing-Events', 'b', i_reply_to => "
                   "'orders.fifo', i_correlation_id => 'c1')");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from receive("
                                      "'Billing-Events', 1) where reply_to "
                                      "= 'orders.fifo'"),
                     1);
    assert_int_equal(
        tt_scalar(f->pg, "select count(*) from (select reply('orders.fifo', "
                         "'c1', 'r')) s"),
        1);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from receive("
                                      "'orders.fifo', 1)"),
                     1);
    /* The table's own checks (migration 0013), past the functions. */
    st_table_refuses(f,
                     "update queues set kind = 'standard' "
                     "where name = 'orders.fifo'",
                     "queues_fifo_suffix_ok");
    st_table_refuses(f,
                     "update queues set name = 'x.y' "
                     "where name = 'orders'",
                     "queues_name_ok");
}

/* send() in SQL to a queue somebody waits on wakes the waiter, once per
 * transaction, and takes its waiter row. */
static void
test_sql_send_wakes(void **state)
{
    tt_fixture *f = *state;
    PGconn *w = tt_connect(f->schema);

    tt_queue(f, "jobs", NULL);
    tt_exec(w, "listen txq_wake");
    tt_exec(w, "select wait_begin('jobs')");
    tt_exec(f->pg, "begin");
    tt_exec(f->pg, "select send('jobs', 'a')");
    tt_exec(f->pg, "select send('jobs', 'b', i_priority => 3)");
    tt_exec(f->pg, "commit");
    assert_int_equal(tt_pending(f->pg), 0);
    assert_int_equal(tt_wakes(w, "jobs"), 1);
    assert_int_equal(tt_depth(f), 2);
    PQfinish(w);
}

/* An idempotency key (dedup_id) on a standard queue: a producer that lost
 * a COMMIT's reply sends again with the same key and gets the first id,
 * nothing written; through send, send_batch and publish; a concurrent
 * sender of the same key waits for the first and gets its id; the key
 * lasts while its message lives, even past the dedup window. */
static void
test_idempotency_key(void **state)
{
    tt_fixture *f = *state;
    txq_send_opts k1 = {.size = sizeof(txq_send_opts), .dedup_id = "order-1"};
    int64_t a = 0, b = 0, ids[3] = {0};
    size_t n = 0;
    PGconn *pg2 = tt_connect(f->schema);
    PGresult *r;

    tt_queue(f, "jobs", NULL);
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "jobs", "a", 1, &k1, &a));
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "jobs", "b", 1, &k1, &b));
    assert_int_equal(b, a);
    assert_int_equal(tt_depth(f), 1);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from messages where "
                                      "body = 'a'"),
                     1);

    /* A batch: the known key returns its id, the others send. */
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from send_batch("
                               "'jobs', array['x', 'y', 'z']::bytea[], "
                               "i_dedup_ids => array['order-1', "
                               "'order-2', null]) as t(id) where "
                               "id = %lld",
                               (long long)a),
                     1);
    assert_int_equal(tt_depth(f), 3);

    /* Publish to two standard queues: each copy keyed in its queue. */
    tt_queue(f, "audit", NULL);
    assert_txq_ok(f->c, txq_topic_create(f->c, f->pg, "events", NULL));
    assert_txq_ok(f->c, txq_subscribe(f->c, f->pg, "events", "jobs", NULL));
    assert_txq_ok(f->c, txq_subscribe(f->c, f->pg, "events", "audit", NULL));
    assert_txq_ok(f->c,
                  txq_publish(f->c, f->pg, "events", "e", 1,
                              TXQ_SEND_OPTS(.dedup_id = "ev-1"), ids, 3, &n));
    assert_int_equal(n, 2);
    assert_txq_ok(f->c, txq_publish(f->c, f->pg, "events", "e", 1,
                                    TXQ_SEND_OPTS(.dedup_id = "ev-1"), ids + 2,
                                    1, &n));
    assert_true(ids[2] == ids[0] || ids[2] == ids[1]);
    assert_int_equal(tt_depth(f), 5);

    /* Two senders at once: the second waits for the first's commit and
     * gets its id. */
    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "jobs", "c", 1,
                                 TXQ_SEND_OPTS(.dedup_id = "order-3"), &a));
    assert_true(PQsendQuery(pg2, "select send('jobs', 'd', i_dedup_id => "
                                 "'order-3')"));
    tt_sleep_ms(200);
    assert_true(PQisBusy(pg2) || PQconsumeInput(pg2));
    assert_true(PQisBusy(pg2));
    tt_exec(f->pg, "commit");
    r = PQgetResult(pg2);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    assert_int_equal(atoll(PQgetvalue(r, 0, 0)), a);
    PQclear(r);
    while ((r = PQgetResult(pg2)) != NULL)
        PQclear(r);
    assert_int_equal(tt_depth(f), 6);

    /* Past the window the key lasts while its message lives; once it is
     * gone, the key is new again and maintain() prunes it. */
    assert_int_equal(tt_scalar(f->pg, "select send('jobs', 'c', i_dedup_id "
                                      "=> 'order-3', i_now => now() + "
                                      "interval '1 day')"),
                     a);
    assert_int_equal(tt_scalar(f->pg, "select (maintain(now() + interval "
                                      "'1 day') ->> 'dedup_pruned')::int"),
                     0);
    tt_exec(f->pg, "select ack(array[%lld])", (long long)a);
    assert_true(tt_scalar(f->pg, "select send('jobs', 'c', i_dedup_id => "
                                 "'order-3', i_now => now() + interval "
                                 "'1 day')") > a);
    PQfinish(pg2);
}

/* Integers past int's range in the SQL API: each is refused with its
 * range, naming the argument (22023), or is an attempt that does not hold
 * (TQ003); never "function does not exist" (42883), and nothing changes. */
static void
test_sql_integers_past_int_range(void **state)
{
    tt_fixture *f = *state;
    static const struct {
        const char *sql, *state, *says;
    } cases[] = {
        {"select receive('jobs', 3000000000)", "22023", "max must be"},
        {"select take('jobs', 3000000000)", "22023", "max must be"},
        {"select pop('jobs', 3000000000)", "22023", "max must be"},
        {"select peek('jobs', 3000000000)", "22023", "max must be"},
        {"select ack_receive(array[]::bigint[], array[]::bigint[], 'jobs', "
         "3000000000)",
         "22023", "max must be"},
        {"select send('jobs', 'x', i_priority => 3000000000)", "22023",
         "priority must be"},
        {"select send_batch('jobs', array['x'::bytea], i_priority => "
         "-3000000000)",
         "22023", "priority must be"},
        {"select publish('t', 'x', i_priority => 3000000000)", "22023",
         "priority must be"},
        {"select seal_prepare('jobs', 3000000000)", "22023", "n must be"},
        {"select create_queue('big', i_max_attempts => 3000000000)", "22023",
         "max_attempts must be"},
        {"select create_queue('big', i_max_body_bytes => 3000000000)", "22023",
         "max_body_bytes must be"},
        {"select alter_queue('jobs', i_max_attempts => 3000000000)", "22023",
         "max_attempts must be"},
        {"select alter_queue('jobs', i_max_body_bytes => -3000000000)", "22023",
         "max_body_bytes must be"},
        {"select add_route('t', '{}', 'jobs', 3000000000)", "22023",
         "position"},
        {"select fail((select min(id) from messages), 'e', 3000000000)",
         "TQ003", "attempt"},
        {"select set_visibility((select min(id) from messages), '1 s', "
         "3000000000)",
         "TQ003", "attempt"},
    };
    char msg[512];
    size_t i;

    tt_queue(f, "jobs", NULL);
    tt_exec(f->pg, "select create_topic('t', 'route', 'jobs')");
    tt_send(f, f->pg, "jobs", "a");
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *st = tt_fails(f->pg, msg, sizeof msg, "%s", cases[i].sql);

        if (strcmp(st, cases[i].state) != 0 ||
            strstr(msg, cases[i].says) == NULL)
            fail_msg("%s: want %s \"%s\", got %s %s", cases[i].sql,
                     cases[i].state, cases[i].says, st, msg);
    }
    /* An attempt no claim can have: nothing acked; a route position past
     * any: nothing removed. */
    assert_int_equal(tt_scalar(f->pg, "select ack(array[min(id)], "
                                      "array[3000000000]) from messages"),
                     0);
    assert_int_equal(
        tt_scalar(f->pg, "select remove_route('t', 3000000000)::int"), 0);
    assert_int_equal(tt_depth(f), 1);
    assert_int_equal(tt_scalar(f->pg, "select max_attempts from queues "
                                      "where name = 'jobs'"),
                     5);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sql_send_options, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_sql_send_wakes, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_idempotency_key, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_sql_integers_past_int_range,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_rollback_never_visible, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_commit_visible_once, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_send_batch_1000, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_all_byte_values, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_64mib_body, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_headers_round_trip, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_delay, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_priority_order, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_bad_batch_changes_nothing,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_metacharacters_verbatim, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_queue_settings_validated, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_sql_queue_names, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_sql_positional_api, tt_setup,
                                        tt_teardown),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("send", tests, NULL, NULL);
}
