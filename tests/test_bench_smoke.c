/*
 * test_bench_smoke.c - bench/'s C driver, txq-bench, runs each library
 * workload on a few hundred messages in the test's schema. txq-bench
 * checks its own counts (the queue grew by exactly N, a drain left it
 * empty and acked exactly N) and exits 1 otherwise, so this keeps the
 * benchmark from rotting between runs of bench/run.sh. Seconds, not a
 * measurement: the benchmark itself never runs in the test suite.
 */
#include <stdio.h>
#include <string.h>

#include "tt.h"

/* txq-bench -c 2 cmd [n] must exit 0 and report msgs=n. */
static void
bench_ok(tt_fixture *f, const char *cmd, const char *n)
{
    tt_run r;
    char want[64];

    tt_bench(f, &r, (const char *[]){"-c", "2", cmd, n, NULL});
    if (r.code != 0)
        fail_msg("txq-bench %s %s exited %d: %s", cmd, n ? n : "", r.code,
                 r.err);
    if (n != NULL) {
        snprintf(want, sizeof want, "msgs=%s ", n);
        if (strstr(r.out, want) == NULL)
            fail_msg("txq-bench %s %s: no \"%s\" in: %s", cmd, n, want, r.out);
    }
    tt_run_free(&r);
}

static void
test_library_workloads(void **state)
{
    tt_fixture *f = *state;
    static const char *const steps[][2] = {
        {"send1", "200"},    {"recv1", "200"},   {"send100", "1000"},
        {"pop100", "1000"},  {"send100", "300"}, {"claim1", "300"},
        {"send100", "600"},  {"recv100", "600"}, {"send100", "400"},
        {"claim100", "400"}, {"send1", "50"},    {"pop1", "50"},
    };

    bench_ok(f, "setup", NULL);
    assert_int_equal(
        tt_scalar(f->pg, "select count(*) from queues where name = 'bench'"),
        1);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        bench_ok(f, steps[i][0], steps[i][1]);
    assert_int_equal(tt_depth(f), 0);
    assert_int_equal(tt_scalar(f->pg, "select acked from queue_stats where "
                                      "queue = 'bench'"),
                     2550);

    /* The ideal through the same driver, into a table q of its own. */
    tt_exec(f->pg, "create table q (id bigserial primary key, payload jsonb)");
    bench_ok(f, "ideal1", "100");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from q"), 100);
}

/* The async driver (-j: processes serving several connections each
 * through txq_send_start/finish and txq_pop_start/finish), an uneven split
 * too; -j with a workload it does not drive is a usage error. */
static void
test_async_workloads(void **state)
{
    tt_fixture *f = *state;
    static const char *const steps[][3] = {
        {"4", "send1", "400"}, {"4", "pop100", "400"},  {"3", "send1", "50"},
        {"3", "pop1", "50"},   {"3", "send100", "450"}, {"4", "pop100", "450"},
    };
    tt_run r;

    bench_ok(f, "setup", NULL);
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        char want[64];

        tt_bench(f, &r,
                 (const char *[]){"-c", steps[i][0], "-j", "2", steps[i][1],
                                  steps[i][2], NULL});
        if (r.code != 0)
            fail_msg("txq-bench -j 2 %s exited %d: %s", steps[i][1], r.code,
                     r.err);
        snprintf(want, sizeof want, "msgs=%s ", steps[i][2]);
        assert_non_null(strstr(r.out, want));
        tt_run_free(&r);
    }
    assert_int_equal(tt_depth(f), 0);
    assert_int_equal(tt_scalar(f->pg, "select acked from queue_stats where "
                                      "queue = 'bench'"),
                     900);

    tt_bench(f, &r, (const char *[]){"-c", "4", "-j", "2", "recv1", "1", NULL});
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "usage"));
    tt_run_free(&r);
}

/* A count that does not add up fails the run: a drain of more than the
 * queue holds is refused before it starts. */
static void
test_bad_count_fails(void **state)
{
    tt_fixture *f = *state;
    tt_run r;

    bench_ok(f, "setup", NULL);
    bench_ok(f, "send1", "10");
    tt_bench(f, &r, (const char *[]){"-c", "2", "recv1", "20", NULL});
    assert_int_equal(r.code, 1);
    assert_non_null(strstr(r.err, "holds 10 messages, expected 20"));
    tt_run_free(&r);
    assert_int_equal(tt_depth(f), 10);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_library_workloads, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_async_workloads, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_bad_count_fails, tt_setup,
                                        tt_teardown),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("bench_smoke", tests, NULL, NULL);
}
