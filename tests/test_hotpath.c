/*
 * test_hotpath.c - the machinery behind the fast paths: prepared
 * statements (shared by handles, per connection, surviving DEALLOCATE ALL
 * and a switch between connections), what a handle remembers of each
 * connection (round trips counted with libpq's trace), ack_receive's fence,
 * per-backend counter rows folded by maintain(), a wake-up that takes the
 * pending registrations so a burst of sends notifies once, the queue's waiting
 * flag that spares sends the wake-up call, and claim plans that stay
 * bounded when they were made while the table looked empty.
 *
 * Needs TXQ_TEST_DSN (ctest's pg_start fixture provides it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "tt.h"

/* Prepared statements of txq on pg. */
static long long
prepared(PGconn *pg)
{
    return tt_scalar(pg, "select count(*) from pg_prepared_statements"
                         " where starts_with(name, 'txq_')");
}

static void
test_prepared_shared_and_recovered(void **state)
{
    tt_fixture *f = *state;
    txq_options o = {.size = sizeof(txq_options), .schema = f->schema};
    txq_client *c2 = txq_client_new(&o);
    int64_t id = 0;

    tt_queue(f, "jobs", NULL);
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "jobs", "a", 1, NULL, &id));
    assert_int_equal(prepared(f->pg), 1);
    /* A second handle on the same connection uses the same statement. */
    assert_txq_ok(c2, txq_send(c2, f->pg, "jobs", "b", 1, NULL, &id));
    assert_int_equal(prepared(f->pg), 1);
    /* Inside a transaction too: no second PREPARE aborts it. */
    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "jobs", "c", 1, NULL, &id));
    assert_txq_ok(c2, txq_send(c2, f->pg, "jobs", "d", 1, NULL, &id));
    tt_exec(f->pg, "commit");
    assert_int_equal(tt_depth(f), 4);

    /* Gone behind the handle's back: re-prepared outside a transaction. */
    tt_exec(f->pg, "deallocate all");
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "jobs", "e", 1, NULL, &id));
    assert_int_equal(prepared(f->pg), 1);
    /* Inside one the call fails (the transaction is lost), the next one
     * after the rollback works. */
    tt_exec(f->pg, "begin");
    tt_exec(f->pg, "deallocate all");
    assert_int_not_equal(txq_send(f->c, f->pg, "jobs", "f", 1, NULL, &id),
                         TXQ_OK);
    tt_exec(f->pg, "rollback");
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "jobs", "g", 1, NULL, &id));
    assert_int_equal(tt_depth(f), 6);
    txq_client_free(c2);
}

static void
test_prepared_connection_switch(void **state)
{
    tt_fixture *f = *state;
    PGconn *pg2 = tt_connect(f->schema);
    int64_t id = 0;

    tt_queue(f, "jobs", NULL);
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "jobs", "a", 1, NULL, &id));
    assert_txq_ok(f->c, txq_send(f->c, pg2, "jobs", "b", 1, NULL, &id));
    /* Back on the first connection, in a transaction: the handle asks what
     * it holds instead of preparing again. */
    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "jobs", "c", 1, NULL, &id));
    tt_exec(f->pg, "commit");
    assert_int_equal(prepared(f->pg), 1);
    assert_int_equal(prepared(pg2), 1);
    /* A reset connection is a new backend with nothing prepared. */
    PQreset(pg2);
    tt_exec(pg2, "set search_path = %s", f->schema);
    assert_txq_ok(f->c, txq_send(f->c, pg2, "jobs", "d", 1, NULL, &id));
    assert_int_equal(tt_depth(f), 4);
    PQfinish(pg2);
}

/* Start counting the round trips txq makes on pg (libpq's trace of the
 * protocol into a temporary file). */
static FILE *
trace_start(PGconn *pg)
{
    FILE *fp = tmpfile();

    assert_non_null(fp);
    PQtrace(pg, fp);
    PQsetTraceFlags(pg, PQTRACE_SUPPRESS_TIMESTAMPS);
    return fp;
}

/* Stop tracing pg and return the round trips it made: the frontend's Sync
 * (an extended-protocol exchange: PQexecParams, PQprepare,
 * PQexecPrepared) and Query (the simple protocol) messages. */
static int
trace_round_trips(PGconn *pg, FILE *fp)
{
    char line[4096];
    int n = 0;

    PQuntrace(pg);
    rewind(fp);
    while (fgets(line, sizeof line, fp) != NULL) {
        if (strncmp(line, "F\t", 2) == 0 &&
            (strstr(line, "\tSync") != NULL || strstr(line, "\tQuery\t")))
            n++;
    }
    fclose(fp);
    return n;
}

/* One handle shared by two connections, as by a pool: each connection is
 * checked (schema version, prepared statements) once, not at every
 * switch; a reset connection (another backend) is checked again. */
static void
test_connections_remembered(void **state)
{
    tt_fixture *f = *state;
    PGconn *pg2 = tt_connect(f->schema);
    PGconn *pg[2] = {f->pg, pg2};
    FILE *tr[2];
    int64_t id = 0;
    int first, rounds = 10;

    tt_queue(f, "jobs", NULL);
    /* The first send on each: what pg holds, PREPARE, the send itself;
     * on pg2 the schema probe and version check first (f->pg had them
     * when the queue was made). */
    for (int i = 0; i < 2; i++) {
        tr[i] = trace_start(pg[i]);
        assert_txq_ok(f->c, txq_send(f->c, pg[i], "jobs", "a", 1, NULL, &id));
        first = trace_round_trips(pg[i], tr[i]);
        print_message("first send on connection %d: %d round trips\n", i + 1,
                      first);
        assert_int_equal(first, i == 0 ? 3 : 5);
    }
    /* Then alternating: one round trip per send, on either. */
    tr[0] = trace_start(pg[0]);
    tr[1] = trace_start(pg[1]);
    for (int r = 0; r < rounds; r++) {
        assert_txq_ok(f->c,
                      txq_send(f->c, pg[r % 2], "jobs", "b", 1, NULL, &id));
        assert_txq_ok(f->c,
                      txq_send(f->c, pg[r % 2], "jobs", "c", 1, NULL, &id));
        assert_txq_ok(
            f->c, txq_send(f->c, pg[(r + 1) % 2], "jobs", "d", 1, NULL, &id));
    }
    first = trace_round_trips(pg[0], tr[0]);
    first += trace_round_trips(pg[1], tr[1]);
    print_message("%d sends alternating between 2 connections: %d round "
                  "trips\n",
                  3 * rounds, first);
    assert_int_equal(first, 3 * rounds);
    assert_int_equal(tt_depth(f), 2 + 3 * rounds);

    /* The same PGconn on a new backend: not trusted, checked again. */
    PQreset(pg2);
    tt_exec(pg2, "set search_path = %s", f->schema);
    tr[1] = trace_start(pg2);
    assert_txq_ok(f->c, txq_send(f->c, pg2, "jobs", "e", 1, NULL, &id));
    assert_int_equal(trace_round_trips(pg2, tr[1]), 5);
    PQfinish(pg2);
}

/* More connections than a handle remembers: the least recently used is
 * forgotten (checked again when it comes back), every call still right. */
static void
test_connections_beyond_table(void **state)
{
    tt_fixture *f = *state;
    enum { N = 12 };
    PGconn *pg[N];
    int64_t id = 0;
    FILE *tr;

    tt_queue(f, "jobs", NULL);
    for (int i = 0; i < N; i++)
        pg[i] = tt_connect(f->schema);
    for (int r = 0; r < 3; r++) {
        for (int i = 0; i < N; i++)
            assert_txq_ok(f->c,
                          txq_send(f->c, pg[i], "jobs", "x", 1, NULL, &id));
    }
    assert_int_equal(tt_depth(f), 3 * N);
    /* The last eight are remembered: one round trip each. */
    for (int i = N - 8; i < N; i++) {
        tr = trace_start(pg[i]);
        assert_txq_ok(f->c, txq_send(f->c, pg[i], "jobs", "y", 1, NULL, &id));
        assert_int_equal(trace_round_trips(pg[i], tr), 1);
    }
    for (int i = 0; i < N; i++)
        PQfinish(pg[i]);
}

static void
test_ack_receive_fenced(void **state)
{
    tt_fixture *f = *state;
    PGconn *pg2 = tt_connect(f->schema);
    char msg[256];

    tt_queue(f, "jobs", NULL);
    tt_send(f, f->pg, "jobs", "a");
    tt_send(f, f->pg, "jobs", "b");
    tt_exec(f->pg, "create temp table r as"
                   " select id, attempts from receive('jobs', 1)");
    /* The holder acks and gets the next message in one call. */
    assert_int_equal(tt_scalar(f->pg, "select count(*) from ack_receive("
                                      "array(select id from r),"
                                      " array(select attempts from r),"
                                      " 'jobs', 5)"),
                     1);
    assert_int_equal(tt_depth(f), 1);
    assert_int_equal(tt_scalar(f->pg, "select coalesce(sum(acked), 0)"
                                      " from queue_counters"),
                     1);
    /* A stale attempt acks nothing and claims nothing: TQ003. */
    tt_exec(f->pg, "truncate r");
    tt_exec(f->pg, "insert into r select id, attempts - 1 from messages");
    assert_string_equal(tt_fails(f->pg, msg, sizeof msg,
                                 "select count(*) from ack_receive("
                                 "array(select id from r),"
                                 " array(select attempts from r), 'jobs', 5)"),
                        "TQ003");
    assert_non_null(strstr(msg, "not held"));
    assert_int_equal(tt_depth(f), 1);
    PQfinish(pg2);
}

static void
test_counter_rows_per_backend(void **state)
{
    tt_fixture *f = *state;
    PGconn *pg2 = tt_connect(f->schema);
    txq_msg **m;

    tt_queue(f, "jobs", NULL);
    tt_send(f, f->pg, "jobs", "a");
    tt_send(f, f->pg, "jobs", "b");
    m = tt_take(f, f->pg, "jobs", 1);
    assert_txq_ok(f->c, txq_ack(f->c, f->pg, m[0]));
    txq_msgs_free(m, 1);
    m = tt_take(f, pg2, "jobs", 1);
    assert_txq_ok(f->c, txq_ack(f->c, pg2, m[0]));
    txq_msgs_free(m, 1);
    /* One row per backend, besides the queue's 16. */
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queue_counters"
                                      " where slot > 15 and acked = 1"),
                     2);
    PQfinish(pg2);
    /* The ended session's row folds into slot 0; the sum stays. */
    for (int i = 0; i < 100; i++) {
        tt_scalar(f->pg, "select 1 from maintain()");
        if (tt_scalar(f->pg, "select count(*) from queue_counters"
                             " where slot > 15") == 1)
            break;
        tt_sleep_ms(50);
    }
    assert_int_equal(
        tt_scalar(f->pg, "select count(*) from queue_counters where slot > 15"),
        1);
    assert_int_equal(
        tt_scalar(f->pg, "select acked from queue_counters where slot = 0"), 1);
    assert_int_equal(tt_scalar(f->pg, "select acked from queue_stats"), 2);
}

static void
test_wake_takes_registrations(void **state)
{
    tt_fixture *f = *state;
    PGconn *w = tt_connect(f->schema);

    tt_queue(f, "jobs", NULL);
    tt_exec(w, "listen txq_wake");
    tt_exec(w, "select wait_begin('jobs')");
    tt_send(f, f->pg, "jobs", "a");
    tt_send(f, f->pg, "jobs", "b");
    /* The first send took the registration and notified; the second
     * found none. */
    assert_int_equal(tt_pending(f->pg), 0);
    assert_int_equal(tt_wakes(w, "jobs"), 1);
    /* Waiting again re-arms it; two sessions registered, one wake-up. */
    tt_exec(w, "select wait_begin('jobs')");
    tt_exec(f->pg, "select wait_begin('jobs')");
    assert_int_equal(tt_pending(f->pg), 2);
    tt_send(f, f->pg, "jobs", "c");
    assert_int_equal(tt_pending(f->pg), 0);
    assert_int_equal(tt_wakes(w, "jobs"), 1);
    /* A send that rolls back took them all the same: the waiters are left
     * to their poll. wait_end has nothing to undo. */
    tt_exec(w, "select wait_begin('jobs')");
    tt_exec(f->pg, "begin");
    tt_send(f, f->pg, "jobs", "d");
    tt_exec(f->pg, "rollback");
    assert_int_equal(tt_pending(f->pg), 0);
    assert_int_equal(tt_wakes(w, "jobs"), 0);
    tt_exec(w, "select wait_begin('jobs')");
    tt_exec(w, "select wait_end('jobs')");
    assert_int_equal(tt_pending(f->pg), 1);
    assert_string_equal(tt_fails(w, NULL, 0, "select wait_end('nope')"),
                        "TQ002");
    PQfinish(w);
}

static long long
waiting(PGconn *pg, const char *queue)
{
    return tt_scalar(pg, "select waiting::int from queues where name = '%s'",
                     queue);
}

/* A queue's waiting flag: off until a wait_begin, so sends (libtxq's
 * direct ones, SQL's send() and send_batch()) do not call _wake; on while
 * somebody may wait, so sends call it and wake; off again once maintain()
 * finds no registration pending, and not while one is. */
static void
test_waiting_flag(void **state)
{
    tt_fixture *f = *state;
    PGconn *w = tt_connect(f->schema);
    const void *bodies[] = {"c", "d"};
    const size_t lens[] = {1, 1};
    long long calls;

    tt_queue(f, "jobs", NULL);
    assert_int_equal(waiting(f->pg, "jobs"), 0);
    tt_exec(f->pg, "set track_functions = 'all'");
    /* Counts not yet reported stay pending across transactions; none is
     * reported inside one. */
    tt_exec(f->pg, "begin");
    calls = tt_fn_calls(f->pg, "_wake") + tt_fn_calls(f->pg, "_wake_queue");
    tt_send(f, f->pg, "jobs", "a");
    tt_exec(f->pg, "select send('jobs', 'b')");
    assert_txq_ok(
        f->c, txq_send_batch(f->c, f->pg, "jobs", bodies, lens, 2, NULL, NULL));
    tt_exec(f->pg, "select send_batch('jobs', array['e', 'f']::bytea[])");
    assert_int_equal(
        tt_fn_calls(f->pg, "_wake") + tt_fn_calls(f->pg, "_wake_queue"), calls);
    tt_exec(f->pg, "commit");

    tt_exec(w, "listen txq_wake");
    tt_exec(w, "select wait_begin('jobs')");
    assert_int_equal(waiting(f->pg, "jobs"), 1);
    tt_exec(f->pg, "begin");
    calls = tt_fn_calls(f->pg, "_wake_queue");
    tt_send(f, f->pg, "jobs", "c");
    assert_true(tt_fn_calls(f->pg, "_wake_queue") > calls);
    tt_exec(f->pg, "commit");
    assert_int_equal(tt_wakes(w, "jobs"), 1);
    /* The wake-up took the registration; the flag waits for maintain(). */
    assert_int_equal(tt_pending(f->pg), 0);
    assert_int_equal(waiting(f->pg, "jobs"), 1);
    assert_int_equal(
        tt_scalar(f->pg, "select (maintain()->>'waiting_cleared')::int"), 1);
    assert_int_equal(waiting(f->pg, "jobs"), 0);

    tt_exec(w, "select wait_begin('jobs')");
    assert_int_equal(
        tt_scalar(f->pg, "select (maintain()->>'waiting_cleared')::int"), 0);
    assert_int_equal(waiting(f->pg, "jobs"), 1);
    tt_exec(f->pg, "select send('jobs', 'd')");
    assert_int_equal(tt_wakes(w, "jobs"), 1);
    PQfinish(w);
}

/* maintain() and a wait_begin at the same moment: the flag must never end
 * off with a registration pending, or that waiter sleeps through the sends
 * until its poll. A wait_begin not yet committed (its flag not yet visible
 * to maintain) makes maintain() skip the queue, without waiting; a wait_begin
 * behind maintain()'s uncommitted clear waits for it and turns the flag
 * back on. */
static void
test_waiting_flag_race(void **state)
{
    tt_fixture *f = *state;
    PGconn *w = tt_connect(f->schema);
    PGresult *r;
    int pid = tt_pid(w), blocked = 0;

    tt_queue(f, "jobs", NULL);
    tt_exec(f->pg, "set statement_timeout = '5s'");
    tt_exec(w, "listen txq_wake");
    tt_exec(w, "select wait_begin('jobs')");
    tt_send(f, f->pg, "jobs", "a");
    assert_int_equal(tt_wakes(w, "jobs"), 1);

    /* The waiter's registration is in flight: skipped. */
    tt_exec(w, "begin");
    tt_exec(w, "select wait_begin('jobs')");
    assert_int_equal(
        tt_scalar(f->pg, "select (maintain()->>'waiting_cleared')::int"), 0);
    tt_exec(w, "commit");
    assert_int_equal(waiting(f->pg, "jobs"), 1);
    tt_send(f, f->pg, "jobs", "b");
    assert_int_equal(tt_wakes(w, "jobs"), 1);

    /* maintain() cleared first, uncommitted: the registration waits. */
    tt_exec(f->pg, "begin");
    assert_int_equal(
        tt_scalar(f->pg, "select (maintain()->>'waiting_cleared')::int"), 1);
    assert_int_equal(PQsendQuery(w, "select wait_begin('jobs')"), 1);
    for (int i = 0; i < 200 && !blocked; i++) {
        blocked = tt_scalar(f->pg,
                            "select count(*) from pg_stat_activity where "
                            "pid = %d and wait_event_type = 'Lock'",
                            pid) == 1;
        if (!blocked)
            tt_sleep_ms(10);
    }
    assert_true(blocked);
    tt_exec(f->pg, "commit");
    r = PQgetResult(w);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    assert_null(PQgetResult(w));
    assert_int_equal(waiting(f->pg, "jobs"), 1);
    tt_send(f, f->pg, "jobs", "c");
    assert_int_equal(tt_wakes(w, "jobs"), 1);
    PQfinish(w);
}

/* Tuples read by this transaction of pg through index (or table) name,
 * on every partition. */
static long long
tuples_read(PGconn *pg, const char *index)
{
    return tt_scalar(pg,
                     "select coalesce(sum(pg_stat_get_xact_tuples_returned("
                     "relid)), 0) from pg_partition_tree('%s'::regclass)",
                     index);
}

/* A session's cached claim plan was made when the statistics said the
 * table is empty (as after a truncate and analyze); thousands of messages
 * later, claiming one must still read a handful of index entries, not the
 * table (W5 found claims that scanned the primary key for every row). */
static void
test_claim_plan_bounded(void **state)
{
    tt_fixture *f = *state;
    PGconn *s = tt_connect(f->schema);
    txq_msg **m;
    int i;

    tt_queue(f, "jobs", NULL);
    tt_queue(f, "ord", TXQ_QUEUE_OPTS(.fifo = 1));
    tt_exec(f->pg, "alter table messages_0 set (autovacuum_enabled = off)");
    tt_exec(f->pg, "alter table messages_1 set (autovacuum_enabled = off)");
    tt_exec(f->pg, "alter table messages_later set (autovacuum_enabled = off)");
    tt_exec(f->pg, "vacuum analyze messages");
    /* Plans made now, on the empty table, are the session's. */
    tt_exec(s, "select * from receive('jobs', 1)");
    tt_exec(s, "select * from receive('ord', 1)");
    tt_exec(s, "begin");
    tt_exec(s, "select * from take('jobs', 1)");
    tt_exec(s, "rollback");
    /* And the statements that finish a message (a seq scan looks cheapest
     * on an empty table: then every ack read the whole backlog). */
    tt_exec(s, "select ack(array[0]::bigint[], array[1])");
    tt_fails(s, NULL, 0, "select set_visibility(0, '1 s', i_attempt => 1)");
    tt_fails(s, NULL, 0, "select fail(0, 'x', i_attempt => 1)");
    tt_exec(f->pg, "select count(*) from send_batch('jobs', "
                   "array_fill('x'::bytea, array[4000]))");
    for (i = 0; i < 40; i++)
        tt_exec(f->pg,
                "select count(*) from send_batch('ord', "
                "array_fill('x'::bytea, array[100]), "
                "i_groups => array_fill('g%d'::text, array[100]))",
                i);

    tt_exec(s, "begin");
    m = tt_take(f, s, "jobs", 0);
    txq_msgs_free(m, 1);
    assert_true(tuples_read(s, "messages_pkey") < 50);
    assert_true(tuples_read(s, "messages_ready_idx") < 50);
    tt_exec(s, "rollback");

    tt_exec(s, "begin");
    assert_int_equal(tt_scalar(s, "select count(*) from receive('jobs', 1)"),
                     1);
    assert_true(tuples_read(s, "messages_pkey") < 50);
    assert_true(tuples_read(s, "messages_ready_idx") < 50);
    tt_exec(s, "rollback");

    tt_exec(s, "begin");
    m = tt_take(f, s, "jobs", 0);
    tt_scalar(s, "select set_visibility(%lld, '1 s', i_attempt => %d)",
              (long long)txq_msg_id(m[0]), txq_msg_attempt(m[0]));
    tt_exec(s, "select fail(%lld, 'x', i_attempt => %d)",
            (long long)txq_msg_id(m[0]), txq_msg_attempt(m[0]));
    txq_msgs_free(m, 1);
    m = tt_take(f, s, "jobs", 0);
    assert_int_equal(tt_scalar(s, "select ack(array[%lld], array[%d])",
                               (long long)txq_msg_id(m[0]),
                               txq_msg_attempt(m[0])),
                     1);
    txq_msgs_free(m, 1);
    assert_true(tuples_read(s, "messages") < 50);
    tt_exec(s, "rollback");

    tt_exec(s, "begin");
    assert_int_equal(tt_scalar(s, "select count(*) from receive('ord', 1)"), 1);
    assert_true(tuples_read(s, "messages_pkey") < 50);
    assert_true(tuples_read(s, "messages_ready_idx") < 100);
    tt_exec(s, "rollback");
    PQfinish(s);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_prepared_shared_and_recovered,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_prepared_connection_switch,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_connections_remembered, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_connections_beyond_table, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_ack_receive_fenced, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_counter_rows_per_backend, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_claim_plan_bounded, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_wake_takes_registrations, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_waiting_flag, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_waiting_flag_race, tt_setup,
                                        tt_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
