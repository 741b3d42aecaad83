/*
 * test_pop_direct.c - txq_pop's direct delete (no plpgsql call) for roles
 * that may delete from messages themselves outside row security, its
 * fallback to pop() for the queues it leaves alone, and the roles that
 * call pop() instead.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tt.h"

/* In one transaction on pg: txq_pop up to max from queue, which must make
 * `calls` pop() calls; the bodies in the order returned into buf. */
static char *
pop_bodies(tt_fixture *f,
           PGconn *pg,
           const char *queue,
           size_t max,
           int calls,
           char *buf,
           size_t size)
{
    txq_msg **m = NULL;
    size_t n = 0, len = 0;
    long long calls0;

    tt_exec(pg, "begin");
    calls0 = tt_fn_calls(pg, "pop");
    assert_txq_ok(f->c, txq_pop(f->c, pg, queue, max, &m, &n));
    assert_int_equal(tt_fn_calls(pg, "pop") - calls0, calls);
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t blen = 0;
        const char *b = txq_msg_body(m[i], &blen);

        assert_true(len + blen < size);
        memcpy(buf + len, b, blen);
        len += blen;
        buf[len] = '\0';
        assert_int_equal(txq_msg_attempt(m[i]), 1);
        assert_true(isinf(txq_msg_visible_until(m[i])));
        assert_string_equal(txq_msg_queue(m[i]), queue);
    }
    txq_msgs_free(m, n);
    tt_exec(pg, "commit");
    return buf;
}

/* Messages a to e in queue: c of priority 5, d made visible an hour ago,
 * e delayed a minute; pop()'s order for the ready ones is c d a b. */
static void
fill(tt_fixture *f, const char *queue)
{
    int64_t d = 0;

    tt_send(f, f->pg, queue, "a");
    tt_send(f, f->pg, queue, "b");
    assert_txq_ok(f->c, txq_send(f->c, f->pg, queue, "c", 1,
                                 TXQ_SEND_OPTS(.priority = 5), NULL));
    assert_txq_ok(f->c, txq_send(f->c, f->pg, queue, "d", 1, NULL, &d));
    assert_txq_ok(f->c, txq_send(f->c, f->pg, queue, "e", 1,
                                 TXQ_SEND_OPTS(.delay = 60), NULL));
    tt_exec(f->pg,
            "update messages set visible_at = now() - interval '1 hour' "
            "where id = %lld",
            (long long)d);
}

/* The superuser pops a standard queue with no pop() call: pop()'s order,
 * attempts and hold, the ready ones only, counted acked in its backend's
 * counter row (made by the first pop, added to by the next). */
static void
test_superuser_pops_directly(void **state)
{
    tt_fixture *f = *state;
    char role[64], buf[64];
    PGconn *pg = tt_role_session(f, role, sizeof role, NULL);
    int pid = tt_pid(pg);

    fill(f, "jobs");
    assert_string_equal(pop_bodies(f, pg, "jobs", 10, 0, buf, sizeof buf),
                        "cdab");
    assert_int_equal(tt_depth(f), 1); /* e, still delayed */
    assert_int_equal(tt_scalar(f->pg,
                               "select sum(acked) from queue_counters "
                               "where slot %% 4194304 = %d",
                               pid),
                     4);
    tt_send(f, f->pg, "jobs", "f");
    tt_send(f, f->pg, "jobs", "g");
    assert_string_equal(pop_bodies(f, pg, "jobs", 1, 0, buf, sizeof buf), "f");
    assert_string_equal(pop_bodies(f, pg, "jobs", 5, 0, buf, sizeof buf), "g");
    assert_int_equal(tt_scalar(f->pg,
                               "select sum(acked) from queue_counters "
                               "where slot %% 4194304 = %d",
                               pid),
                     6);
    assert_int_equal(tt_scalar(f->pg, "select acked from queue_stats where "
                                      "queue = 'jobs'"),
                     6);
    tt_end_role_session(f, pg, role);
}

/* Queues the direct statement leaves to pop(), in the same call: one that
 * keeps an archive, one that expires messages, a fifo queue; and every
 * error is pop()'s, with nothing taken. */
static void
test_fallback_queues(void **state)
{
    tt_fixture *f = *state;
    char role[64], buf[64];
    PGconn *pg = tt_role_session(f, role, sizeof role, NULL);
    txq_msg **m = NULL;
    size_t n = 0;

    tt_queue(f, "kept", TXQ_QUEUE_OPTS(.archive_for = 3600));
    tt_queue(f, "expiring", TXQ_QUEUE_OPTS(.expire_after = 3600));
    tt_queue(f, "ordered", TXQ_QUEUE_OPTS(.fifo = 1));
    fill(f, "kept");
    fill(f, "expiring");
    tt_send(f, f->pg, "ordered", "x");
    assert_string_equal(pop_bodies(f, pg, "kept", 10, 1, buf, sizeof buf),
                        "cdab");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from archive where "
                                      "outcome = 'acked'"),
                     4);
    assert_string_equal(pop_bodies(f, pg, "expiring", 10, 1, buf, sizeof buf),
                        "cdab");
    assert_string_equal(pop_bodies(f, pg, "ordered", 10, 1, buf, sizeof buf),
                        "x");
    assert_int_equal(tt_depth(f), 2);

    tt_exec(pg, "begin");
    assert_txq_rc(f->c, txq_pop(f->c, pg, "nope", 1, &m, &n), TXQ_ENOTFOUND);
    assert_non_null(strstr(txq_errmsg(f->c), "nope"));
    assert_string_equal(txq_sqlstate(f->c), "TQ002");
    tt_exec(pg, "rollback");
    assert_int_equal(tt_depth(f), 2);
    tt_end_role_session(f, pg, role);
}

/* A consumer (EXECUTE on pop(), no table grants) calls pop(). */
static void
test_consumer_calls_pop(void **state)
{
    tt_fixture *f = *state;
    char role[64], buf[64];
    PGconn *pg = tt_role_session(f, role, sizeof role, "txq_consumer");

    fill(f, "jobs");
    assert_string_equal(pop_bodies(f, pg, "jobs", 10, 1, buf, sizeof buf),
                        "cdab");
    assert_int_equal(tt_scalar(f->pg, "select acked from queue_stats where "
                                      "queue = 'jobs'"),
                     4);
    tt_end_role_session(f, pg, role);
}

/* Grant role the tables the direct pop writes, with `on_messages` on
 * messages; revoke_tables takes them back (a role with grants cannot be
 * dropped). */
static void
grant_tables(tt_fixture *f, const char *role, const char *on_messages)
{
    tt_exec(f->pg,
            "grant %s on messages to %s; "
            "grant select, delete on message_errors to %s; "
            "grant select, insert, update on queue_counters to %s; "
            "grant select on queues to %s; "
            "grant select on bodies to %s",
            on_messages, role, role, role, role, role);
}

static void
revoke_tables(tt_fixture *f, const char *role)
{
    tt_exec(f->pg,
            "revoke all on messages, message_errors, queue_counters, queues, "
            "bodies from %s",
            role);
}

/* A role granted the tables outright but under row security (not their
 * owner) calls pop(), whether the connection was checked as that role or
 * as the superuser before a SET ROLE: the statement itself checks. */
static void
test_row_security_calls_pop(void **state)
{
    tt_fixture *f = *state;
    char role[64], buf[64];
    PGconn *pg = tt_role_session(f, role, sizeof role, "txq_consumer");

    grant_tables(f, role, "select, update, delete");
    fill(f, "jobs");
    assert_string_equal(pop_bodies(f, pg, "jobs", 1, 1, buf, sizeof buf), "c");

    tt_exec(pg, "reset role");
    assert_txq_ok(f->c, txq_schema_check(f->c, pg)); /* direct */
    assert_string_equal(pop_bodies(f, pg, "jobs", 1, 0, buf, sizeof buf), "d");
    tt_exec(pg, "set role %s", role);
    assert_string_equal(pop_bodies(f, pg, "jobs", 5, 1, buf, sizeof buf), "ab");
    revoke_tables(f, role);
    tt_end_role_session(f, pg, role);
}

/* A role outside row security (BYPASSRLS) granted all but UPDATE on
 * messages (the direct statement's FOR UPDATE needs it): found out once
 * per connection (every privilege is asked for on its own), it calls
 * pop() and is not refused. */
static void
test_partial_grants_call_pop(void **state)
{
    tt_fixture *f = *state;
    char role[64], buf[64];
    PGconn *pg;

    fill(f, "jobs");
    pg = tt_role_session(f, role, sizeof role, "txq_consumer");
    tt_exec(f->pg, "alter role %s bypassrls", role);
    grant_tables(f, role, "select, delete");
    assert_string_equal(pop_bodies(f, pg, "jobs", 10, 1, buf, sizeof buf),
                        "cdab");
    revoke_tables(f, role);
    tt_end_role_session(f, pg, role);
}

/* A SET ROLE after the check, to a role that may not delete: the refusal
 * is the caller's error (its transaction is aborted, nothing taken), and
 * the next transaction calls pop(). */
static void
test_role_changed_after_check(void **state)
{
    tt_fixture *f = *state;
    char role[64], crole[64], buf[64];
    PGconn *pg = tt_role_session(f, role, sizeof role, NULL);
    txq_msg **m = NULL;
    size_t n = 0;

    tt_role(f, crole, sizeof crole, "consumer", "txq_consumer");
    fill(f, "jobs");
    assert_string_equal(pop_bodies(f, pg, "jobs", 1, 0, buf, sizeof buf), "c");

    tt_exec(pg, "set role %s", crole);
    tt_exec(pg, "begin");
    assert_txq_rc(f->c, txq_pop(f->c, pg, "jobs", 5, &m, &n), TXQ_EPERM);
    assert_string_equal(txq_sqlstate(f->c), "42501");
    assert_null(m);
    tt_exec(pg, "rollback");
    assert_int_equal(tt_depth(f), 4);
    assert_string_equal(pop_bodies(f, pg, "jobs", 5, 1, buf, sizeof buf),
                        "dab");
    tt_end_role_session(f, pg, role);
    tt_exec(f->pg, "drop role %s", crole);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_superuser_pops_directly,
                                        tt_setup_jobs, tt_teardown),
        cmocka_unit_test_setup_teardown(test_fallback_queues, tt_setup_jobs,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_consumer_calls_pop, tt_setup_jobs,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_row_security_calls_pop,
                                        tt_setup_jobs, tt_teardown),
        cmocka_unit_test_setup_teardown(test_partial_grants_call_pop,
                                        tt_setup_jobs, tt_teardown),
        cmocka_unit_test_setup_teardown(test_role_changed_after_check,
                                        tt_setup_jobs, tt_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
