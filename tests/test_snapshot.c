/*
 * test_snapshot.c - txq under a snapshot held elsewhere in the cluster
 * (pg_dump, a report, a forgotten idle transaction): nothing can be
 * vacuumed or pruned while it lasts, so any row updated without end grows a
 * version chain that every later update walks, and any index that claims
 * walk from its start fills with dead entries. Each test holds a snapshot on
 * a connection of its own and counts the buffers the hot statements touch.
 */
#include "tt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT txid_current(); left idle
 * in that transaction, as the pg_dump stand-in. */
static PGconn *
hold_snapshot(const tt_fixture *f)
{
    PGconn *h = tt_connect(f->schema);

    tt_exec(h, "begin isolation level repeatable read");
    tt_scalar(h, "select txid_current()");
    return h;
}

static void
release_snapshot(PGconn *h)
{
    tt_exec(h, "commit");
    PQfinish(h);
}

/* Shared buffers one statement touches (EXPLAIN ANALYZE BUFFERS), run in a
 * transaction that is rolled back. sql is test-written. */
static long long
buffers_of(PGconn *pg, const char *sql)
{
    long long n;

    tt_exec(pg, "begin");
    tt_exec(pg, "create function pg_temp.tt_hits(q text) returns bigint "
                "language plpgsql as $$ declare j json; begin "
                "execute 'explain (analyze, buffers, format json) ' || q "
                "into j; return (j->0->'Plan'->>'Shared Hit Blocks')::bigint "
                "+ (j->0->'Plan'->>'Shared Read Blocks')::bigint; end $$");
    n = tt_scalar(pg, "select pg_temp.tt_hits($q$%s$q$)", sql);
    tt_exec(pg, "rollback");
    return n;
}

/* n messages sent, claimed and acked one at a time, each step its own
 * transaction (a DO block that commits), as a busy consumer does. */
static void
churn(PGconn *pg, const char *queue, int n)
{
    tt_exec(pg,
            "do $$ declare r record; begin "
            "for i in 1 .. %d loop "
            "perform send('%s', 'x'::bytea); commit; "
            "select * into r from receive('%s', 1); commit; "
            "perform ack(array[r.id], array[r.attempts]); commit; "
            "end loop; end $$",
            n, queue, queue);
}

/* An ack adds to this backend's counter row. Under a held snapshot a row
 * updated on every ack kept every version: after 40,000 acks one update
 * read 455 pages (4 ms). The row's generation changes every 128
 * transactions, so no row takes more than that many updates. */
static void
test_counters_under_held_snapshot(void **state)
{
    tt_fixture *f = *state;
    PGconn *h;
    long long hits;

    tt_queue(f, "jobs", NULL);
    h = hold_snapshot(f);
    churn(f->pg, "jobs", 3000);
    hits = buffers_of(f->pg, "update queue_counters set acked = acked "
                             "where slot = _counter_slot()");
    /* One row of the current generation: its index page and at most a
     * couple of heap pages (3,000 updates of one row span 30 or more). */
    if (hits > 8)
        fail_msg("the counter update touched %lld buffers", hits);
    assert_true(tt_scalar(f->pg, "select count(*) from queue_counters "
                                 "where slot > 15") > 1);
    assert_int_equal(tt_scalar(f->pg, "select acked from queue_stats"), 3000);
    release_snapshot(h);
    /* maintain() folds the past generations into slot 0; the sum stays. */
    tt_scalar(f->pg, "select 1 from maintain()");
    assert_true(tt_scalar(f->pg, "select count(*) from queue_counters "
                                 "where slot > 15") <= 2);
    assert_int_equal(tt_scalar(f->pg, "select acked from queue_stats"), 3000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_counters_under_held_snapshot,
                                        tt_setup, tt_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
