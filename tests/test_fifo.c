/*
 * test_fifo.c - FIFO queues: each group is delivered in strict send order
 * with at most one message in flight, also across retries and rollbacks;
 * groups do not block each other; a duplicate dedup id inside the window
 * is dropped (the first id comes back), outside it is a new message.
 * Under concurrency: 4 consumer processes over 24 groups and 2016
 * messages, and concurrent senders sharing groups, keep every group in
 * order with one message in flight; a dead-lettered head lets its group
 * proceed; dedup with time passed in (i_now), also after consumption.
 * Cost: a claim with every group busy reads about as many index entries
 * at a depth of 20,000 as at 2,000 (statistics counters, not timing).
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
setup_fifo(void **state)
{
    tt_fixture *f;

    tt_setup(state);
    f = *state;
    tt_queue(f, "orders", TXQ_QUEUE_OPTS(.fifo = 1));
    return 0;
}

static void
send_group(tt_fixture *f, const char *group, const char *body)
{
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "orders", body, strlen(body),
                                 TXQ_SEND_OPTS(.group = group), NULL));
}

static void
test_group_order_one_in_flight(void **state)
{
    tt_fixture *f = *state;
    PGconn *b = tt_connect(f->schema);
    txq_msg **msgs = NULL, **m;
    size_t n = 0, i;
    txq_outcome out = 0;

    send_group(f, "g1", "g1-a");
    send_group(f, "g2", "g2-a");
    send_group(f, "g1", "g1-b");
    send_group(f, "g1", "g1-c");
    send_group(f, "g2", "g2-b");

    /* One claim for many: only the head of each group. */
    assert_txq_ok(f->c, txq_claim(f->c, f->pg, "orders", 10, NULL, &msgs, &n));
    assert_int_equal(n, 2);
    for (i = 0; i < n; i++) {
        const char *body = txq_msg_body(msgs[i], NULL);

        assert_true(strcmp(body, "g1-a") == 0 || strcmp(body, "g2-a") == 0);
    }
    /* Nothing more while both heads are in flight. */
    assert_int_equal(tt_scalar(b, "select count(*) from receive('orders', 10)"),
                     0);

    /* g1's head fails and retries later: g1 stays blocked, in order. */
    for (i = 0; i < n; i++) {
        if (strcmp(txq_msg_body(msgs[i], NULL), "g1-a") == 0) {
            assert_txq_ok(f->c,
                          txq_fail(f->c, f->pg, msgs[i], "later",
                                   TXQ_FAIL_OPTS(.retry_after = 60), &out));
        } else {
            assert_txq_ok(f->c, txq_ack(f->c, f->pg, msgs[i]));
        }
    }
    txq_msgs_free(msgs, n);
    m = tt_take(f, b, "orders", 1);
    assert_string_equal(txq_msg_body(m[0], NULL), "g2-b");
    assert_txq_ok(f->c, txq_ack(f->c, b, m[0]));
    txq_msgs_free(m, 1);
    assert_int_equal(tt_scalar(b, "select count(*) from receive('orders', 10)"),
                     0);

    /* After the retry delay g1 goes on from its head, in order. */
    {
        PGresult *res =
            tt_query(b, "select convert_from(body, 'UTF8'), attempts from "
                        "receive('orders', 10, null, now() + interval '61 s')");

        assert_int_equal(PQntuples(res), 1);
        assert_string_equal(PQgetvalue(res, 0, 0), "g1-a");
        assert_string_equal(PQgetvalue(res, 0, 1), "2");
        PQclear(res);
    }
    tt_exec(b, "select ack(array[id]) from messages where "
               "convert_from(body, 'UTF8') = 'g1-a'");
    m = tt_take(f, b, "orders", 0);
    assert_string_equal(txq_msg_body(m[0], NULL), "g1-b");
    assert_txq_ok(f->c, txq_ack(f->c, b, m[0]));
    txq_msgs_free(m, 1);
    m = tt_take(f, b, "orders", 0);
    assert_string_equal(txq_msg_body(m[0], NULL), "g1-c");
    txq_msgs_free(m, 1);
    PQfinish(b);
}

static void
test_rollback_keeps_order(void **state)
{
    tt_fixture *f = *state;
    PGconn *b = tt_connect(f->schema);
    txq_msg **m;

    send_group(f, "g", "1");
    send_group(f, "g", "2");
    /* A consumer takes the head and acks it, uncommitted... */
    tt_exec(f->pg, "begin");
    m = tt_take(f, f->pg, "orders", 0);
    assert_string_equal(txq_msg_body(m[0], NULL), "1");
    assert_txq_ok(f->c, txq_ack(f->c, f->pg, m[0]));
    txq_msgs_free(m, 1);
    /* ...so "2" must not be handed to anybody else yet. */
    assert_int_equal(tt_scalar(b, "select count(*) from receive('orders')"), 0);
    tt_exec(f->pg, "rollback");
    m = tt_take(f, b, "orders", 0);
    assert_string_equal(txq_msg_body(m[0], NULL), "1");
    txq_msgs_free(m, 1);
    PQfinish(b);
}

static void
test_dedup_window(void **state)
{
    tt_fixture *f = *state;
    int64_t a = 0, b = 0, c = 0;

    assert_txq_ok(f->c, txq_send(f->c, f->pg, "orders", "pay 10", 6,
                                 TXQ_SEND_OPTS(.dedup_id = "pay-1"), &a));
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "orders", "pay 10", 6,
                                 TXQ_SEND_OPTS(.dedup_id = "pay-1"), &b));
    assert_int_equal(a, b);
    assert_int_equal(tt_depth(f), 1);
    /* Also after the first was consumed, inside the 5 min window. */
    tt_exec(f->pg, "select ack(array[id]) from receive('orders')");
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "orders", "pay 10", 6,
                                 TXQ_SEND_OPTS(.dedup_id = "pay-1"), &c));
    assert_int_equal(c, a);
    assert_int_equal(tt_depth(f), 0);
    /* Another id is another message. */
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "orders", "pay 20", 6,
                                 TXQ_SEND_OPTS(.dedup_id = "pay-2"), &c));
    assert_true(c > a);
    /* Past the window the id is new again. */
    assert_true(tt_scalar(f->pg, "select send('orders', 'pay 10', "
                                 "i_dedup_id => 'pay-1', i_now => now() + "
                                 "interval '301 s')") > c);
    assert_int_equal(tt_depth(f), 2);
}

/* === concurrency: many consumers, many groups (messaging patterns) === */

/* A consumer process: claims from "orders" until the queue is empty.
 * Right after a claim commits it inserts each message's group into
 * inflight (unique: a second holder of a group fails the insert); in the
 * ack transaction it logs (group, seq, id) and deletes that row. Every
 * 37th message is released unfinished instead, to be delivered again. */
typedef struct consumer_arg {
    const char *schema;
    int id;
    int senders_done_table; /* wait for table senders_done to hold a row
                               per sender before stopping on empty */
    int senders;
} consumer_arg;

static int
child_exec(PGconn *pg, const char *sql, const char *const *params, int n)
{
    PGresult *r = PQexecParams(pg, sql, n, NULL, params, NULL, NULL, 0);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK ||
             PQresultStatus(r) == PGRES_TUPLES_OK;

    if (!ok)
        fprintf(stderr, "consumer: %s: %s", sql, PQerrorMessage(pg));
    PQclear(r);
    return ok;
}

static long long
child_scalar(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    long long v = -1;

    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return v;
}

static int
consume(void *arg)
{
    consumer_arg *a = arg;
    PGconn *pg = tt_child_connect(a->schema);
    txq_client *c = txq_client_new(TXQ_OPTIONS(.schema = a->schema));
    double until = tt_now() + 90;
    int rc = 1, handled = 0;
    char who[16];

    snprintf(who, sizeof who, "%d", a->id);
    if (pg == NULL || c == NULL)
        goto out;
    while (tt_now() < until) {
        txq_msg **m = NULL;
        size_t n = 0;
        char groups[512];
        size_t len = 0;
        const char *gp[1] = {groups};
        txq_err err = txq_claim(c, pg, "orders", 10, NULL, &m, &n);

        if (err == TXQ_EMPTY) {
            if (child_scalar(pg, "select count(*) from messages") == 0 &&
                (!a->senders_done_table ||
                 child_scalar(pg, "select count(*) from senders_done") ==
                     a->senders)) {
                rc = 0;
                goto out;
            }
            tt_sleep_ms(5);
            continue;
        }
        if (err != TXQ_OK) {
            fprintf(stderr, "consumer %d: claim: %s\n", a->id, txq_errmsg(c));
            goto out;
        }
        /* Group names are plain (g1, s2): an array literal as is. */
        groups[len++] = '{';
        for (size_t i = 0; i < n; i++)
            len += (size_t)snprintf(groups + len, sizeof groups - len, "%s%s",
                                    i > 0 ? "," : "", txq_msg_group(m[i]));
        snprintf(groups + len, sizeof groups - len, "}");
        if (!child_exec(pg, "insert into inflight select unnest($1::text[])",
                        gp, 1)) {
            rc = 3; /* two holders of one group */
            txq_msgs_free(m, n);
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            char id[32], att[16];
            const char *p[5] = {txq_msg_group(m[i]), txq_msg_body(m[i], NULL),
                                id, who, att};

            snprintf(id, sizeof id, "%lld", (long long)txq_msg_id(m[i]));
            snprintf(att, sizeof att, "%d", txq_msg_attempt(m[i]));
            if (++handled % 37 == 0) {
                /* Not done: release it; the same message comes back. */
                if (!child_exec(pg, "delete from inflight where grp = $1", p,
                                1) ||
                    txq_set_visibility(c, pg, m[i], 0) != TXQ_OK) {
                    txq_msgs_free(m, n);
                    goto out;
                }
                continue;
            }
            /* One transaction: the log row, the inflight row, the ack
             * (fenced by the attempt; it must ack exactly one). */
            if (!child_exec(pg,
                            "with d as (delete from inflight where grp = $1),"
                            " l as (insert into log (grp, body, id, consumer)"
                            " values ($1, $2, $3::bigint, $4::int))"
                            " select 1 / ack(array[$3::bigint],"
                            " array[$5::int])",
                            p, 5)) {
                txq_msgs_free(m, n);
                goto out;
            }
        }
        txq_msgs_free(m, n);
    }
    fprintf(stderr, "consumer %d: out of time\n", a->id);
out:
    txq_client_free(c);
    PQfinish(pg);
    return rc;
}

static void
make_log_tables(tt_fixture *f)
{
    tt_exec(f->pg, "create table inflight (grp text primary key)");
    tt_exec(f->pg, "create table log (n bigserial primary key, grp text, "
                   "body text, id bigint, consumer int)");
    tt_exec(f->pg, "create table senders_done (sender int)");
}

static void
test_concurrent_consumers_keep_group_order(void **state)
{
    tt_fixture *f = *state;
    enum { CONSUMERS = 4, GROUPS = 24, PER_GROUP = 84 };
    consumer_arg args[CONSUMERS];
    int pids[CONSUMERS];

    make_log_tables(f);
    /* Seq s of group g is body "s"; groups interleaved in send order. */
    tt_exec(f->pg,
            "select send('orders', convert_to(s::text, 'UTF8'), "
            "i_group => 'g' || g) from generate_series(1, %d) s, "
            "generate_series(1, %d) g order by s, g",
            PER_GROUP, GROUPS);
    assert_int_equal(tt_depth(f), GROUPS * PER_GROUP);
    for (int i = 0; i < CONSUMERS; i++) {
        args[i] = (consumer_arg){f->schema, i + 1, 0, 0};
        pids[i] = tt_fork(consume, &args[i]);
    }
    for (int i = 0; i < CONSUMERS; i++)
        assert_int_equal(tt_wait(pids[i]), 0);

    /* Everything consumed exactly once... */
    assert_int_equal(tt_scalar(f->pg, "select count(*) from log"),
                     GROUPS * PER_GROUP);
    assert_int_equal(tt_scalar(f->pg, "select count(distinct (grp, body)) "
                                      "from log"),
                     GROUPS * PER_GROUP);
    assert_int_equal(tt_depth(f), 0);
    /* ...each group in send order: in commit order of the acks, the seq of
     * a group goes 1, 2, 3, ... (one in flight at a time). */
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from (select body::int as "
                               "seq, row_number() over (partition by grp "
                               "order by n) as rn from log) x "
                               "where seq <> rn"),
                     0);
    /* The work was shared. */
    assert_true(tt_scalar(f->pg, "select count(distinct consumer) from log") >=
                2);
    assert_true(tt_scalar(f->pg, "select sum(retried + acked) from "
                                 "queue_stats") >= GROUPS * PER_GROUP);
}

/* A sender process: 40 transactions of 2 sends each to shared groups,
 * each held open a moment, so concurrent senders' commits interleave. */
typedef struct sender_arg {
    const char *schema;
    int id;
} sender_arg;

static int
send_some(void *arg)
{
    sender_arg *a = arg;
    PGconn *pg = tt_child_connect(a->schema);
    txq_client *c = txq_client_new(TXQ_OPTIONS(.schema = a->schema));
    int rc = 1;

    if (pg == NULL || c == NULL)
        goto out;
    for (int t = 0; t < 40; t++) {
        PQclear(PQexec(pg, "begin"));
        for (int k = 0; k < 2; k++) {
            char group[8], body[32];
            int len;

            snprintf(group, sizeof group, "s%d", (t + k + a->id) % 4);
            len = snprintf(body, sizeof body, "%d.%d.%d", a->id, t, k);
            if (txq_send(c, pg, "orders", body, (size_t)len,
                         TXQ_SEND_OPTS(.group = group), NULL) != TXQ_OK) {
                fprintf(stderr, "sender: %s\n", txq_errmsg(c));
                goto out;
            }
        }
        if (t % 3 == 0)
            tt_sleep_ms(1);
        PQclear(PQexec(pg, "commit"));
    }
    {
        char sql[64];
        snprintf(sql, sizeof sql, "insert into senders_done values (%d)",
                 a->id);
        PQclear(PQexec(pg, sql));
    }
    rc = 0;
out:
    txq_client_free(c);
    PQfinish(pg);
    return rc;
}

static void
test_concurrent_senders_and_consumers(void **state)
{
    tt_fixture *f = *state;
    enum { SENDERS = 3, CONSUMERS = 4 };
    sender_arg s[SENDERS];
    consumer_arg a[CONSUMERS];
    int spid[SENDERS], cpid[CONSUMERS];

    make_log_tables(f);
    for (int i = 0; i < CONSUMERS; i++) {
        a[i] = (consumer_arg){f->schema, i + 1, 1, SENDERS};
        cpid[i] = tt_fork(consume, &a[i]);
    }
    for (int i = 0; i < SENDERS; i++) {
        s[i] = (sender_arg){f->schema, i + 1};
        spid[i] = tt_fork(send_some, &s[i]);
    }
    for (int i = 0; i < SENDERS; i++)
        assert_int_equal(tt_wait(spid[i]), 0);
    for (int i = 0; i < CONSUMERS; i++)
        assert_int_equal(tt_wait(cpid[i]), 0);
    assert_int_equal(tt_scalar(f->pg, "select count(distinct body) from log"),
                     SENDERS * 40 * 2);
    /* Within a group, delivery follows the order the sends committed in,
     * which is id order: never a lower id after a higher one. */
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from (select id, lag(id) over "
                               "(partition by grp order by n) as prev from "
                               "log) x where id < prev"),
                     0);
    /* And each sender's own sends to a group stay in its order. */
    assert_int_equal(
        tt_scalar(f->pg,
                  "select count(*) from (select split_part(body, '.', 1) as "
                  "snd, split_part(body, '.', 2)::int * 10 + "
                  "split_part(body, '.', 3)::int as seq, n, grp from log) x "
                  "where exists (select 1 from (select split_part(body, '.', "
                  "1) as snd, split_part(body, '.', 2)::int * 10 + "
                  "split_part(body, '.', 3)::int as seq, n, grp from log) y "
                  "where y.snd = x.snd and y.grp = x.grp and y.seq < x.seq "
                  "and y.n > x.n)"),
        0);
}

static void
test_dead_lettered_head_lets_group_proceed(void **state)
{
    tt_fixture *f = *state;
    txq_msg **m;
    txq_outcome out = 0;
    int64_t head;

    tt_queue(f, "jobs", TXQ_QUEUE_OPTS(.fifo = 1, .max_attempts = 2));
    head = 0;
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "jobs", "1", 1,
                                 TXQ_SEND_OPTS(.group = "g"), &head));
    for (int i = 2; i <= 3; i++) {
        char b[2] = {(char)('0' + i), 0};
        assert_txq_ok(f->c, txq_send(f->c, f->pg, "jobs", b, 1,
                                     TXQ_SEND_OPTS(.group = "g"), NULL));
    }
    /* Attempt 1 fails: retried later, and the group waits for it. */
    m = tt_take(f, f->pg, "jobs", 1);
    assert_string_equal(txq_msg_body(m[0], NULL), "1");
    assert_txq_ok(f->c, txq_fail(f->c, f->pg, m[0], "boom",
                                 TXQ_FAIL_OPTS(.retry_after = 0.001), &out));
    assert_int_equal(out, TXQ_OUTCOME_RETRY);
    txq_msgs_free(m, 1);
    tt_sleep_ms(5);
    /* Attempt 2 (the last) fails: dead-lettered; the group goes on with
     * the next message. */
    m = tt_take(f, f->pg, "jobs", 1);
    assert_string_equal(txq_msg_body(m[0], NULL), "1");
    assert_txq_ok(f->c, txq_fail(f->c, f->pg, m[0], "boom again", NULL, &out));
    assert_int_equal(out, TXQ_OUTCOME_DEAD);
    txq_msgs_free(m, 1);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from dead_letters "
                                      "where group_key = 'g' and reason = "
                                      "'exhausted'"),
                     1);
    m = tt_take(f, f->pg, "jobs", 1);
    assert_string_equal(txq_msg_body(m[0], NULL), "2");
    assert_txq_ok(f->c, txq_ack(f->c, f->pg, m[0]));
    txq_msgs_free(m, 1);

    /* A requeued dead letter keeps its id, so it is the group's head
     * again: it comes before the messages sent after it. */
    assert_txq_ok(f->c, txq_requeue(f->c, f->pg, head));
    m = tt_take(f, f->pg, "jobs", 1);
    assert_string_equal(txq_msg_body(m[0], NULL), "1");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from receive('jobs', "
                                      "10)"),
                     0);
    assert_txq_ok(f->c, txq_ack(f->c, f->pg, m[0]));
    txq_msgs_free(m, 1);
    m = tt_take(f, f->pg, "jobs", 1);
    assert_string_equal(txq_msg_body(m[0], NULL), "3");
    txq_msgs_free(m, 1);
}

static void
test_dedup_with_time_passed_in(void **state)
{
    tt_fixture *f = *state;
    long long first, again, later;

    /* now() is fixed for the transaction, so T + x is exact. */
    tt_exec(f->pg, "begin");
    first = tt_scalar(f->pg, "select send('orders', 'pay', i_group => 'a', "
                             "i_dedup_id => 'd1')");
    /* Inside the window, even from another group: the first id, nothing
     * written. */
    again = tt_scalar(f->pg, "select send('orders', 'pay', i_group => 'b', "
                             "i_dedup_id => 'd1', i_now => now() + "
                             "interval '299 s')");
    assert_int_equal(again, first);
    assert_int_equal(tt_depth(f), 1);
    tt_exec(f->pg, "commit");

    /* Consumed: still a duplicate inside the window. */
    assert_int_equal(
        tt_scalar(f->pg, "select ack(array[id]) from receive('orders')"), 1);
    assert_int_equal(tt_depth(f), 0);
    again = tt_scalar(f->pg, "select send('orders', 'pay', i_dedup_id => "
                             "'d1', i_now => (select expires_at from dedup) "
                             "- interval '1 s')");
    assert_int_equal(again, first);
    assert_int_equal(tt_depth(f), 0);
    /* send_batch too. */
    assert_int_equal(tt_scalar(f->pg, "select count(*) from send_batch("
                                      "'orders', array['pay'::bytea], "
                                      "i_dedup_ids => array['d1'])"),
                     1);
    assert_int_equal(tt_depth(f), 0);

    /* Past the window it is new; maintain() prunes the old entries. */
    later = tt_scalar(f->pg, "select send('orders', 'pay', i_dedup_id => "
                             "'d1', i_now => (select expires_at from dedup))");
    assert_true(later > first);
    assert_int_equal(tt_depth(f), 1);
    tt_exec(f->pg, "select send('orders', 'x', i_dedup_id => 'd2')");
    /* An id lasts while its message does, past the window too. */
    assert_int_equal(tt_scalar(f->pg, "select (maintain(now() + interval "
                                      "'2 hours') ->> 'dedup_pruned')::int"),
                     0);
    assert_int_equal(tt_scalar(f->pg, "select send('orders', 'x', "
                                      "i_dedup_id => 'd2', i_now => now() + "
                                      "interval '2 hours')"),
                     tt_scalar(f->pg, "select max(id) from messages"));
    assert_int_equal(tt_depth(f), 2);
    tt_exec(f->pg, "select purge('orders', 'test')");
    assert_int_equal(tt_scalar(f->pg, "select (maintain(now() + interval "
                                      "'2 hours') ->> 'dedup_pruned')::int"),
                     2);

    /* A rolled-back send does not take its dedup id. */
    tt_exec(f->pg, "begin");
    tt_exec(f->pg, "select send('orders', 'y', i_dedup_id => 'd3')");
    tt_exec(f->pg, "rollback");
    first = tt_scalar(f->pg, "select send('orders', 'y', i_dedup_id => "
                             "'d3')");
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from messages where "
                               "id = %lld",
                               first),
                     1);

    /* A shorter window on the queue. */
    assert_txq_ok(f->c, txq_queue_alter(f->c, f->pg, "orders",
                                        TXQ_QUEUE_OPTS(.dedup_window = 10)));
    first = tt_scalar(f->pg, "select send('orders', 'z', i_dedup_id => "
                             "'d4')");
    assert_int_equal(tt_scalar(f->pg, "select send('orders', 'z', "
                                      "i_dedup_id => 'd4', i_now => now() + "
                                      "interval '9 s')"),
                     first);
    /* Past the window, while the message lives: still the first. */
    assert_int_equal(tt_scalar(f->pg, "select send('orders', 'z', "
                                      "i_dedup_id => 'd4', i_now => now() + "
                                      "interval '11 s')"),
                     first);
    tt_exec(f->pg, "select purge('orders', 'test')");
    assert_true(tt_scalar(f->pg,
                          "select send('orders', 'z', i_dedup_id => "
                          "'d4', i_now => now() + interval '11 s')") > first);
}

/* === claim cost: bounded by the groups, not by the backlog === */

/* Index entries (all of messages' indexes) one receive('orders', 10)
 * reads, from this backend's statistics inside one transaction; the claim
 * must come back empty (every group busy). A first, unmeasured claim lets
 * the index entries of the claim's old row versions be marked dead, as
 * any claim on a live queue would have. */
static long long
busy_claim_index_reads(tt_fixture *f)
{
    const char *reads = "select sum(pg_stat_get_xact_tuples_returned("
                        "indexrelid)) from pg_index where indrelid in "
                        "(select relid from pg_partition_tree('messages'))";
    long long before, after;

    assert_int_equal(
        tt_scalar(f->pg, "select count(*) from receive('orders', 10)"), 0);
    tt_exec(f->pg, "begin");
    before = tt_scalar(f->pg, "%s", reads);
    assert_int_equal(
        tt_scalar(f->pg, "select count(*) from receive('orders', 10)"), 0);
    after = tt_scalar(f->pg, "%s", reads);
    tt_exec(f->pg, "commit");
    return after - before;
}

static void
test_busy_claim_cost_independent_of_depth(void **state)
{
    tt_fixture *f = *state;
    long long shallow, deep;
    PGresult *res;

    /* 24 groups, 2,000 messages, every group's head in flight. */
    tt_exec(f->pg, "select send('orders', 'x', i_group => 'g' || (i %% 24)) "
                   "from generate_series(1, 2000) i");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from "
                                      "receive('orders', 100, '1 hour')"),
                     24);
    shallow = busy_claim_index_reads(f);

    /* Ten times deeper behind the same busy heads. */
    tt_exec(f->pg, "select send('orders', 'x', i_group => 'g' || (i %% 24)) "
                   "from generate_series(1, 18000) i");
    deep = busy_claim_index_reads(f);
    print_message("index entries read by an all-busy claim: %lld at depth "
                  "2000, %lld at depth 20000\n",
                  shallow, deep);
    /* The old claim read every ready message (2,000 and 20,000): now
     * about the claim's window (v_left + 32) plus one probe per group. */
    assert_true(shallow > 0 && shallow <= 400);
    assert_true(deep <= shallow + 50);

    /* A free group far behind the busy backlog is still found (the loose
     * scan over groups), and free heads go oldest first, not by name. */
    tt_exec(f->pg, "select send('orders', 'late', i_group => 'zz')");
    tt_exec(f->pg, "select send('orders', 'later', i_group => 'aa')");
    res = tt_query(f->pg, "select convert_from(body, 'UTF8') from "
                          "receive('orders', 1)");
    assert_int_equal(PQntuples(res), 1);
    assert_string_equal(PQgetvalue(res, 0, 0), "late");
    PQclear(res);
    res = tt_query(f->pg, "select convert_from(body, 'UTF8') from "
                          "receive('orders', 10)");
    assert_int_equal(PQntuples(res), 1);
    assert_string_equal(PQgetvalue(res, 0, 0), "later");
    PQclear(res);
    /* One group freed: exactly its next message, still in order. */
    tt_exec(f->pg, "select ack(array[min(id)]) from messages "
                   "where group_key = 'g7'");
    res = tt_query(f->pg, "select group_key, id = (select min(id) from "
                          "messages where group_key = 'g7') from "
                          "receive('orders', 10)");
    assert_int_equal(PQntuples(res), 1);
    assert_string_equal(PQgetvalue(res, 0, 0), "g7");
    assert_string_equal(PQgetvalue(res, 0, 1), "t");
    PQclear(res);
}

/* A group's dead-lettered head requeued while its next message is in
 * flight goes behind it (new id), never beside it: one message of a group
 * in flight, in order. */
static void
test_requeue_behind_in_flight(void **state)
{
    tt_fixture *f = *state;
    PGconn *other = tt_connect(f->schema);
    long long a, b, again;

    tt_exec(f->pg, "select alter_queue('orders', i_max_attempts => 1)");
    send_group(f, "g1", "a");
    send_group(f, "g1", "b");
    a = tt_scalar(f->pg, "select id from receive('orders', 10)");
    tt_exec(f->pg, "select fail(%lld, 'bad', 1, i_permanent => true)", a);
    b = tt_scalar(f->pg, "select id from receive('orders', 10)");
    assert_true(b > a);
    again = tt_scalar(f->pg, "select requeue(%lld)", a);
    assert_true(again > b);
    /* b is in flight: nothing of g1 is handed out. */
    assert_int_equal(
        tt_scalar(f->pg, "select count(*) from receive('orders', 10)"), 0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from pop('orders', 10)"),
                     0);
    assert_int_equal(
        tt_scalar(f->pg, "select ack(array[%lld]::bigint[], array[1])", b), 1);
    /* Then the requeued one, with its error history and the audit's two
     * ids. */
    assert_int_equal(tt_scalar(f->pg, "select id from receive('orders', 10)"),
                     again);
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from message_errors where "
                               "message_id = %lld",
                               again),
                     1);
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from audit_log where action = "
                               "'requeue' and message_id = %lld and detail "
                               "like '%%as message %lld,%%'",
                               a, again),
                     1);
    /* A group with nothing after it keeps the id. */
    send_group(f, "g2", "c");
    a = tt_scalar(f->pg, "select id from receive('orders', 10)");
    tt_exec(f->pg, "select fail(%lld, 'bad', 1, i_permanent => true)", a);
    assert_int_equal(tt_scalar(f->pg, "select requeue(%lld)", a), a);
    tt_exec(f->pg,
            "select ack(array[%lld]::bigint[], array[1]) from "
            "receive('orders', 10)",
            a);
    /* Held by another transaction's take (a lock, nothing written): in
     * flight too. */
    send_group(f, "g3", "d");
    send_group(f, "g3", "e");
    a = tt_scalar(f->pg, "select id from receive('orders', 10)");
    tt_exec(f->pg, "select fail(%lld, 'bad', 1, i_permanent => true)", a);
    tt_exec(other, "begin");
    b = tt_scalar(other, "select id from take('orders', 10)");
    again = tt_scalar(f->pg, "select requeue(%lld)", a);
    assert_true(again > b);
    tt_exec(other, "select ack(array[%lld]::bigint[], array[1])", b);
    tt_exec(other, "commit");
    PQfinish(other);
    assert_int_equal(tt_scalar(f->pg, "select id from receive('orders', 10)"),
                     again);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_requeue_behind_in_flight,
                                        setup_fifo, tt_teardown),
        cmocka_unit_test_setup_teardown(test_group_order_one_in_flight,
                                        setup_fifo, tt_teardown),
        cmocka_unit_test_setup_teardown(test_rollback_keeps_order, setup_fifo,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_dedup_window, setup_fifo,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(
            test_concurrent_consumers_keep_group_order, setup_fifo,
            tt_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_senders_and_consumers,
                                        setup_fifo, tt_teardown),
        cmocka_unit_test_setup_teardown(
            test_dead_lettered_head_lets_group_proceed, setup_fifo,
            tt_teardown),
        cmocka_unit_test_setup_teardown(test_dedup_with_time_passed_in,
                                        setup_fifo, tt_teardown),
        cmocka_unit_test_setup_teardown(
            test_busy_claim_cost_independent_of_depth, setup_fifo, tt_teardown),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("fifo", tests, NULL, NULL);
}
