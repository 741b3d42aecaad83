/*
 * test_fifo.c - FIFO queues: each group is delivered in strict send order
 * with at most one message in flight, also across retries and rollbacks;
 * groups do not block each other; a duplicate dedup id inside the window
 * is dropped (the first id comes back), outside it is a new message.
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
    tt_queue(f, "orders", &(txq_queue_opts){.fifo = 1});
    return 0;
}

static void
send_group(tt_fixture *f, const char *group, const char *body)
{
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "orders", body, strlen(body),
                                 &(txq_send_opts){.group = group}, NULL));
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
                                   &(txq_fail_opts){.retry_after = 60}, &out));
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
                                 &(txq_send_opts){.dedup_id = "pay-1"}, &a));
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "orders", "pay 10", 6,
                                 &(txq_send_opts){.dedup_id = "pay-1"}, &b));
    assert_int_equal(a, b);
    assert_int_equal(tt_depth(f), 1);
    /* Also after the first was consumed, inside the 5 min window. */
    tt_exec(f->pg, "select ack(array[id]) from receive('orders')");
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "orders", "pay 10", 6,
                                 &(txq_send_opts){.dedup_id = "pay-1"}, &c));
    assert_int_equal(c, a);
    assert_int_equal(tt_depth(f), 0);
    /* Another id is another message. */
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "orders", "pay 20", 6,
                                 &(txq_send_opts){.dedup_id = "pay-2"}, &c));
    assert_true(c > a);
    /* Past the window the id is new again. */
    assert_true(tt_scalar(f->pg, "select send('orders', 'pay 10', "
                                 "i_dedup_id => 'pay-1', i_now => now() + "
                                 "interval '301 s')") > c);
    assert_int_equal(tt_depth(f), 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_group_order_one_in_flight,
                                        setup_fifo, tt_teardown),
        cmocka_unit_test_setup_teardown(test_rollback_keeps_order, setup_fifo,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_dedup_window, setup_fifo,
                                        tt_teardown),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("fifo", tests, NULL, NULL);
}
