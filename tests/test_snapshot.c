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

static long long
min_ll(long long a, long long b)
{
    return a < b ? a : b;
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

/* Whether a receive by pg returns the message with this body within 5 s
 * (each receive claims what it gets; the others are left claimed). */
static int
received_soon(PGconn *pg, const char *body)
{
    double t0 = tt_now();

    while (tt_now() - t0 < 5) {
        if (tt_scalar(pg,
                      "select count(*) from receive('jobs') "
                      "where body = '%s'",
                      body) > 0)
            return 1;
        tt_sleep_ms(10);
    }
    return 0;
}

/* A claim walks messages_ready_idx from this session's frontier, not from
 * the queue's first entry: under a held snapshot every message consumed
 * leaves two dead entries there (its first version, then its claimed one)
 * that no scan can mark dead, and claims from the start walked them all
 * (15 ms per claim after 40,000 messages, 0.4 ms from the frontier). */
static void
test_claims_under_held_snapshot(void **state)
{
    tt_fixture *f = *state;
    PGconn *h;
    long long hits, base;

    tt_queue(f, "jobs", NULL);
    /* What a 1-message claim touches on a clean queue, plans made. */
    tt_send(f, f->pg, "jobs", "w");
    tt_exec(f->pg, "select receive('jobs', 1)");
    tt_send(f, f->pg, "jobs", "z");
    base = buffers_of(f->pg, "select * from receive('jobs', 1)");
    tt_exec(f->pg, "select receive('jobs', 1)");
    h = hold_snapshot(f);
    churn(f->pg, "jobs", 6000);
    /* The frontier stays a tenth of a second behind the claims' clock:
     * one claim after that, and the next walks from there. */
    tt_sleep_ms(150);
    tt_send(f, f->pg, "jobs", "a");
    tt_exec(f->pg, "select receive('jobs', 1)");
    tt_send(f, f->pg, "jobs", "b");
    hits = buffers_of(f->pg, "select * from receive('jobs', 1)");
    /* 12,000 dead entries from the start of the queue (about 270 buffers:
     * heap pages in a row count once); from the frontier a few, besides
     * what any claim touches (base). */
    if (hits > base + 60)
        fail_msg("the claim touched %lld buffers (a clean claim %lld)", hits,
                 base);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from receive('jobs')"),
                     1);
    release_snapshot(h);
}

/* A send whose transaction began before messages that were claimed since
 * commits behind the claims' frontier: the session's next sweep (at most
 * every 30 s, every 50 ms when the queue's index is clean) finds it. */
static void
test_late_commit_found(void **state)
{
    tt_fixture *f = *state;
    PGconn *p = tt_connect(f->schema);

    tt_queue(f, "jobs", NULL);
    tt_exec(p, "begin");
    tt_exec(p, "select send('jobs', 'late')");
    tt_sleep_ms(300);
    churn(f->pg, "jobs", 50);
    tt_exec(p, "commit");
    assert_true(received_soon(f->pg, "late"));
    PQfinish(p);
}

/* A claim another session made and rolled back, skipped meanwhile (SKIP
 * LOCKED), comes back to the skipping session too. */
static void
test_rolled_back_claim_found(void **state)
{
    tt_fixture *f = *state;
    PGconn *a = tt_connect(f->schema);

    tt_queue(f, "jobs", NULL);
    tt_send(f, f->pg, "jobs", "first");
    tt_send(f, f->pg, "jobs", "second");
    /* Older than the frontier's lag behind the claims' clock. */
    tt_sleep_ms(200);
    tt_exec(a, "begin");
    assert_int_equal(tt_scalar(a, "select count(*) from receive('jobs') "
                                  "where body = 'first'"),
                     1);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from receive('jobs') "
                                      "where body = 'second'"),
                     1);
    tt_exec(a, "rollback");
    assert_true(received_soon(f->pg, "first"));
    PQfinish(a);
}

/* Priority levels: each has a frontier of its own; the levels known to the
 * session are claimed highest first at once, a level new to the session
 * from its next sweep on. */
static void
test_levels(void **state)
{
    tt_fixture *f = *state;
    char buf[64];

    tt_queue(f, "jobs", NULL);
    tt_exec(f->pg, "select send('jobs', 'low')");
    tt_exec(f->pg, "select send('jobs', 'high', i_priority => 5)");
    tt_exec(f->pg, "select send('jobs', 'low2')");
    tt_exec(f->pg, "select send('jobs', 'high2', i_priority => 5)");
    assert_string_equal(tt_text(f->pg, buf, sizeof buf,
                                "select string_agg(convert_from(body, "
                                "'UTF8'), ',') from receive('jobs', 3)"),
                        "high,high2,low");
    tt_exec(f->pg, "select send('jobs', 'high3', i_priority => 5)");
    assert_string_equal(tt_text(f->pg, buf, sizeof buf,
                                "select string_agg(convert_from(body, "
                                "'UTF8'), ',') from receive('jobs', 3)"),
                        "high3,low2");
    /* A level the session has not seen. */
    tt_exec(f->pg, "select send('jobs', 'top', i_priority => 9)");
    assert_true(received_soon(f->pg, "top"));
    /* More than 8 levels: one walk of the whole queue in claim order. */
    tt_exec(f->pg, "select send('jobs', convert_to('p' || i, 'UTF8'), "
                   "i_priority => i) "
                   "from generate_series(-5, 5) i");
    tt_sleep_ms(100);
    assert_string_equal(tt_text(f->pg, buf, sizeof buf,
                                "select string_agg(convert_from(body, "
                                "'UTF8'), ',') from receive('jobs', 11)"),
                        "p5,p4,p3,p2,p1,p0,p-1,p-2,p-3,p-4,p-5");
}

/* A send to a queue somebody waits on looks for wait registrations. They
 * were rows: each wait_begin inserted one, the send that woke it deleted
 * it, and under a held snapshot every send walked all the dead versions
 * (3.7 ms a send after six minutes at 800 msgs/s). They are counters in
 * sequences now, which keep no versions: after 3,000 wake-ups a send costs
 * what it costs on a queue woken once. */
static void
test_wakes_under_held_snapshot(void **state)
{
    tt_fixture *f = *state;
    PGconn *h;
    long long hits, fresh;

    tt_queue(f, "jobs", NULL);
    tt_queue(f, "other", NULL);
    tt_exec(f->pg, "select wait_begin('other')");
    tt_exec(f->pg, "select send('other', 'x')");
    h = hold_snapshot(f);
    tt_exec(f->pg, "do $$ begin for i in 1 .. 3000 loop "
                   "perform wait_begin('jobs'); commit; "
                   "perform send('jobs', 'x'::bytea); commit; "
                   "end loop; end $$");
    assert_int_equal(tt_pending(f->pg), 0);
    tt_exec(f->pg, "select wait_begin('jobs')");
    tt_exec(f->pg, "select wait_begin('other')");
    /* The first statement after the loop pays for plans and catalog
     * reads: the fewer of two each. */
    hits = buffers_of(f->pg, "select send('jobs', 'y'::bytea)");
    fresh = buffers_of(f->pg, "select send('other', 'y'::bytea)");
    hits = min_ll(hits, buffers_of(f->pg, "select send('jobs', 'y'::bytea)"));
    fresh =
        min_ll(fresh, buffers_of(f->pg, "select send('other', 'y'::bytea)"));
    if (hits > fresh + 4)
        fail_msg("a send after 3,000 wake-ups touched %lld buffers, "
                 "one to a queue woken once %lld",
                 hits, fresh);
    release_snapshot(h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_counters_under_held_snapshot,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_claims_under_held_snapshot,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_late_commit_found, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_rolled_back_claim_found, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_levels, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_wakes_under_held_snapshot,
                                        tt_setup, tt_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
