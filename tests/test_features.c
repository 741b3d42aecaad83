/*
 * test_features.c - the SQS-grade features: priorities, per-message and
 * per-queue delays, visibility extension for long handlers, long-poll
 * receive bounded by the caller's wait, batches of 10,000 messages in one
 * call (send, receive, ack; C and SQL), expiry into the dead letters,
 * archive pruning by maintain(i_now), and a 64 MiB body of every byte
 * value. Time is passed in (i_now), never slept, except for the long poll.
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

/* Messages receive() would give at now() + secs (claims nothing: rolled
 * back). */
static long long
ready_at(tt_fixture *f, const char *queue, int secs)
{
    long long n;

    tt_exec(f->pg, "begin");
    n = tt_scalar(f->pg,
                  "select count(*) from receive('%s', 1000, null, now() + "
                  "interval '%d s')",
                  queue, secs);
    tt_exec(f->pg, "rollback");
    return n;
}

static void
test_priorities(void **state)
{
    tt_fixture *f = *state;
    const char *bodies[] = {"a", "b", "c", "d", "e"};
    int prios[] = {0, 5, -1, 5, 32767};
    const char *want[] = {"e", "b", "d", "a", "c"};
    txq_msg **m = NULL;
    size_t n = 0;

    for (int i = 0; i < 5; i++)
        assert_txq_ok(f->c,
                      txq_send(f->c, f->pg, "jobs", bodies[i], 1,
                               TXQ_SEND_OPTS(.priority = prios[i]), NULL));
    /* Highest first, then oldest. */
    assert_txq_ok(f->c, txq_receive(f->c, f->pg, "jobs", 10, NULL, &m, &n));
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(txq_msg_body(m[i], NULL), want[i]);
        assert_int_equal(txq_msg_priority(m[i]),
                         i == 0 ? 32767 : (i < 3 ? 5 : (i == 3 ? 0 : -1)));
    }
    txq_msgs_free(m, n);
    /* One at a time, the same order. */
    tt_exec(f->pg, "select set_visibility(id, '0') from messages");
    for (int i = 0; i < 5; i++) {
        m = tt_take(f, f->pg, "jobs", 1);
        assert_string_equal(txq_msg_body(m[0], NULL), want[i]);
        txq_msgs_free(m, 1);
    }
}

static void
test_delays(void **state)
{
    tt_fixture *f = *state;
    txq_msg **m = NULL;
    size_t n = 0;
    txq_queue_opts bad = {.size = sizeof(txq_queue_opts), .delay = -1};

    /* Per message. */
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "jobs", "later", 5,
                                 TXQ_SEND_OPTS(.delay = 60), NULL));
    assert_txq_rc(f->c, txq_receive(f->c, f->pg, "jobs", 1, NULL, &m, &n),
                  TXQ_EMPTY);
    assert_int_equal(tt_scalar(f->pg, "select delayed from queue_stats"), 1);
    assert_int_equal(ready_at(f, "jobs", 59), 0);
    assert_int_equal(ready_at(f, "jobs", 61), 1);

    /* Per queue: a send without its own delay waits the queue's. */
    tt_queue(f, "slow", TXQ_QUEUE_OPTS(.delay = 30));
    assert_int_equal(tt_scalar(f->pg, "select extract(epoch from delay) from "
                                      "queues where name = 'slow'"),
                     30);
    tt_send(f, f->pg, "slow", "q1");
    assert_int_equal(ready_at(f, "slow", 0), 0);
    assert_int_equal(ready_at(f, "slow", 29), 0);
    assert_int_equal(ready_at(f, "slow", 31), 1);
    /* A message's own delay wins, also an explicit 0 (SQL) ... */
    tt_exec(f->pg, "select send('slow', 'now', i_delay => '0')");
    tt_exec(f->pg, "select send('slow', 'soon', i_delay => '5 s')");
    assert_int_equal(ready_at(f, "slow", 0), 1);
    assert_int_equal(ready_at(f, "slow", 6), 2);
    /* ... and batches take the queue's delay too. */
    tt_exec(f->pg, "select send_batch('slow', array['b1', 'b2']::bytea[])");
    assert_int_equal(ready_at(f, "slow", 10), 2);
    assert_int_equal(ready_at(f, "slow", 31), 5);
    /* Altered: later sends follow the new delay. */
    assert_txq_ok(f->c, txq_queue_alter(f->c, f->pg, "slow",
                                        TXQ_QUEUE_OPTS(.delay = 0.5)));
    tt_send(f, f->pg, "slow", "q2");
    assert_int_equal(ready_at(f, "slow", 1), 2);
    tt_exec(f->pg, "select alter_queue('slow', i_delay => '0')");
    tt_send(f, f->pg, "slow", "q3");
    assert_int_equal(ready_at(f, "slow", 0), 2);

    /* Bad delays, nothing changed. */
    assert_txq_rc(f->c, txq_queue_create(f->c, f->pg, "bad", &bad), TXQ_EINVAL);
    assert_string_equal(txq_errmsg(f->c), "delay must be between 0 and "
                                          "31536000 seconds (got -1)");
    bad.delay = 366 * 86400.0;
    assert_txq_rc(f->c, txq_queue_alter(f->c, f->pg, "slow", &bad), TXQ_EINVAL);
    assert_string_equal(
        tt_fails(f->pg, NULL, 0,
                 "select create_queue('bad', i_delay => '-1 s')"),
        "22023");
    assert_string_equal(
        tt_fails(f->pg, NULL, 0,
                 "select alter_queue('slow', i_delay => '400 days')"),
        "22023");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues where "
                                      "name = 'bad'"),
                     0);
    assert_int_equal(tt_scalar(f->pg, "select extract(epoch from delay) from "
                                      "queues where name = 'slow'"),
                     0);
}

static void
test_visibility_extension(void **state)
{
    tt_fixture *f = *state;
    txq_msg **m;
    double until;

    tt_send(f, f->pg, "jobs", "long");
    m = tt_take(f, f->pg, "jobs", 1); /* 30 s claim */
    until = txq_msg_visible_until(m[0]);
    assert_int_equal(ready_at(f, "jobs", 31), 1);
    /* A long handler extends its claim from now. */
    assert_txq_ok(f->c, txq_set_visibility(f->c, f->pg, m[0], 600));
    assert_int_equal(ready_at(f, "jobs", 31), 0);
    assert_int_equal(ready_at(f, "jobs", 599), 0);
    assert_int_equal(ready_at(f, "jobs", 601), 1);
    assert_true((double)tt_scalar(f->pg,
                                  "select extract(epoch from "
                                  "visible_at) from messages") > until + 500);
    /* The extended claim can still be acked by its holder. */
    assert_txq_ok(f->c, txq_ack(f->c, f->pg, m[0]));
    txq_msgs_free(m, 1);
    assert_int_equal(tt_depth(f), 0);
}

static int
send_later(void *arg)
{
    const char *schema = arg;
    PGconn *pg;
    PGresult *r;
    int ok;

    pg = tt_child_connect(schema);
    if (pg == NULL)
        return 1;
    tt_sleep_ms(300);
    r = PQexec(pg, "select send('jobs', 'woken')");
    ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    PQclear(r);
    PQfinish(pg);
    return ok ? 0 : 1;
}

static void
test_long_poll(void **state)
{
    tt_fixture *f = *state;
    txq_msg **m = NULL;
    size_t n = 0;
    double t0 = tt_now();
    int pid;

    /* Nothing comes: back after the caller's bound, not before. */
    assert_txq_rc(
        f->c,
        txq_claim(f->c, f->pg, "jobs", 1, TXQ_RECV_OPTS(.wait = 0.3), &m, &n),
        TXQ_EMPTY);
    assert_true(tt_now() - t0 >= 0.29);
    assert_true(tt_now() - t0 < 2);
    /* A send (after 0.3 s) wakes the waiter by its notification: long
     * before the bound, and before the fallback poll's first look (1 s). */
    pid = tt_fork(send_later, f->schema);
    t0 = tt_now();
    assert_txq_ok(f->c, txq_claim(f->c, f->pg, "jobs", 1,
                                  TXQ_RECV_OPTS(.wait = 10), &m, &n));
    if (tt_now() - t0 > 0.95)
        fail_msg("woken after %.3f s: by the fallback poll, not the send's "
                 "notification",
                 tt_now() - t0);
    assert_string_equal(txq_msg_body(m[0], NULL), "woken");
    txq_msgs_free(m, n);
    assert_int_equal(tt_wait(pid), 0);
}

static void
test_batches_of_10000(void **state)
{
    tt_fixture *f = *state;
    enum { N = 10000 };
    const void **bodies = calloc(N, sizeof *bodies);
    size_t *lens = calloc(N, sizeof *lens);
    char *text = calloc(N, 8);
    int64_t *ids = calloc(N, sizeof *ids);
    txq_msg **m = NULL;
    size_t n = 0, acked = 0;

    assert_non_null(bodies);
    assert_non_null(lens);
    assert_non_null(text);
    assert_non_null(ids);
    for (int i = 0; i < N; i++) {
        lens[i] = (size_t)snprintf(text + i * 8, 8, "m%d", i);
        bodies[i] = text + i * 8;
    }
    /* C: one call each for send, receive and ack. */
    tt_exec(f->pg, "begin");
    assert_txq_ok(
        f->c, txq_send_batch(f->c, f->pg, "jobs", bodies, lens, N, NULL, ids));
    for (int i = 1; i < N; i++)
        assert_true(ids[i] > ids[i - 1]);
    assert_txq_ok(f->c, txq_receive(f->c, f->pg, "jobs", N, NULL, &m, &n));
    assert_int_equal(n, N);
    assert_int_equal(txq_msg_id(m[0]), ids[0]);
    assert_string_equal(txq_msg_body(m[N - 1], NULL), "m9999");
    assert_txq_ok(f->c, txq_ack_batch(f->c, f->pg, m, n, &acked));
    assert_int_equal(acked, N);
    tt_exec(f->pg, "commit");
    txq_msgs_free(m, n);
    assert_int_equal(tt_depth(f), 0);
    assert_int_equal(tt_scalar(f->pg, "select acked from queue_stats"), N);

    /* SQL: the same in three statements. */
    assert_int_equal(tt_scalar(f->pg, "select count(*) from send_batch('jobs', "
                                      "(select array_agg(convert_to('s' || i, "
                                      "'UTF8')) from generate_series(1, "
                                      "10000) i))"),
                     N);
    tt_exec(f->pg, "create temp table got as select id, attempts from "
                   "receive('jobs', 10000)");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from got"), N);
    assert_int_equal(tt_scalar(f->pg, "select ack(array_agg(id order by id), "
                                      "array_agg(attempts order by id)) from "
                                      "got"),
                     N);
    assert_int_equal(tt_depth(f), 0);
    free(bodies);
    free(lens);
    free(text);
    free(ids);
}

static void
test_expiry(void **state)
{
    tt_fixture *f = *state;
    txq_msg **m = NULL;
    size_t n = 0;

    tt_queue(f, "fresh", TXQ_QUEUE_OPTS(.expire_after = 10));
    tt_send(f, f->pg, "fresh", "milk");
    tt_send(f, f->pg, "fresh", "bread");
    /* Not yet. */
    assert_int_equal(tt_scalar(f->pg, "select (maintain(now() + interval "
                                      "'9 s') ->> 'expired')::int"),
                     0);
    /* Past it: into the dead letters with reason expired, counted; never
     * delivered. */
    assert_int_equal(tt_scalar(f->pg, "select (maintain(now() + interval "
                                      "'11 s') ->> 'expired')::int"),
                     2);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from dead_letters "
                                      "where queue = 'fresh' and reason = "
                                      "'expired'"),
                     2);
    assert_int_equal(tt_scalar(f->pg, "select expired from queue_stats where "
                                      "queue = 'fresh'"),
                     2);
    assert_txq_rc(f->c, txq_receive(f->c, f->pg, "fresh", 5, NULL, &m, &n),
                  TXQ_EMPTY);
    /* receive() past the expiry does the same for what maintain missed. */
    tt_send(f, f->pg, "fresh", "eggs");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from receive('fresh', "
                                      "5, null, now() + interval '11 s')"),
                     0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from dead_letters "
                                      "where reason = 'expired'"),
                     3);
    /* An expired message can be requeued like any dead letter. */
    tt_exec(f->pg, "select requeue(id) from dead_letters limit 1");
    assert_int_equal(tt_depth(f), 1);
}

static void
test_archive_pruning(void **state)
{
    tt_fixture *f = *state;

    tt_queue(f, "kept", TXQ_QUEUE_OPTS(.archive_for = 60));
    for (int i = 0; i < 3; i++)
        tt_send(f, f->pg, "kept", "x");
    tt_send(f, f->pg, "jobs", "not archived");
    tt_exec(f->pg, "select ack(array_agg(id)) from receive('kept', 10)");
    tt_exec(f->pg, "select ack(array_agg(id)) from receive('jobs', 10)");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from archive"), 3);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from archive where "
                                      "outcome = 'acked' and body = 'x'"),
                     3);
    /* Inside the retention: kept. Past it: pruned. */
    assert_int_equal(tt_scalar(f->pg, "select (maintain(now() + interval "
                                      "'59 s') ->> 'archive_pruned')::int"),
                     0);
    assert_int_equal(tt_scalar(f->pg, "select (maintain(now() + interval "
                                      "'61 s') ->> 'archive_pruned')::int"),
                     3);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from archive"), 0);

    /* Turning the archive off prunes what it kept at the next run. */
    tt_send(f, f->pg, "kept", "y");
    tt_exec(f->pg, "select ack(array_agg(id)) from receive('kept', 10)");
    assert_txq_ok(f->c, txq_queue_alter(
                            f->c, f->pg, "kept",
                            TXQ_QUEUE_OPTS(.archive_for = 0,
                                           .set = TXQ_QUEUE_SET_ARCHIVE_FOR)));
    assert_int_equal(tt_scalar(f->pg, "select (maintain() ->> "
                                      "'archive_pruned')::int"),
                     1);
    /* The prune probes (queue_id, finished_at), chunk by chunk. */
    assert_int_equal(tt_scalar(f->pg, "select count(*) from pg_indexes where "
                                      "indexname = "
                                      "'archive_queue_finished_idx' and "
                                      "schemaname = current_schema()"),
                     1);
}

static void
test_64_mib_body(void **state)
{
    tt_fixture *f = *state;
    size_t len = (size_t)64 << 20, got = 0;
    unsigned char *body = malloc(len);
    txq_msg **m;
    const unsigned char *back;

    assert_non_null(body);
    for (size_t i = 0; i < len; i++)
        body[i] = (unsigned char)(i * 31 + (i >> 16));
    tt_queue(f, "big", TXQ_QUEUE_OPTS(.max_body_bytes = (int64_t)64 << 20));
    /* One byte over: refused, nothing written. */
    tt_queue(f, "small", TXQ_QUEUE_OPTS(.max_body_bytes = 1000));
    assert_txq_rc(f->c, txq_send(f->c, f->pg, "small", body, 1001, NULL, NULL),
                  TXQ_ETOOBIG);
    assert_int_equal(tt_depth(f), 0);

    assert_txq_ok(f->c, txq_send(f->c, f->pg, "big", body, len, NULL, NULL));
    m = tt_take(f, f->pg, "big", 1);
    back = txq_msg_body(m[0], &got);
    assert_int_equal(got, len);
    assert_true(memcmp(back, body, len) == 0);
    assert_int_equal(back[len], 0); /* NUL after the body */
    assert_txq_ok(f->c, txq_ack(f->c, f->pg, m[0]));
    txq_msgs_free(m, 1);
    free(body);
    assert_int_equal(tt_depth(f), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_priorities, tt_setup_jobs,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_delays, tt_setup_jobs,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_visibility_extension,
                                        tt_setup_jobs, tt_teardown),
        cmocka_unit_test_setup_teardown(test_long_poll, tt_setup_jobs,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_batches_of_10000, tt_setup_jobs,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_expiry, tt_setup_jobs,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_archive_pruning, tt_setup_jobs,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_64_mib_body, tt_setup_jobs,
                                        tt_teardown),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("features", tests, NULL, NULL);
}
