/*
 * test_schedule.c - periodic messages: cron expressions parsed and their
 * next tick computed (fields, lists, ranges, steps, names, day-of-month
 * or day-of-week, time zones and daylight saving, dates that never come);
 * bad expressions refused naming the field; maintain() sends each tick
 * exactly once, with several sessions and several workers at once; ticks
 * missed while nothing ran maintain() are skipped unless the schedule
 * catches up; grants; txq schedule add|list|remove.
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

#include "handlers/wt.h"

/* The first tick of cron in tz after `after`, as UTC text ("" if none). */
static const char *
next_tick(tt_fixture *f, const char *cron, const char *tz, const char *after)
{
    static char buf[64];

    return tt_text(f->pg, buf, sizeof buf,
                   "select coalesce(to_char(_cron_next(_cron_parse('%s'), "
                   "'%s', '%s') at time zone 'UTC', "
                   "'YYYY-MM-DD HH24:MI'), '')",
                   cron, tz, after);
}

static void
test_cron_next(void **state)
{
    tt_fixture *f = *state;
    static const struct {
        const char *cron, *tz, *after, *want;
    } cases[] = {
        {"* * * * *", "UTC", "2030-01-01 00:00:30+00", "2030-01-01 00:01"},
        {"*/15 * * * *", "UTC", "2030-01-01 00:15:00+00", "2030-01-01 00:30"},
        {"5,35 8-9 * * *", "UTC", "2030-01-01 08:40+00", "2030-01-01 09:05"},
        {"0 9-17/4 * * *", "UTC", "2030-01-01 10:00+00", "2030-01-01 13:00"},
        {"10/20 * * * *", "UTC", "2030-01-01 00:31+00", "2030-01-01 00:50"},
        /* names, in any case; 7 is Sunday too */
        {"0 12 * JAN,jul sun", "UTC", "2030-02-01+00", "2030-07-07 12:00"},
        {"0 12 * * 7", "UTC", "2030-01-01+00", "2030-01-06 12:00"},
        /* both day fields restricted: either fires */
        {"0 0 13 * 5", "UTC", "2030-01-01+00", "2030-01-04 00:00"},
        {"@daily", "UTC", "2030-01-01 00:00+00", "2030-01-02 00:00"},
        {"@hourly", "UTC", "2030-01-01 00:00+00", "2030-01-01 01:00"},
        {"@weekly", "UTC", "2030-01-01+00", "2030-01-06 00:00"},
        {"@monthly", "UTC", "2030-01-15+00", "2030-02-01 00:00"},
        {"@yearly", "UTC", "2030-01-15+00", "2031-01-01 00:00"},
        /* the wall clock of the zone, through daylight saving */
        {"0 9 * * MON-FRI", "Europe/Paris", "2030-01-05+00",
         "2030-01-07 08:00"},
        {"0 9 * * *", "Europe/Paris", "2030-07-01 12:00+00",
         "2030-07-02 07:00"},
        {"0 9 * * *", "America/New_York", "2030-03-10 12:00+00",
         "2030-03-10 13:00"},
        /* 02:30 does not exist on 2030-03-31 in Paris: fires once */
        {"30 2 * * *", "Europe/Paris", "2030-03-30 12:00+00",
         "2030-03-31 01:30"},
        {"0 0 29 2 *", "UTC", "2030-01-01+00", "2032-02-29 00:00"},
        {"0 0 30 2 *", "UTC", "2030-01-01+00", ""},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got =
            next_tick(f, cases[i].cron, cases[i].tz, cases[i].after);

        if (strcmp(got, cases[i].want) != 0)
            fail_msg("%s in %s after %s: want \"%s\", got \"%s\"",
                     cases[i].cron, cases[i].tz, cases[i].after, cases[i].want,
                     got);
    }
}

static void
test_bad_input(void **state)
{
    tt_fixture *f = *state;
    static const struct {
        const char *args, *state, *says;
    } cases[] = {
        {"'a', '61 * * * *', 'jobs', 'x'", "22023", "minute field"},
        {"'a', '* 24 * * *', 'jobs', 'x'", "22023", "hour field"},
        {"'a', '* * 0 * *', 'jobs', 'x'", "22023", "day-of-month field"},
        {"'a', '* * * 13 *', 'jobs', 'x'", "22023", "month field"},
        {"'a', '* * * * 8', 'jobs', 'x'", "22023", "day-of-week field"},
        {"'a', '*/0 * * * *', 'jobs', 'x'", "22023", "minute field"},
        {"'a', '5-1 * * * *', 'jobs', 'x'", "22023", "minute field"},
        {"'a', 'FOO * * * *', 'jobs', 'x'", "22023", "minute field"},
        {"'a', '1,,2 * * * *', 'jobs', 'x'", "22023", "minute field"},
        {"'a', '* * * *', 'jobs', 'x'", "22023", "five fields"},
        {"'a', '@sometimes', 'jobs', 'x'", "22023", "five fields"},
        {"'a', null, 'jobs', 'x'", "22023", "five fields"},
        {"'a', '0 0 30 2 *', 'jobs', 'x'", "22023", "never fires"},
        {"'a', '* * * * *', 'jobs', 'x', i_time_zone => 'Mars/Olympus'",
         "22023", "unknown time zone"},
        {"'A b', '* * * * *', 'jobs', 'x'", "22023", "invalid schedule name"},
        {"'a', '* * * * *', 'nope', 'x'", "TQ002", "nope"},
        {"'a', '* * * * *', 'jobs', null", "22023", "body is null"},
        {"'a', '* * * * *', 'jobs', 'x', '[1]'", "22023", "JSON object"},
    };
    char msg[512];
    size_t i;

    tt_queue(f, "jobs", NULL);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *st = tt_fails(f->pg, msg, sizeof msg, "select schedule(%s)",
                                  cases[i].args);

        if (strcmp(st, cases[i].state) != 0 ||
            strstr(msg, cases[i].says) == NULL)
            fail_msg("schedule(%s): want %s \"%s\", got %s %s", cases[i].args,
                     cases[i].state, cases[i].says, st, msg);
    }
    assert_int_equal(tt_scalar(f->pg, "select count(*) from cron_schedules"),
                     0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from audit_log where "
                                      "action = 'schedule'"),
                     0);
}

/* Messages of schedule name in the queue. */
static long long
sent(tt_fixture *f, const char *name)
{
    return tt_scalar(f->pg,
                     "select count(*) from messages where headers ->> "
                     "'txq_schedule' = '%s'",
                     name);
}

static void
test_each_tick_once(void **state)
{
    tt_fixture *f = *state;
    char tick[64];

    tt_queue(f, "jobs", NULL);
    assert_int_equal(tt_scalar(f->pg, "select extract(epoch from schedule("
                                      "'every_min', '* * * * *', 'jobs', "
                                      "'ping', '{\"k\": 1}', i_now => "
                                      "'2030-01-01 00:00:30+00') - "
                                      "'2030-01-01 00:01+00')::int"),
                     0);
    tt_exec(f->pg, "select maintain('2030-01-01 00:00:59+00')");
    assert_int_equal(sent(f, "every_min"), 0);
    assert_int_equal(tt_scalar(f->pg, "select (maintain('2030-01-01 "
                                      "00:01:05+00') ->> 'scheduled')::int"),
                     1);
    tt_exec(f->pg, "select maintain('2030-01-01 00:01:10+00')");
    assert_int_equal(sent(f, "every_min"), 1);
    /* The body, the schedule's headers and the tick. */
    assert_string_equal(tt_text(f->pg, tick, sizeof tick,
                                "select convert_from(body, 'UTF8') || ' ' "
                                "|| (headers ->> 'k') || ' ' || "
                                "(headers ->> 'txq_tick')::timestamptz "
                                "at time zone 'UTC' from messages"),
                        "ping 1 2030-01-01 00:01:00");
    tt_exec(f->pg, "select maintain('2030-01-01 00:02:00+00')");
    assert_int_equal(sent(f, "every_min"), 2);
    assert_int_equal(tt_scalar(f->pg, "select runs from schedules"), 2);

    /* Sessions at once: the one holding the schedule sends; the others
     * skip it, and after its commit the tick is past. (maintain()'s step
     * itself: a whole maintain() may also hold a truncate's lock to
     * commit, which the second would wait for.) */
    {
        PGconn *a = tt_connect(f->schema), *b = tt_connect(f->schema);

        tt_exec(a, "begin");
        assert_int_equal(tt_scalar(a, "select _run_schedules('2030-01-01 "
                                      "00:03:01+00')"),
                         1);
        assert_int_equal(tt_scalar(b, "select _run_schedules('2030-01-01 "
                                      "00:03:02+00')"),
                         0);
        tt_exec(a, "commit");
        assert_int_equal(tt_scalar(b, "select _run_schedules('2030-01-01 "
                                      "00:03:03+00')"),
                         0);
        PQfinish(a);
        PQfinish(b);
    }
    assert_int_equal(sent(f, "every_min"), 3);

    /* Replaced: the new expression from now; removed: no more ticks. */
    tt_exec(f->pg, "select schedule('every_min', '0 * * * *', 'jobs', "
                   "'ping', i_now => '2030-01-01 00:03:30+00')");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from schedules where "
                                      "next_run = '2030-01-01 01:00+00'"),
                     1);
    assert_int_equal(tt_scalar(f->pg, "select unschedule('every_min')::int"),
                     1);
    assert_int_equal(tt_scalar(f->pg, "select unschedule('every_min')::int"),
                     0);
    tt_exec(f->pg, "select maintain('2030-01-01 02:00:00+00')");
    assert_int_equal(sent(f, "every_min"), 3);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from audit_log where "
                                      "action in ('schedule', 'unschedule')"),
                     3);
}

/* Down for ten minutes: the missed ticks are skipped and counted, the
 * one due now is sent; a schedule that catches up sends them all. */
static void
test_missed_ticks(void **state)
{
    tt_fixture *f = *state;

    tt_queue(f, "jobs", NULL);
    tt_exec(f->pg, "select schedule('skips', '* * * * *', 'jobs', 'x', "
                   "i_now => '2030-01-01 00:00:30+00')");
    tt_exec(f->pg, "select schedule('catches_up', '* * * * *', 'jobs', 'x', "
                   "i_catch_up => true, i_now => '2030-01-01 00:00:30+00')");
    tt_exec(f->pg, "select maintain('2030-01-01 00:10:05+00')");
    assert_int_equal(sent(f, "skips"), 1);
    assert_int_equal(tt_scalar(f->pg, "select skipped from schedules where "
                                      "name = 'skips'"),
                     9);
    assert_int_equal(sent(f, "catches_up"), 10);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from schedules where "
                                      "next_run = '2030-01-01 00:11+00'"),
                     2);
    /* A year away: the skip jumps, it does not walk every minute. */
    tt_exec(f->pg, "select maintain('2031-01-01 00:00:05+00')");
    assert_int_equal(sent(f, "skips"), 2);
    assert_int_equal(tt_scalar(f->pg, "select (skipped >= 10000)::int "
                                      "from schedules where name = 'skips'"),
                     1);
}

/* Three workers run maintain() every 0.1 s: each tick sends one message. */
static void
test_workers_send_each_tick_once(void **state)
{
    wt_test *w = *state;
    tt_fixture *f = w->f;
    char h[128];
    const char *args[] = {"--handle", h, "--maintain-interval", "0.05", NULL};
    pid_t workers[3];
    int i, tick;

    wt_test_h_ok(w);
    wt_test_queue(w, "work", NULL);
    tt_queue(f, "ticks", NULL);
    tt_exec(f->pg, "select schedule('often', '@yearly', 'ticks', 't')");
    snprintf(h, sizeof h, "work=sql:%s.h_ok", f->schema);
    for (i = 0; i < 3; i++)
        workers[i] = wt_start(f->schema, w->log, args);
    for (tick = 1; tick <= 3; tick++) {
        /* The next tick in half a second (the schedule's own ticks are a
         * year apart, so no real one falls inside the test). */
        tt_exec(f->pg, "update cron_schedules set next_run = now() + "
                       "interval '0.5 s'");
        wt_await(f->pg, tick, 10,
                 "select count(*) from messages m join "
                 "queues q using (queue_id) where q.name = "
                 "'ticks'");
        tt_sleep_ms(700);
    }
    for (i = 0; i < 3; i++)
        assert_int_equal(wt_stop(workers[i]), 0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from messages m join "
                                      "queues q using (queue_id) where "
                                      "q.name = 'ticks'"),
                     3);
    assert_int_equal(tt_scalar(f->pg, "select runs from schedules"), 3);
}

static void
test_grants(void **state)
{
    tt_fixture *f = *state;
    char role[64], msg[256];
    PGconn *pg;

    tt_queue(f, "jobs", NULL);
    tt_queue(f, "other", NULL);
    tt_exec(f->pg, "select schedule('j', '@daily', 'jobs', 'x')");
    tt_exec(f->pg, "select schedule('o', '@daily', 'other', 'x')");
    pg = tt_role_session(f, role, sizeof role, "txq_consumer");
    tt_exec(f->pg, "select %s.revoke('*', 'txq_consumer')", f->schema);
    tt_exec(f->pg, "select %s.grant('jobs', '%s', array['receive', 'monitor'])",
            f->schema, role);
    assert_string_equal(tt_fails(pg, msg, sizeof msg,
                                 "select schedule('j2', '@daily', 'jobs', "
                                 "'x')"),
                        "42501");
    assert_non_null(strstr(msg, "operate"));
    assert_string_equal(tt_fails(pg, NULL, 0, "select unschedule('j')"),
                        "42501");
    /* It sees the schedules of the queue it may monitor only. */
    assert_int_equal(tt_scalar(pg, "select count(*) from schedules"), 1);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from cron_schedules"),
                     2);
    tt_exec(f->pg,
            "select %s.revoke('jobs', '%s', array['receive', 'monitor'])",
            f->schema, role);
    tt_exec(f->pg,
            "select %s.grant('*', 'txq_consumer', array['send', "
            "'receive', 'monitor'])",
            f->schema);
    tt_end_role_session(f, pg, role);
}

static void
test_cli(void **state)
{
    tt_fixture *f = *state;
    tt_run r;

    tt_queue(f, "jobs", NULL);
    tt_txq(f, &r, NULL, 0,
           (const char *[]){"--schema", f->schema, "schedule", "add", "nightly",
                            "--cron", "0 3 * * *", "--queue", "jobs", "--body",
                            "{\"job\": \"report\"}", "--tz", "Europe/Paris",
                            NULL});
    tt_run_ok(&r);
    assert_non_null(strstr(r.out, "nightly: next "));
    tt_run_free(&r);
    tt_txq(f, &r, NULL, 0,
           (const char *[]){"--schema", f->schema, "schedule", "list", "--json",
                            NULL});
    tt_run_ok(&r);
    assert_non_null(strstr(r.out, "\"name\":\"nightly\""));
    assert_non_null(strstr(r.out, "\"time_zone\":\"Europe/Paris\""));
    tt_run_free(&r);
    TT_RUN_FAILS(f, 2, "--cron", "--schema", f->schema, "schedule", "add", "x",
                 "--queue", "jobs");
    TT_RUN_FAILS(f, 1, "minute field", "--schema", f->schema, "schedule", "add",
                 "x", "--cron", "99 * * * *", "--queue", "jobs");
    TT_RUN_FAILS(f, 2, "list, add or remove", "--schema", f->schema, "schedule",
                 "bogus");
    tt_txq(f, &r, NULL, 0,
           (const char *[]){"--schema", f->schema, "schedule", "remove",
                            "nightly", NULL});
    tt_run_ok(&r);
    assert_string_equal(r.out, "nightly removed\n");
    tt_run_free(&r);
    TT_RUN_FAILS(f, 1, "no schedule \"nightly\"", "--schema", f->schema,
                 "schedule", "remove", "nightly");
}

static int
worker_setup(void **state)
{
    *state = wt_test_new(state);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cron_next, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_each_tick_once, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_missed_ticks, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_workers_send_each_tick_once,
                                        worker_setup, wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_grants, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_cli, tt_setup, tt_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
