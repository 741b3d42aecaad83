/*
 * test_rotate.c - the messages' storage rotates: sends go to the current
 * one of two partitions; _rotate() (maintain's last step) moves what is
 * left in the other one once it had a period to drain, truncates it when
 * it holds no row (also while a snapshot is held elsewhere, which no
 * vacuum can get past) and then makes it the current one. A move keeps
 * every message whole (id, attempts, claim, body, FIFO order); a live
 * claim, a row a transaction holds, a lock it cannot get within 50 ms and
 * a send not yet committed into the other partition all leave it as it
 * is.
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

/* One rotation step as if it ran `secs` seconds from now, period 30 s;
 * returns 1 when the field of its result is true. */
static int
rotate_at(tt_fixture *f, int secs, const char *field)
{
    return (int)tt_scalar(f->pg,
                          "select (_rotate(now() + interval '%d seconds', "
                          "'30 seconds') ->> '%s')::boolean::int",
                          secs, field);
}

static long long
part_of(tt_fixture *f, long long id)
{
    return tt_scalar(f->pg, "select part from messages where id = %lld", id);
}

static long long
gen(tt_fixture *f)
{
    return tt_scalar(f->pg, "select last_value from messages_gen");
}

static long long
size_of(tt_fixture *f, const char *rel)
{
    return tt_scalar(f->pg, "select pg_relation_size('%s')", rel);
}

/* n messages sent, claimed and acked one at a time, each its own
 * transaction. */
static void
churn(tt_fixture *f, int n)
{
    tt_exec(f->pg,
            "do $$ declare r record; begin for i in 1 .. %d loop "
            "perform send('jobs', 'c'); commit; "
            "select * into r from receive('jobs', 1); commit; "
            "perform ack(array[r.id], array[r.attempts]); commit; "
            "end loop; end $$",
            n);
}

/* The cycle: nothing before a period, then the other (empty) partition
 * becomes current; the first one, once its messages are acked, is
 * truncated, and becomes current again a period later. */
static void
test_rotation_cycle(void **state)
{
    tt_fixture *f = *state;
    long long a, b;

    tt_queue(f, "jobs", NULL);
    a = tt_send(f, f->pg, "jobs", "a");
    assert_int_equal(part_of(f, a), 0);
    assert_int_equal(rotate_at(f, 0, "rotated"), 0);
    assert_int_equal(gen(f), 0);
    assert_int_equal(rotate_at(f, 31, "rotated"), 1);
    assert_int_equal(gen(f), 1);
    b = tt_send(f, f->pg, "jobs", "b");
    assert_int_equal(part_of(f, b), 1);
    /* A batch too (send_batch() reads the generation once for it). */
    tt_exec(f->pg, "select send_batch('jobs', array['x', 'y']::bytea[])");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from messages "
                                      "where part = 1 and body in ('x', 'y')"),
                     2);
    tt_exec(f->pg, "delete from messages where id <> all (array[%lld, %lld])",
            a, b);
    /* Both are served, oldest first, from either partition. */
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from receive('jobs', "
                               "10) with ordinality r "
                               "where (r.id = %lld and ordinality = 1) "
                               "or (r.id = %lld and ordinality = 2)",
                               a, b),
                     2);
    tt_exec(f->pg, "select ack(array[%lld, %lld])", a, b);
    assert_true(size_of(f, "messages_0") > 0);
    /* Empty: truncated at once, but current again only a period after
     * the rotation. */
    assert_int_equal(rotate_at(f, 40, "truncated"), 1);
    assert_int_equal(size_of(f, "messages_0"), 0);
    assert_int_equal(gen(f), 1);
    b = tt_send(f, f->pg, "jobs", "c");
    assert_int_equal(rotate_at(f, 50, "rotated"), 0);
    assert_int_equal(rotate_at(f, 62, "rotated"), 1);
    assert_int_equal(gen(f), 2);
    a = tt_send(f, f->pg, "jobs", "d");
    assert_int_equal(part_of(f, a), 0);
    assert_int_equal(part_of(f, b), 1);
    assert_int_equal(tt_depth(f), 2);
}

/* The point of it: under a snapshot held elsewhere the consumed messages'
 * versions stay (vacuum cannot remove them), and the truncate frees them
 * all the same. */
static void
test_truncate_under_held_snapshot(void **state)
{
    tt_fixture *f = *state;
    PGconn *h = tt_connect(f->schema);
    long long kept, size;

    tt_queue(f, "jobs", NULL);
    tt_exec(h, "begin isolation level repeatable read");
    tt_scalar(h, "select txid_current()");
    churn(f, 2000);
    tt_exec(f->pg, "vacuum messages_0");
    size = size_of(f, "messages_0");
    assert_true(size > 100 * 1024);
    assert_true(tt_scalar(f->pg, "select n_dead_tup + n_live_tup from "
                                 "pg_stat_user_tables where relid = "
                                 "'messages_0'::regclass") >= 2000);
    assert_int_equal(rotate_at(f, 31, "rotated"), 1);
    kept = tt_send(f, f->pg, "jobs", "kept");
    assert_int_equal(rotate_at(f, 62, "truncated"), 1);
    assert_int_equal(size_of(f, "messages_0"), 0);
    /* Each index keeps its metapage. */
    assert_true(tt_scalar(f->pg, "select pg_indexes_size('messages_0')") <=
                4 * 8192);
    /* What the other partition holds is untouched. */
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from receive('jobs') "
                               "where id = %lld and body = 'kept'",
                               kept),
                     1);
    tt_exec(h, "commit");
    PQfinish(h);
}

/* What is left in the other partition after a period moves: a message
 * delayed an hour (and a fanout copy with a shared body) to part 2, a
 * short delay, a retry and a ready message to the current one; a live
 * claim stays, and the partition is truncated once it is acked. Every
 * moved message keeps its id, attempts and body. */
static void
test_leftovers_move(void **state)
{
    tt_fixture *f = *state;
    long long later, soon, retry, ready, held, held_att, copy;

    tt_queue(f, "jobs", NULL);
    tt_queue(f, "s1", NULL);
    tt_queue(f, "s2", NULL);
    tt_exec(f->pg, "select create_topic('t')");
    tt_exec(f->pg, "select subscribe('t', 's1')");
    tt_exec(f->pg, "select subscribe('t', 's2')");
    later = tt_scalar(f->pg, "select send('jobs', 'later', "
                             "i_delay => '1 hour')");
    soon = tt_scalar(f->pg, "select send('jobs', 'soon', "
                            "i_delay => '45 seconds')");
    retry = tt_scalar(f->pg, "select send('jobs', 'retry')");
    held = tt_scalar(f->pg, "select send('jobs', 'held')");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from receive('jobs', "
                                      "10, '1 hour')"),
                     2);
    assert_string_equal(tt_text(f->pg, (char[16]){0}, 16,
                                "select fail(%lld, 'x', 1, "
                                "i_retry_after => '40 seconds')",
                                retry),
                        "retry");
    held_att =
        tt_scalar(f->pg, "select attempts from messages where id = %lld", held);
    ready = tt_scalar(f->pg, "select send('jobs', 'ready')");
    tt_exec(f->pg, "select publish('t', 'shared', i_delay => '1 hour')");
    copy = tt_scalar(f->pg, "select min(id) from messages where body_id "
                            "is not null");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from bodies"), 1);

    assert_int_equal(rotate_at(f, 31, "rotated"), 1);
    /* Not yet a period to drain: nothing moves. */
    assert_int_equal(tt_scalar(f->pg, "select (_rotate(now() + interval "
                                      "'40 s', '30 s') ->> 'moved')::int"),
                     0);
    assert_int_equal(tt_scalar(f->pg, "select (_rotate(now() + interval "
                                      "'62 s', '30 s') ->> 'moved')::int"),
                     6);
    assert_int_equal(part_of(f, later), 2);
    assert_int_equal(part_of(f, copy), 2);
    assert_int_equal(part_of(f, soon), 1);
    assert_int_equal(part_of(f, retry), 1);
    assert_int_equal(part_of(f, ready), 1);
    assert_int_equal(part_of(f, held), 0);
    assert_int_equal(size_of(f, "messages_0") > 0, 1);
    assert_int_equal(tt_scalar(f->pg, "select refs from bodies"), 2);
    assert_int_equal(tt_scalar(f->pg,
                               "select attempts from messages "
                               "where id = %lld",
                               retry),
                     1);
    /* The claim holder acks as before; then the partition goes. */
    assert_int_equal(tt_scalar(f->pg, "select ack(array[%lld], array[%lld])",
                               held, held_att),
                     1);
    assert_int_equal(rotate_at(f, 63, "truncated"), 1);
    assert_int_equal(size_of(f, "messages_0"), 0);
    assert_int_equal(tt_scalar(f->pg, "select refs from bodies"), 2);

    /* Each is delivered whole when due. */
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from receive('jobs', "
                               "10, i_now => now() + interval "
                               "'2 hours') r where (r.id, "
                               "convert_from(r.body, 'UTF8'), "
                               "r.attempts) in ((%lld, 'later', 1), "
                               "(%lld, 'soon', 1), (%lld, 'retry', "
                               "2), (%lld, 'ready', 1))",
                               later, soon, retry, ready),
                     4);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from receive('s1', "
                                      "10, i_now => now() + interval "
                                      "'2 hours') where body = 'shared'"),
                     1);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from receive('s2', "
                                      "10, i_now => now() + interval "
                                      "'2 hours') where body = 'shared'"),
                     1);
}

/* Part 2 gives back what becomes ready within a period, to the current
 * partition. */
static void
test_later_comes_back(void **state)
{
    tt_fixture *f = *state;
    long long later;

    tt_queue(f, "jobs", NULL);
    later = tt_scalar(f->pg, "select send('jobs', 'later', "
                             "i_delay => '1 hour')");
    assert_int_equal(rotate_at(f, 31, "rotated"), 1);
    assert_int_equal(rotate_at(f, 62, "truncated"), 1);
    assert_int_equal(part_of(f, later), 2);
    assert_int_equal(rotate_at(f, 1000, "rotated"), 0);
    assert_int_equal(part_of(f, later), 2);
    tt_scalar(f->pg, "select _rotate(now() + interval '3590 seconds', "
                     "'30 seconds')");
    assert_true(part_of(f, later) < 2);
}

/* A row that a transaction holds (take() in an open transaction) is not
 * moved and keeps the partition; once that transaction is over it goes. */
static void
test_held_row_stays(void **state)
{
    tt_fixture *f = *state;
    PGconn *s = tt_connect(f->schema);
    long long id;

    tt_queue(f, "jobs", NULL);
    id = tt_send(f, f->pg, "jobs", "x");
    assert_int_equal(rotate_at(f, 31, "rotated"), 1);
    tt_exec(s, "begin");
    assert_int_equal(tt_scalar(s, "select count(*) from take('jobs')"), 1);
    /* The taken row is skipped, so the partition is not empty. */
    assert_int_equal(rotate_at(f, 62, "truncated"), 0);
    assert_int_equal(part_of(f, id), 0);
    tt_exec(s, "rollback");
    assert_int_equal(rotate_at(f, 63, "truncated"), 1);
    assert_int_equal(part_of(f, id), 1);
    PQfinish(s);
}

/* A transaction that holds a lock on messages (any statement on it, here
 * a count left open) keeps the truncate off: it gives up after 50 ms and
 * the next step succeeds. */
static void
test_busy_lock_not_waited(void **state)
{
    tt_fixture *f = *state;
    PGconn *s = tt_connect(f->schema);
    double t0;

    tt_queue(f, "jobs", NULL);
    churn(f, 10);
    assert_int_equal(rotate_at(f, 31, "rotated"), 1);
    tt_exec(s, "begin");
    tt_scalar(s, "select count(*) from messages");
    t0 = tt_now();
    tt_exec(f->pg, "begin");
    assert_int_equal(rotate_at(f, 62, "busy"), 1);
    assert_true(tt_now() - t0 < 1.0);
    /* The lock timeout was the step's own. */
    assert_int_equal(tt_scalar(f->pg, "select (current_setting('lock_timeout')"
                                      " = '0')::int"),
                     1);
    tt_exec(f->pg, "commit");
    assert_true(size_of(f, "messages_0") > 0);
    tt_exec(s, "commit");
    assert_int_equal(rotate_at(f, 63, "truncated"), 1);
    PQfinish(s);
}

/* queue_counters grown past 4 MB under a held snapshot (each ack a new
 * version of its backend's row that nothing may prune) is truncated by
 * maintain() with its live rows put back: the size is gone, the counts
 * stay. A session holding a lock on it makes the step give up at once. */
static void
test_counters_compacted(void **state)
{
    tt_fixture *f = *state;
    PGconn *h = tt_connect(f->schema), *s = tt_connect(f->schema);
    double t0;

    tt_queue(f, "jobs", NULL);
    churn(f, 20);
    tt_exec(h, "begin isolation level repeatable read");
    tt_scalar(h, "select txid_current()");
    /* Dead rows nothing may prune, as a hold's acks leave them (made
     * here in two statements, for speed). */
    tt_exec(f->pg, "insert into queue_counters (queue_id, slot) select "
                   "q.queue_id, -g from queues q, "
                   "generate_series(1, 60000) g where q.name = 'jobs'");
    tt_exec(f->pg, "delete from queue_counters where slot < 0");
    assert_true(size_of(f, "queue_counters") > 4 * 1024 * 1024);
    /* Locked by another session: given up within its 50 ms. */
    tt_exec(s, "begin");
    tt_exec(s, "lock table queue_counters in row exclusive mode");
    t0 = tt_now();
    assert_int_equal(tt_scalar(f->pg, "select (maintain()->>"
                                      "'counters_compacted')::boolean::int"),
                     0);
    assert_true(tt_now() - t0 < 1.0);
    assert_int_equal(tt_scalar(f->pg, "select (current_setting('lock_timeout')"
                                      " = '0')::int"),
                     1);
    tt_exec(s, "rollback");
    assert_int_equal(tt_scalar(f->pg, "select (maintain()->>"
                                      "'counters_compacted')::boolean::int"),
                     1);
    assert_true(size_of(f, "queue_counters") <= 2 * 8192);
    assert_int_equal(tt_scalar(f->pg, "select acked from queue_stats where "
                                      "queue = 'jobs'"),
                     20);
    /* Small again: the next call leaves it alone. */
    assert_int_equal(tt_scalar(f->pg, "select (maintain()->>"
                                      "'counters_compacted')::boolean::int"),
                     0);
    tt_exec(h, "commit");
    PQfinish(h);
    PQfinish(s);
}

/* A send whose transaction read the old generation commits into the
 * other partition after the rotation: while it is open the truncate
 * cannot get its lock, and once committed its row is seen and moved. */
static void
test_late_send_kept(void **state)
{
    tt_fixture *f = *state;
    PGconn *s = tt_connect(f->schema);
    long long id;

    tt_queue(f, "jobs", NULL);
    churn(f, 10);
    tt_send(f, f->pg, "jobs", "x");
    tt_exec(s, "begin");
    id = tt_scalar(s, "select send('jobs', 'late')");
    assert_int_equal(rotate_at(f, 31, "rotated"), 1);
    /* x moves; the open send holds the partition: no truncate. */
    assert_int_equal(rotate_at(f, 62, "busy"), 1);
    tt_exec(s, "commit");
    /* Now seen: it moves before the partition goes. */
    assert_int_equal(rotate_at(f, 63, "truncated"), 1);
    assert_int_equal(part_of(f, id), 1);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from receive('jobs', "
                                      "10) where body = 'late'"),
                     1);
    PQfinish(s);
}

/* FIFO order holds across a move: the group's head, failed and waiting
 * for its retry, and the next one move to the current partition, where a
 * third was sent since; they come in id order. */
static void
test_fifo_order_across_moves(void **state)
{
    tt_fixture *f = *state;
    long long m1, m2, m3, got;

    tt_queue(f, "ord", TXQ_QUEUE_OPTS(.fifo = 1));
    m1 = tt_scalar(f->pg, "select send('ord', '1', i_group => 'g')");
    m2 = tt_scalar(f->pg, "select send('ord', '2', i_group => 'g')");
    assert_int_equal(tt_scalar(f->pg, "select id from receive('ord')"), m1);
    tt_exec(f->pg, "select fail(%lld, 'x', 1, i_retry_after => '1 minute')",
            m1);
    assert_int_equal(rotate_at(f, 31, "rotated"), 1);
    m3 = tt_scalar(f->pg, "select send('ord', '3', i_group => 'g')");
    assert_int_equal(rotate_at(f, 62, "truncated"), 1);
    assert_int_equal(part_of(f, m1), 1);
    assert_int_equal(part_of(f, m2), 1);
    assert_int_equal(part_of(f, m3), 1);
    /* Nothing of the group before its head's retry is due. */
    assert_int_equal(tt_scalar(f->pg, "select count(*) from receive('ord')"),
                     0);
    for (long long want = 0; want < 3; want++) {
        got = tt_scalar(f->pg, "select id from receive('ord', 10, i_now => "
                               "now() + interval '2 minutes')");
        assert_int_equal(got, want == 0 ? m1 : want == 1 ? m2 : m3);
        tt_exec(f->pg, "select ack(array[%lld])", got);
    }
}

/* The step runs from maintain() with the period of txq.rotate_after; a
 * bad setting is refused by name, and outside READ COMMITTED nothing is
 * done. */
static void
test_maintain_and_settings(void **state)
{
    tt_fixture *f = *state;
    char msg[256];

    tt_queue(f, "jobs", NULL);
    tt_send(f, f->pg, "jobs", "a");
    tt_exec(f->pg, "set txq.rotate_after = '5 s'");
    assert_int_equal(tt_scalar(f->pg, "select (maintain(now() + interval "
                                      "'6 s') -> 'storage' ->> 'rotated')"
                                      "::boolean::int"),
                     1);
    assert_int_equal(gen(f), 1);
    tt_exec(f->pg, "set txq.rotate_after = 'soon'");
    tt_fails(f->pg, msg, sizeof msg, "select maintain()");
    assert_non_null(strstr(msg, "txq.rotate_after"));
    tt_exec(f->pg, "set txq.rotate_after = '0.5 s'");
    tt_fails(f->pg, msg, sizeof msg, "select maintain()");
    assert_non_null(strstr(msg, "txq.rotate_after must be between"));
    tt_exec(f->pg, "reset txq.rotate_after");
    tt_exec(f->pg, "begin isolation level repeatable read");
    assert_int_equal(rotate_at(f, 1000, "rotated"), 0);
    tt_exec(f->pg, "commit");
    assert_int_equal(gen(f), 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rotation_cycle, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_truncate_under_held_snapshot,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_leftovers_move, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_later_comes_back, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_held_row_stays, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_counters_compacted, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_busy_lock_not_waited, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_late_send_kept, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_fifo_order_across_moves, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_maintain_and_settings, tt_setup,
                                        tt_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
