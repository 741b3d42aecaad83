/*
 * test_stats.c - queue_stats at a backlog past its exact range: the
 * messages' storage above 2,000 pages, a big queue's counts come from a
 * sample (estimated, close to the truth), a small queue's stay exact
 * (through the index), and the outcome counters stay exact.
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

#include "tt.h"

#define BIG 80000

static void
test_estimated_above_the_exact_range(void **state)
{
    tt_fixture *f = *state;
    long long depth, pages;
    int i;

    tt_queue(f, "big", NULL);
    tt_queue(f, "small", NULL);
    /* 200-byte bodies: about 3,000 pages. */
    for (i = 0; i < 4; i++)
        tt_exec(f->pg,
                "select count(*) from send_batch('big', array(select "
                "convert_to(repeat('x', 200) || g, 'UTF8') from "
                "generate_series(1, %d) g))",
                BIG / 4);
    for (i = 0; i < 50; i++)
        tt_send(f, f->pg, "small", "s");
    tt_exec(f->pg, "select count(*) from receive('small', 3)");
    tt_exec(f->pg, "select count(*) from pop('big', 10)");
    pages = tt_scalar(f->pg, "select (pg_relation_size('messages_0') + "
                             "pg_relation_size('messages_1') + "
                             "pg_relation_size('messages_later')) / 8192");
    assert_true(pages > 2000);

    /* The big queue: estimated, within 10% of the truth. */
    assert_int_equal(tt_scalar(f->pg, "select estimated::int from "
                                      "queue_stats where queue = 'big'"),
                     1);
    depth = tt_scalar(f->pg, "select depth from queue_stats where queue = "
                             "'big'");
    printf("big: %lld estimated for %d (%lld pages)\n", depth, BIG - 10, pages);
    assert_true(depth * 10 > (BIG - 10) * 9LL &&
                depth * 10 < (BIG - 10) * 11LL);
    /* The small one: exact, each state. */
    assert_int_equal(tt_scalar(f->pg, "select estimated::int from "
                                      "queue_stats where queue = 'small'"),
                     0);
    assert_int_equal(tt_scalar(f->pg, "select depth from queue_stats where "
                                      "queue = 'small'"),
                     50);
    assert_int_equal(tt_scalar(f->pg, "select in_flight from queue_stats "
                                      "where queue = 'small'"),
                     3);
    assert_int_equal(tt_scalar(f->pg, "select ready from queue_stats where "
                                      "queue = 'small'"),
                     47);
    /* The counters stay exact. */
    assert_int_equal(tt_scalar(f->pg, "select acked from queue_stats where "
                                      "queue = 'big'"),
                     10);

    /* Emptied: exact again. */
    tt_exec(f->pg, "select purge('big', 'test')");
    tt_exec(f->pg, "vacuum messages");
    assert_int_equal(tt_scalar(f->pg, "select depth from queue_stats where "
                                      "queue = 'big'"),
                     0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_estimated_above_the_exact_range,
                                        tt_setup, tt_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
