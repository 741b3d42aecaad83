/*
 * test_attempts.c - durable attempt counting: a consumer that dies after
 * txq_claim still used an attempt, a message that kills every consumer
 * ends in its failure policy instead of looping, and a consumer that dies
 * inside its transaction (txq_receive) hands the message back at once.
 *
 * Needs TXQ_TEST_DSN (ctest's pg_start fixture provides it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tt.h"

static void
test_killed_after_claim_counts(void **state)
{
    tt_fixture *f = *state;
    PGconn *a = tt_connect(f->schema);
    txq_msg **msgs;
    int64_t id;

    tt_queue(f, "jobs", NULL);
    id = tt_send(f, f->pg, "jobs", "poison");
    msgs = tt_take(f, a, "jobs", 1);
    assert_int_equal(txq_msg_attempt(msgs[0]), 1);
    /* The consumer's session dies while "handling" the message. */
    tt_kill_backend(f->pg, tt_pid(a));
    PQfinish(a);
    txq_msgs_free(msgs, 1);

    /* The attempt stays counted (it was committed before the handler). */
    assert_int_equal(tt_scalar(f->pg, "select attempts from messages"), 1);
    /* Until its claim lapses, nobody gets it. */
    assert_int_equal(tt_scalar(f->pg, "select count(*) from receive('jobs', "
                                      "1, null, now() + interval '29 s')"),
                     0);
    assert_int_equal(tt_scalar(f->pg, "select attempts from receive('jobs', "
                                      "1, null, now() + interval '31 s')"),
                     2);
    /* The lapsed attempt is in the history. */
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from message_errors "
                               "where message_id = %lld and attempt = 1",
                               (long long)id),
                     1);
}

static void
test_killed_in_transaction_comes_back(void **state)
{
    tt_fixture *f = *state;
    PGconn *a = tt_connect(f->schema);
    txq_msg **msgs;

    tt_queue(f, "jobs", NULL);
    tt_send(f, f->pg, "jobs", "a");
    tt_exec(a, "begin");
    msgs = tt_take(f, a, "jobs", 0);
    tt_exec(a, "create table effects (x int); insert into effects values (1)");
    txq_msgs_free(msgs, 1);
    tt_kill_backend(f->pg, tt_pid(a));
    PQfinish(a);

    /* The session ended: the claim rolled back with the work, so the
     * message is ready now, at attempt 1 again (not durable). */
    msgs = tt_take(f, f->pg, "jobs", 0);
    assert_int_equal(txq_msg_attempt(msgs[0]), 1);
    txq_msgs_free(msgs, 1);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from pg_tables where "
                                      "tablename = 'effects' and "
                                      "schemaname = current_schema()"),
                     0);
}

/* Child: BEGIN, txq_receive, then die by SIGKILL without a word. */
static int
child_receive_and_die(void *arg)
{
    const char *schema = arg;
    PGconn *pg = tt_child_connect(schema);
    txq_client *c = txq_client_new(TXQ_OPTIONS(.schema = schema));
    txq_msg **msgs = NULL;
    size_t n = 0;
    PGresult *res;

    if (pg == NULL || c == NULL)
        return 2;
    res = PQexec(pg, "begin");
    PQclear(res);
    if (txq_receive(c, pg, "jobs", 1, NULL, &msgs, &n) != TXQ_OK)
        return 3;
    raise(SIGKILL);
    return 4;
}

static void
test_process_dies_in_transaction(void **state)
{
    tt_fixture *f = *state;
    txq_msg **msgs = NULL;
    size_t n = 0;
    double until;
    txq_err rc;

    tt_queue(f, "jobs", NULL);
    tt_send(f, f->pg, "jobs", "a");
    assert_int_equal(tt_wait(tt_fork(child_receive_and_die, f->schema)),
                     128 + SIGKILL);
    /* As soon as the server notices the session is gone. */
    until = tt_now() + 5;
    while ((rc = txq_receive(f->c, f->pg, "jobs", 1, NULL, &msgs, &n)) ==
               TXQ_EMPTY &&
           tt_now() < until)
        tt_sleep_ms(20);
    assert_txq_ok(f->c, rc);
    assert_int_equal(txq_msg_attempt(msgs[0]), 1);
    txq_msgs_free(msgs, n);
}

struct claim_die {
    const char *schema;
    int want_attempt;
};

/* Child: txq_claim (committed), then SIGKILL itself like a segfaulting
 * handler. Exits 10 when the queue was empty, 11 on a wrong attempt. */
static int
child_claim_and_die(void *arg)
{
    const struct claim_die *cd = arg;
    PGconn *pg = tt_child_connect(cd->schema);
    txq_client *c = txq_client_new(TXQ_OPTIONS(.schema = cd->schema));
    txq_msg **msgs = NULL;
    size_t n = 0;
    txq_err rc;
    int attempt;

    if (pg == NULL || c == NULL)
        return 2;
    rc = txq_claim(c, pg, "jobs", 1, NULL, &msgs, &n);
    if (rc == TXQ_EMPTY) {
        txq_client_free(c);
        PQfinish(pg);
        return 10;
    }
    if (rc != TXQ_OK) {
        fprintf(stderr, "child claim: %s\n", txq_errmsg(c));
        return 3;
    }
    attempt = txq_msg_attempt(msgs[0]);
    if (attempt != cd->want_attempt) {
        fprintf(stderr, "child: attempt %d, want %d\n", attempt,
                cd->want_attempt);
        return 11;
    }
    raise(SIGKILL);
    return 4;
}

/* Run maintain() until it has rescued one claim of a dead session. */
static void
rescue_one(tt_fixture *f)
{
    double until = tt_now() + 10;

    while (tt_scalar(f->pg, "select (maintain() ->> 'rescued')::int") < 1) {
        if (tt_now() > until)
            fail_msg("maintain() rescued nothing within 10 s");
        tt_sleep_ms(20);
    }
}

static void
test_poison_message_ends_in_policy(void **state)
{
    tt_fixture *f = *state;
    struct claim_die cd = {f->schema, 0};
    PGresult *res;
    int64_t id;
    int i;

    tt_queue(f, "jobs", TXQ_QUEUE_OPTS(.max_attempts = 3));
    id = tt_send(f, f->pg, "jobs", "segfault");
    for (i = 1; i <= 3; i++) {
        cd.want_attempt = i;
        assert_int_equal(tt_wait(tt_fork(child_claim_and_die, &cd)),
                         128 + SIGKILL);
        assert_int_equal(tt_scalar(f->pg, "select attempts from messages"), i);
        rescue_one(f);
    }
    /* The fourth consumer does not get it: it is a dead letter now. */
    assert_int_equal(tt_wait(tt_fork(child_claim_and_die, &cd)), 10);
    assert_int_equal(tt_depth(f), 0);
    res = tt_query(f->pg, "select id, reason, attempts, "
                          "jsonb_array_length(errors) from dead_letters");
    assert_int_equal(PQntuples(res), 1);
    assert_int_equal(strtoll(PQgetvalue(res, 0, 0), NULL, 10), id);
    assert_string_equal(PQgetvalue(res, 0, 1), "exhausted");
    assert_string_equal(PQgetvalue(res, 0, 2), "3");
    assert_string_equal(PQgetvalue(res, 0, 3), "3");
    PQclear(res);
    assert_int_equal(tt_scalar(f->pg, "select dead_lettered from queue_stats"),
                     1);
}

static void
test_lapsed_claims_exhaust_with_policy(void **state)
{
    tt_fixture *f = *state;
    int i;

    /* ignore: after max_attempts lapsed claims it is dropped, counted. */
    tt_queue(f, "jobs",
             TXQ_QUEUE_OPTS(.max_attempts = 2,
                            .on_exhausted = TXQ_ON_EXHAUSTED_IGNORE));
    tt_send(f, f->pg, "jobs", "lost cause");
    for (i = 0; i < 2; i++)
        assert_int_equal(tt_scalar(f->pg,
                                   "select attempts from receive('jobs', 1, "
                                   "null, now() + interval '%d s')",
                                   i * 31),
                         i + 1);
    for (i = 0; i < 3; i++)
        assert_int_equal(tt_scalar(f->pg,
                                   "select count(*) from receive('jobs', 1, "
                                   "null, now() + interval '%d s')",
                                   (i + 2) * 31),
                         0);
    assert_int_equal(tt_depth(f), 0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from dead_letters"), 0);
    assert_int_equal(tt_scalar(f->pg, "select ignored from queue_stats"), 1);
}

static void
test_exhausted_does_not_hide_ready(void **state)
{
    tt_fixture *f = *state;
    PGresult *res;

    /* An exhausted, lapsed message sorts first (higher priority); a ready
     * one waits behind it. Asking for one message must return the ready
     * one, not an empty answer. */
    tt_queue(f, "jobs", TXQ_QUEUE_OPTS(.max_attempts = 1));
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "jobs", "doomed", 6,
                                 TXQ_SEND_OPTS(.priority = 5), NULL));
    assert_int_equal(tt_scalar(f->pg, "select attempts from receive('jobs')"),
                     1);
    tt_send(f, f->pg, "jobs", "fine");
    res = tt_query(f->pg, "select convert_from(body, 'UTF8') from "
                          "receive('jobs', 1, null, now() + interval '31 s')");
    if (PQntuples(res) != 1) {
        PQclear(res);
        fail_msg("receive(max 1) returned no message although one was "
                 "ready behind an exhausted one");
    }
    assert_string_equal(PQgetvalue(res, 0, 0), "fine");
    PQclear(res);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from dead_letters"), 1);
}

/* A session dies with three claims, one of them in its handler: after
 * maintain() rescued them (as may happen first), release_unstarted() still
 * undoes the two it never started and leaves the one in hand lapsed. A
 * session that still runs is left alone (-1); a consumer may call it. */
static void
test_release_unstarted(void **state)
{
    tt_fixture *f = *state;
    PGconn *b = tt_connect(f->schema), *c;
    char role[64];
    long long first;
    int pid;

    tt_send(f, f->pg, "jobs", "a");
    tt_send(f, f->pg, "jobs", "b");
    tt_send(f, f->pg, "jobs", "c");
    first = tt_scalar(b, "select min(id) from receive('jobs', 3)");
    pid = tt_pid(b);
    c = tt_role_session(f, role, sizeof role, "txq_consumer");
    assert_int_equal(tt_scalar(c, "select release_unstarted(%d)", pid), -1);
    PQfinish(b);
    for (int i = 0; i < 500 && tt_scalar(f->pg,
                                         "select count(*) from "
                                         "pg_stat_activity where pid = %d",
                                         pid) > 0;
         i++)
        tt_sleep_ms(10);
    assert_int_equal(tt_scalar(f->pg, "select (maintain()->>'rescued')::int"),
                     3);
    assert_int_equal(
        tt_scalar(c, "select release_unstarted(%d, %lld)", pid, first), 2);
    tt_end_role_session(f, c, role);
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from messages where attempts "
                               "= 0 and claimed_at is null and visible_at <= "
                               "now() and id <> %lld",
                               first),
                     2);
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from messages where id = %lld "
                               "and attempts = 1 and claimed_at is not null",
                               first),
                     1);
    /* No error recorded for the two; the lapsed one's comes with its next
     * claim. */
    assert_int_equal(tt_scalar(f->pg, "select count(*) from message_errors"),
                     0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_release_unstarted, tt_setup_jobs,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_killed_after_claim_counts,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_killed_in_transaction_comes_back,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_process_dies_in_transaction,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_poison_message_ends_in_policy,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_lapsed_claims_exhaust_with_policy,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_exhausted_does_not_hide_ready,
                                        tt_setup, tt_teardown),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("attempts", tests, NULL, NULL);
}
