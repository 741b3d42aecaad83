/*
 * test_abi.c - the ABI promises of libtxq 1.0: options structs read by
 * their size (an older, shorter struct is padded with defaults; a newer,
 * longer one is taken when what it adds is zero; size 0 or too small is
 * refused), unknown set bits refused, zero given through the set words
 * (alter delay and backoff_base to 0; an ungiven field keeps its value; a
 * send with delay 0 on a delayed queue; a retry at once), the consumer
 * event's size, and the version numbers.
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

/* A queue's interval setting in seconds. */
static long long
setting_secs(tt_fixture *f, const char *queue, const char *column)
{
    return tt_scalar(f->pg,
                     "select extract(epoch from %s)::bigint from queues "
                     "where name = '%s'",
                     column, queue);
}

static void
test_version(void **state)
{
    char want[32];

    (void)state;
    assert_int_equal(txq_version_number(), TXQ_VERSION_NUMBER);
    assert_int_equal(TXQ_VERSION_NUMBER, TXQ_VERSION_MAJOR * 10000 +
                                             TXQ_VERSION_MINOR * 100 +
                                             TXQ_VERSION_PATCH);
    assert_true(TXQ_VERSION_NUMBER >= 10000);
    snprintf(want, sizeof want, "%d.%d.%d", TXQ_VERSION_MAJOR,
             TXQ_VERSION_MINOR, TXQ_VERSION_PATCH);
    assert_string_equal(txq_version(), want);
}

static void
test_size_refused(void **state)
{
    tt_fixture *f = *state;
    txq_send_opts zero;
    txq_queue_opts q = TXQ_QUEUE_OPTS_INIT;
    int64_t id = 0;

    /* Zeroed without the macro: size 0. */
    memset(&zero, 0, sizeof zero);
    zero.priority = 3;
    assert_txq_rc(f->c, txq_send(f->c, f->pg, "jobs", "a", 1, &zero, &id),
                  TXQ_EINVAL);
    assert_non_null(strstr(txq_errmsg(f->c), "txq_send_opts.size is 0"));
    assert_non_null(strstr(txq_errmsg(f->c), "TXQ_SEND_OPTS_INIT"));
    /* Smaller than the 1.0 layout. */
    q.size = sizeof(size_t);
    assert_txq_rc(f->c, txq_queue_create(f->c, f->pg, "q", &q), TXQ_EINVAL);
    assert_non_null(strstr(txq_errmsg(f->c), "txq_queue_opts.size is 8"));
    /* Absurdly large: not a size. */
    q.size = (size_t)1 << 40;
    assert_txq_rc(f->c, txq_queue_create(f->c, f->pg, "q", &q), TXQ_EINVAL);
    /* NULL is still all defaults. */
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "jobs", "a", 1, NULL, &id));
    assert_txq_rc(f->c,
                  txq_fail(f->c, f->pg, NULL, NULL,
                           &(txq_fail_opts){.permanent = 1}, NULL),
                  TXQ_EINVAL);
    assert_non_null(strstr(txq_errmsg(f->c), "txq_fail_opts.size is 0"));
    assert_txq_rc(f->c,
                  txq_topic_create(f->c, f->pg, "t", &(txq_topic_opts){0}),
                  TXQ_EINVAL);
    assert_int_equal(tt_depth(f), 1);
}

/* A struct as a program built against newer headers passes it: the 1.0
 * layout followed by a field this library does not know. */
struct send_opts_next {
    txq_send_opts v1;
    int64_t later;
};

static void
test_older_and_newer_layouts(void **state)
{
    tt_fixture *f = *state;
    struct send_opts_next next;
    txq_send_opts old = TXQ_SEND_OPTS_INIT;
    txq_msg **m = NULL;
    size_t n = 0;
    int64_t id = 0;

    /* Older: a struct that ends at its last 1.0 field (no tail padding),
     * the smallest size accepted. */
    old.priority = 9;
    old.size = offsetof(txq_send_opts, reply_to) + sizeof old.reply_to;
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "jobs", "old", 3, &old, &id));

    /* Newer, leaving its new field zero: accepted. */
    memset(&next, 0, sizeof next);
    next.v1.size = sizeof next;
    next.v1.priority = 5;
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "jobs", "new", 3, &next.v1, &id));
    /* Newer, setting it: refused rather than ignored. */
    next.later = 1;
    assert_txq_rc(f->c, txq_send(f->c, f->pg, "jobs", "x", 1, &next.v1, &id),
                  TXQ_EINVAL);
    assert_non_null(strstr(txq_errmsg(f->c), "newer headers"));
    /* A set bit this library does not know: refused too. */
    assert_txq_rc(f->c,
                  txq_send(f->c, f->pg, "jobs", "x", 1,
                           TXQ_SEND_OPTS(.set = UINT64_C(1) << 63), &id),
                  TXQ_EINVAL);
    assert_txq_rc(f->c,
                  txq_queue_alter(f->c, f->pg, "jobs",
                                  TXQ_QUEUE_OPTS(.set = UINT64_C(1) << 40)),
                  TXQ_EINVAL);
    assert_non_null(strstr(txq_errmsg(f->c), "txq_queue_opts.set"));

    assert_txq_ok(f->c, txq_receive(f->c, f->pg, "jobs", 10, NULL, &m, &n));
    assert_int_equal(n, 2);
    assert_int_equal(txq_msg_priority(m[0]), 9);
    assert_int_equal(txq_msg_priority(m[1]), 5);
    txq_msgs_free(m, n);
}

/* txq_queue_opts as built before dead_letter_queue was appended: it ends
 * at encrypt, and is taken with no dead-letter queue given. */
static void
test_queue_opts_before_dead_letter_queue(void **state)
{
    tt_fixture *f = *state;
    txq_queue_opts old = TXQ_QUEUE_OPTS_INIT;

    assert_txq_ok(f->c, txq_queue_create(f->c, f->pg, "dlq", NULL));
    assert_txq_ok(f->c,
                  txq_queue_alter(f->c, f->pg, "jobs",
                                  TXQ_QUEUE_OPTS(.dead_letter_queue = "dlq")));
    old.size = offsetof(txq_queue_opts, encrypt) + sizeof old.encrypt;
    old.max_attempts = 7;
    old.dead_letter_queue = "ignored: past the size";
    assert_txq_ok(f->c, txq_queue_alter(f->c, f->pg, "jobs", &old));
    assert_int_equal(tt_scalar(f->pg, "select max_attempts from queues "
                                      "where name = 'jobs' and "
                                      "dead_letter_queue_id is not null"),
                     7);
}

static void
test_alter_to_zero(void **state)
{
    tt_fixture *f = *state;

    tt_queue(f, "q",
             TXQ_QUEUE_OPTS(.delay = 30, .backoff_base = 7, .backoff_cap = 100,
                            .max_attempts = 9, .expire_after = 3600));
    assert_int_equal(setting_secs(f, "q", "delay"), 30);
    assert_int_equal(setting_secs(f, "q", "backoff_base"), 7);

    /* Zero without its bit: unchanged, as before 1.0. */
    assert_txq_ok(
        f->c, txq_queue_alter(f->c, f->pg, "q", TXQ_QUEUE_OPTS(.delay = 0)));
    assert_int_equal(setting_secs(f, "q", "delay"), 30);

    /* Zero with its bit: set to zero; what is not given keeps its value. */
    assert_txq_ok(f->c, txq_queue_alter(
                            f->c, f->pg, "q",
                            TXQ_QUEUE_OPTS(.delay = 0, .backoff_base = 0,
                                           .set = TXQ_QUEUE_SET_DELAY |
                                                  TXQ_QUEUE_SET_BACKOFF_BASE)));
    assert_int_equal(setting_secs(f, "q", "delay"), 0);
    assert_int_equal(setting_secs(f, "q", "backoff_base"), 0);
    assert_int_equal(setting_secs(f, "q", "backoff_cap"), 100);
    assert_int_equal(setting_secs(f, "q", "expire_after"), 3600);
    assert_int_equal(
        tt_scalar(f->pg, "select max_attempts from queues where name = 'q'"),
        9);

    /* expire_after given as 0: never; jitter and dedup_window to 0. */
    assert_txq_ok(f->c, txq_queue_alter(
                            f->c, f->pg, "q",
                            TXQ_QUEUE_OPTS(.set = TXQ_QUEUE_SET_EXPIRE_AFTER |
                                                  TXQ_QUEUE_SET_BACKOFF_JITTER |
                                                  TXQ_QUEUE_SET_DEDUP_WINDOW)));
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues where "
                                      "name = 'q' and expire_after is null "
                                      "and backoff_jitter = 0 and "
                                      "dedup_window = '0'"),
                     1);
    assert_int_equal(setting_secs(f, "q", "backoff_cap"), 100);

    /* Create takes zero the same way. */
    tt_queue(f, "z",
             TXQ_QUEUE_OPTS(.set = TXQ_QUEUE_SET_BACKOFF_BASE |
                                   TXQ_QUEUE_SET_BACKOFF_CAP));
    assert_int_equal(setting_secs(f, "z", "backoff_base"), 0);
    assert_int_equal(setting_secs(f, "z", "backoff_cap"), 0);
    /* A zero the schema refuses is refused, naming the setting. */
    assert_txq_rc(f->c,
                  txq_queue_alter(
                      f->c, f->pg, "q",
                      TXQ_QUEUE_OPTS(.set = TXQ_QUEUE_SET_VISIBILITY_TIMEOUT)),
                  TXQ_EINVAL);
    assert_non_null(strstr(txq_errmsg(f->c), "visibility_timeout"));
}

static void
test_send_and_fail_zero(void **state)
{
    tt_fixture *f = *state;
    txq_msg **m = NULL;
    size_t n = 0;
    txq_outcome out = 0;

    tt_queue(f, "slow", TXQ_QUEUE_OPTS(.delay = 3600));
    /* delay 0 without its bit: the queue's delay. */
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "slow", "later", 5,
                                 TXQ_SEND_OPTS(.delay = 0), NULL));
    /* With it: at once. */
    assert_txq_ok(f->c,
                  txq_send(f->c, f->pg, "slow", "now", 3,
                           TXQ_SEND_OPTS(.set = TXQ_SEND_SET_DELAY), NULL));
    assert_txq_ok(f->c, txq_claim(f->c, f->pg, "slow", 10, NULL, &m, &n));
    assert_int_equal(n, 1);
    assert_string_equal(txq_msg_body(m[0], NULL), "now");

    /* A retry at once: retry_after 0 given. */
    assert_txq_ok(f->c, txq_fail(f->c, f->pg, m[0], "again",
                                 TXQ_FAIL_OPTS(.set = TXQ_FAIL_SET_RETRY_AFTER),
                                 &out));
    assert_int_equal(out, TXQ_OUTCOME_RETRY);
    txq_msgs_free(m, n);
    assert_txq_ok(f->c, txq_claim(f->c, f->pg, "slow", 10, NULL, &m, &n));
    assert_int_equal(n, 1);
    assert_string_equal(txq_msg_body(m[0], NULL), "now");
    assert_int_equal(txq_msg_attempt(m[0]), 2);
    txq_msgs_free(m, n);
}

static txq_handler_result
handle_ok(PGconn *pg, const txq_msg *m, void *arg, char *err, size_t errsize)
{
    (void)pg;
    (void)m;
    (void)arg;
    (void)err;
    (void)errsize;
    return TXQ_HANDLER_OK;
}

static void
on_event(void *arg, const txq_consumer_event *ev)
{
    size_t *seen = arg;

    *seen = ev->size;
    assert_true(TXQ_HAS_FIELD(txq_consumer_event, ev, seconds));
}

static void
test_handles_report_bad_size(void **state)
{
    tt_fixture *f = *state;
    txq_client *c = txq_client_new(&(txq_options){.schema = f->schema});
    txq_requester *r;
    txq_consumer *k;
    size_t seen = 0;

    /* txq_client_new returns a handle; its first call says why. */
    assert_non_null(c);
    assert_txq_rc(c, txq_schema_check(c, f->pg), TXQ_EINVAL);
    assert_non_null(strstr(txq_errmsg(c), "txq_options.size is 0"));
    txq_client_free(c);

    r = txq_requester_new(f->c, "jobs", &(txq_requester_opts){.batch = 5});
    assert_non_null(r);
    assert_txq_rc(f->c, txq_requester_open(r, f->pg), TXQ_EINVAL);
    assert_non_null(strstr(txq_errmsg(f->c), "txq_requester_opts.size"));
    txq_requester_free(r);

    k = txq_consumer_new(f->c, "jobs", &(txq_consumer_opts){.prefetch = 1},
                         handle_ok, NULL);
    assert_non_null(k);
    assert_int_equal(txq_consumer_run(k, f->pg), TXQ_EINVAL);
    assert_non_null(strstr(txq_consumer_errmsg(k), "txq_consumer_opts.size"));
    txq_consumer_free(k);

    /* The event carries the library's size. */
    tt_send(f, f->pg, "jobs", "x");
    k = txq_consumer_new(f->c, "jobs",
                         TXQ_CONSUMER_OPTS(.exit_when_empty = 1,
                                           .event_fn = on_event,
                                           .event_arg = &seen),
                         handle_ok, NULL);
    assert_int_equal(txq_consumer_run(k, f->pg), TXQ_OK);
    txq_consumer_free(k);
    assert_int_equal(seen, sizeof(txq_consumer_event));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),
        cmocka_unit_test_setup_teardown(test_size_refused, tt_setup_jobs,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_older_and_newer_layouts,
                                        tt_setup_jobs, tt_teardown),
        cmocka_unit_test_setup_teardown(
            test_queue_opts_before_dead_letter_queue, tt_setup_jobs,
            tt_teardown),
        cmocka_unit_test_setup_teardown(test_alter_to_zero, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_send_and_fail_zero, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_handles_report_bad_size,
                                        tt_setup_jobs, tt_teardown),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("abi", tests, NULL, NULL);
}
