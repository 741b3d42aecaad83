/*
 * test_fanout.c - a body published to many queues is stored once: a
 * fanout publish that more than one queue receives writes the body to
 * bodies with a count of its copies, and each copy refers to it; every way
 * of reading a copy (receive, take, pop by statement and by call, the
 * dead letters, the archive) gets the whole body, and each copy is acked,
 * failed and dead-lettered on its own; the body goes with its last copy,
 * at that transaction's commit, and not when it rolls back.
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

#define NSUB 10
#define BIG  (1024 * 1024)

/* Topic "orders" with queues s0 .. s9 subscribed, each allowing a 1 MiB
 * body; s9 archives what it acks. */
static int
setup_topic(void **state)
{
    tt_fixture *f;

    tt_setup(state);
    f = *state;
    tt_exec(f->pg, "select create_topic('orders')");
    for (int i = 0; i < NSUB; i++) {
        tt_exec(f->pg,
                "select create_queue('s%d', i_max_body_bytes => %d, "
                "i_archive_for => %s)",
                i, BIG, i == NSUB - 1 ? "'1 day'" : "null");
        tt_exec(f->pg, "select subscribe('orders', 's%d')", i);
    }
    return 0;
}

/* A 1 MiB body made on the server, of md5 output, so that no compression
 * hides ten copies of it. */
#define BIG_BODY                                               \
    "(select decode(string_agg(md5(i::text), '' order by i), " \
    "'hex') from generate_series(1, 65536) i)"

static long long
bodies(tt_fixture *f)
{
    return tt_scalar(f->pg, "select count(*) from bodies");
}

static long long
refs(tt_fixture *f)
{
    return tt_scalar(f->pg, "select coalesce(sum(refs), 0) from bodies");
}

/* md5 (hex) of body, len bytes, as the server computes it, into out. */
static const char *
md5_of(tt_fixture *f, const void *body, size_t len, char *out, size_t size)
{
    const char *values[1] = {body};
    int lengths[1] = {(int)len}, formats[1] = {1};
    PGresult *r = PQexecParams(f->pg, "select md5($1::bytea)", 1, NULL, values,
                               lengths, formats, 0);

    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    snprintf(out, size, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return out;
}

static void
test_body_stored_once(void **state)
{
    tt_fixture *f = *state;
    char md5[64], want[64];
    long long before;
    txq_msg **m = NULL;
    size_t n = 0;
    size_t len = 0;
    const void *body;

    before = tt_scalar(f->pg, "select pg_total_relation_size('messages') + "
                              "pg_total_relation_size('bodies')");
    assert_int_equal(tt_scalar(f->pg,
                               "select cardinality(publish('orders', "
                               "%s))",
                               BIG_BODY),
                     NSUB);
    /* One body, ten references; the copies carry none of it. */
    assert_int_equal(bodies(f), 1);
    assert_int_equal(refs(f), NSUB);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from messages where "
                                      "body is null and body_id is not null"),
                     NSUB);
    if (tt_scalar(f->pg, "select pg_total_relation_size('messages') + "
                         "pg_total_relation_size('bodies')") -
            before >
        2 * BIG)
        fail_msg("ten copies of a 1 MiB body took more than 2 MiB");

    /* Every way of reading a copy gets the whole body. */
    tt_text(f->pg, want, sizeof want, "select md5(%s)", BIG_BODY);
    tt_text(f->pg, md5, sizeof md5, "select md5(body) from receive('s0')");
    assert_string_equal(md5, want);
    tt_exec(f->pg, "begin");
    tt_text(f->pg, md5, sizeof md5, "select md5(body) from take('s1')");
    assert_string_equal(md5, want);
    tt_text(f->pg, md5, sizeof md5, "select md5(body) from pop('s2')");
    assert_string_equal(md5, want);
    tt_exec(f->pg, "commit");
    assert_txq_ok(f->c, txq_claim(f->c, f->pg, "s3", 1, NULL, &m, &n));
    body = txq_msg_body(m[0], &len);
    assert_string_equal(md5_of(f, body, len, md5, sizeof md5), want);
    txq_msgs_free(m, n);
    tt_exec(f->pg, "begin");
    assert_txq_ok(f->c, txq_receive(f->c, f->pg, "s4", 1, NULL, &m, &n));
    body = txq_msg_body(m[0], &len);
    assert_string_equal(md5_of(f, body, len, md5, sizeof md5), want);
    txq_msgs_free(m, n);
    /* libtxq's pop is one statement for the owner. */
    assert_txq_ok(f->c, txq_pop(f->c, f->pg, "s5", 1, &m, &n));
    body = txq_msg_body(m[0], &len);
    assert_string_equal(md5_of(f, body, len, md5, sizeof md5), want);
    txq_msgs_free(m, n);
    tt_exec(f->pg, "commit");
    /* Popped from s2 and s5 (s1 and s4 were only taken). */
    assert_int_equal(refs(f), NSUB - 2);
}

static void
test_copies_on_their_own(void **state)
{
    tt_fixture *f = *state;
    PGconn *other = tt_connect(f->schema);
    char md5[64], want[64];

    tt_text(f->pg, want, sizeof want, "select md5(%s)", BIG_BODY);
    tt_exec(f->pg, "select publish('orders', %s)", BIG_BODY);

    /* An ack rolled back gives nothing back; committed, one copy fewer. */
    tt_exec(f->pg, "begin");
    tt_exec(f->pg, "select ack(array_agg(id)) from receive('s0')");
    tt_exec(f->pg, "rollback");
    assert_int_equal(refs(f), NSUB);
    tt_exec(f->pg, "select ack(array_agg(id)) from receive('s0')");
    assert_int_equal(refs(f), NSUB - 1);

    /* A permanent failure: the dead letter holds the body itself. */
    tt_exec(f->pg, "select fail(id, 'bad', i_permanent => true) "
                   "from receive('s1')");
    assert_int_equal(refs(f), NSUB - 2);
    tt_text(f->pg, md5, sizeof md5,
            "select md5(body) from dead_letters where queue = 's1'");
    assert_string_equal(md5, want);
    /* A retry keeps its reference. */
    tt_exec(f->pg, "select fail(id, 'later') from receive('s2')");
    assert_int_equal(refs(f), NSUB - 2);
    /* The archive keeps the body itself too. */
    tt_exec(f->pg, "select ack(array_agg(id)) from receive('s9')");
    tt_text(f->pg, md5, sizeof md5,
            "select md5(body) from archive a join queues q using (queue_id) "
            "where q.name = 's9'");
    assert_string_equal(md5, want);
    /* A dropped queue drops its copy's reference. */
    tt_exec(f->pg, "select drop_queue('s8', true)");
    assert_int_equal(refs(f), NSUB - 4);

    /* Two copies acked by two sessions committing at once: the second
     * commit waits for the first's count, and both count. */
    tt_exec(other, "set statement_timeout = '5s'");
    tt_exec(f->pg, "begin");
    tt_exec(other, "begin");
    tt_exec(f->pg, "select ack(array_agg(id)) from receive('s3')");
    /* Not blocked by the first session's uncommitted ack: the count is
     * taken at commit, so copies in different queues are acked without
     * waiting for each other. */
    tt_exec(other, "select ack(array_agg(id)) from receive('s4')");
    assert_int_equal(PQsendQuery(f->pg, "commit"), 1);
    assert_int_equal(PQsendQuery(other, "commit"), 1);
    for (PGconn **pg = (PGconn *[]){f->pg, other, NULL}; *pg != NULL; pg++) {
        PGresult *r;

        while ((r = PQgetResult(*pg)) != NULL) {
            assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
            PQclear(r);
        }
    }
    assert_int_equal(refs(f), NSUB - 6);

    /* The rest; the body goes with the last (s2's retry comes due). */
    tt_exec(f->pg, "select ack(array_agg(m.id)) from messages m "
                   "join queues q using (queue_id) where q.name <> 's2'");
    assert_int_equal(bodies(f), 1);
    tt_exec(f->pg, "select ack(array_agg(id)) from messages");
    assert_int_equal(bodies(f), 0);
    /* The dead letter and the archive are untouched. */
    tt_text(f->pg, md5, sizeof md5,
            "select md5(body) from dead_letters where queue = 's1'");
    assert_string_equal(md5, want);
    PQfinish(other);
}

/* A topic one queue receives: the body stays in the message row, as a
 * send's. A fifo subscriber's dedup id turns a copy away: the body counts
 * only the copies written. */
static void
test_one_copy_and_dedup(void **state)
{
    tt_fixture *f = *state;

    tt_exec(f->pg, "select create_topic('solo')");
    tt_exec(f->pg, "select create_queue('lone')");
    tt_exec(f->pg, "select subscribe('solo', 'lone')");
    tt_exec(f->pg, "select publish('solo', 'x')");
    assert_int_equal(bodies(f), 0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from messages "
                                      "where body = 'x' and body_id is null"),
                     1);

    tt_exec(f->pg, "select create_topic('pair')");
    tt_exec(f->pg, "select create_queue('fa', 'fifo')");
    tt_exec(f->pg, "select create_queue('fb', 'fifo')");
    tt_exec(f->pg, "select subscribe('pair', 'fa')");
    tt_exec(f->pg, "select subscribe('pair', 'fb')");
    tt_exec(f->pg, "select publish('pair', 'one', i_dedup_id => 'd1')");
    assert_int_equal(refs(f), 2);
    /* The same dedup id: both copies turned away, the same ids back. */
    assert_int_equal(
        tt_scalar(f->pg, "select count(*) from messages m, "
                         "unnest(publish('pair', 'two', i_dedup_id => 'd1')) "
                         "i where m.id = i and m.body_id is not null"),
        2);
    assert_int_equal(bodies(f), 1);
    assert_int_equal(refs(f), 2);
    /* One queue remembers d2 (a send there), the other does not. */
    tt_exec(f->pg, "select send('fa', 'own', i_dedup_id => 'd2')");
    tt_exec(f->pg, "select publish('pair', 'three', i_dedup_id => 'd2')");
    assert_int_equal(bodies(f), 2);
    assert_int_equal(refs(f), 3);
}

/* The last copy dead-lettered: the dead letter reads the body after the
 * copy's delete, in the same transaction, and gets it (the body goes at
 * commit). */
static void
test_last_copy_dead_lettered(void **state)
{
    tt_fixture *f = *state;
    char body[16];

    tt_exec(f->pg, "select publish('orders', 'last')");
    tt_exec(f->pg, "select ack(array_agg(m.id)) from messages m "
                   "join queues q using (queue_id) where q.name <> 's9'");
    assert_int_equal(refs(f), 1);
    tt_exec(f->pg, "select fail(id, 'bad', i_permanent => true) "
                   "from receive('s9')");
    assert_string_equal(tt_text(f->pg, body, sizeof body,
                                "select convert_from(body, 'UTF8') "
                                "from dead_letters where queue = 's9'"),
                        "last");
    assert_int_equal(bodies(f), 0);
}

/* Bad input writes nothing, not even the body. */
static void
test_bad_input(void **state)
{
    tt_fixture *f = *state;

    assert_string_equal(
        tt_fails(f->pg, NULL, 0, "select publish('orders', null)"), "22023");
    tt_exec(f->pg, "select alter_queue('s4', i_max_body_bytes => 1000)");
    assert_string_equal(
        tt_fails(f->pg, NULL, 0, "select publish('orders', %s)", BIG_BODY),
        "54000");
    assert_int_equal(bodies(f), 0);
    /* A keyed publish: the same key again writes nothing, not even a
     * second body. */
    {
        long long copies;

        tt_exec(f->pg, "select publish('orders', 'k', i_dedup_id => 'once')");
        copies = tt_scalar(f->pg, "select count(*) from messages");
        assert_true(copies > 1);
        tt_exec(f->pg, "select publish('orders', 'k', i_dedup_id => 'once')");
        assert_int_equal(tt_scalar(f->pg, "select count(*) from messages"),
                         copies);
        assert_int_equal(bodies(f), 1);
        tt_exec(f->pg, "select purge(name, 'test') from queues");
        tt_exec(f->pg, "delete from dedup");
    }
    assert_int_equal(bodies(f), 0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from messages"), 0);
    /* A row with neither, or both, is refused by the table itself. */
    assert_string_equal(tt_fails(f->pg, NULL, 0,
                                 "insert into messages (queue_id, "
                                 "visible_at, enqueued_at) select queue_id, "
                                 "now(), now() from queues where name = 's0'"),
                        "23514");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_body_stored_once, setup_topic,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_copies_on_their_own, setup_topic,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_one_copy_and_dedup, setup_topic,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_last_copy_dead_lettered,
                                        setup_topic, tt_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup_topic,
                                        tt_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
