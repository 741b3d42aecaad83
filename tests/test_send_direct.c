/*
 * test_send_direct.c - txq_send's direct insert (no plpgsql call) for
 * roles allowed to insert into messages, its fallback to send(), and the
 * row security that holds a producer's own INSERTs to what send() writes.
 */
#include <stdio.h>
#include <string.h>

#include "tt.h"

static long long
send_calls(PGconn *pg)
{
    return tt_fn_calls(pg, "send");
}

/* The same send through txq_send and through send() in one transaction
 * writes the same row (all but id and body); txq_send made no send()
 * call when direct, one otherwise. */
static void
same_row_as_sql_send(tt_fixture *f, PGconn *pg, int direct)
{
    txq_send_opts o = {.size = sizeof(txq_send_opts),
                       .headers_json = "{\"a\": 1}",
                       .delay = 5,
                       .priority = 3,
                       .correlation_id = "c1",
                       .reply_to = "replies"};
    int64_t plain = 0, with = 0, sql = 0;

    tt_exec(pg, "begin");
    assert_txq_ok(f->c, txq_send(f->c, pg, "jobs", "p", 1, NULL, &plain));
    assert_txq_ok(f->c, txq_send(f->c, pg, "jobs", "o", 1, &o, &with));
    assert_int_equal(send_calls(pg), direct ? 0 : 2);
    sql = tt_scalar(pg, "select send('jobs', 's', i_headers => '{\"a\": 1}', "
                        "i_delay => '5 s', i_priority => 3, "
                        "i_correlation_id => 'c1', i_reply_to => 'replies')");
    tt_exec(pg, "commit");
    assert_true(plain > 0 && with > plain && sql > with);

    /* Identical but for id and body. */
    assert_int_equal(
        tt_scalar(f->pg,
                  "select count(distinct (queue_id, priority, visible_at, "
                  "attempts, enqueued_at, expires_at, group_key, dedup_id, "
                  "correlation_id, reply_to, last_error, claimed_at, "
                  "claimed_by, headers)) from messages where id in (%lld, "
                  "%lld)",
                  (long long)with, (long long)sql),
        1);
    /* The plain send took the queue's settings: its delay (2 s) and
     * expiry (1 h), priority 0, headers {}. */
    assert_int_equal(
        tt_scalar(f->pg,
                  "select count(*) from messages where id = %lld and "
                  "visible_at = enqueued_at + interval '2 s' and "
                  "expires_at = enqueued_at + interval '1 h' and priority = 0 "
                  "and headers = '{}' and body = 'p' and attempts = 0 and "
                  "group_key is null and correlation_id is null",
                  (long long)plain),
        1);
}

/* Queue "jobs" with a delay and an expiry, fifo queue "f", queue
 * "replies". */
static void
queues(tt_fixture *f)
{
    txq_queue_opts q = TXQ_QUEUE_OPTS_INIT;
    txq_queue_opts fifo = {.size = sizeof(txq_queue_opts), .fifo = 1};

    q.delay = 2;
    q.expire_after = 3600;
    tt_queue(f, "jobs", &q);
    tt_queue(f, "f", &fifo);
    tt_queue(f, "replies", NULL);
}

/* Queues, a session as a role granted `grant` (NULL: the superuser), the
 * same send both ways, direct or not. */
static void
sends_as(tt_fixture *f, const char *grant, int direct)
{
    char role[64];
    PGconn *pg;

    queues(f);
    pg = tt_role_session(f, role, sizeof role, grant);
    same_row_as_sql_send(f, pg, direct);
    tt_end_role_session(f, pg, role);
}

static void
test_superuser_sends_directly(void **state)
{
    sends_as(*state, NULL, 1);
}

static void
test_producer_sends_directly(void **state)
{
    sends_as(*state, "txq_producer", 1);
}

/* A role with EXECUTE on send() but no insert grant (txq_consumer): the
 * schema check finds that once per connection and txq_send calls send(). */
static void
test_execute_only_role_calls_send(void **state)
{
    sends_as(*state, "txq_consumer", 0);
}

/* A SET ROLE after the connection was checked, to a role that may not
 * insert: an autocommit send is retried through send() at once; inside a
 * transaction the refusal is the caller's error (its transaction is
 * aborted), and the next transaction uses send(). Both kinds of call. */
static void
test_role_changed_after_check(void **state)
{
    tt_fixture *f = *state;
    char role[64], crole[64];
    PGconn *pg;
    const void *bodies[2] = {"a", "b"};
    size_t lens[2] = {1, 1};
    int64_t id = 0;
    long long calls0;

    queues(f);
    pg = tt_role_session(f, role, sizeof role, NULL);
    tt_role(f, crole, sizeof crole, "consumer", "txq_consumer");

    /* Checked as the superuser: direct. */
    assert_txq_ok(f->c, txq_send(f->c, pg, "jobs", "1", 1, NULL, &id));
    tt_exec(pg, "set role %s", crole);
    assert_txq_ok(f->c, txq_send(f->c, pg, "jobs", "2", 1, NULL, &id));
    assert_true(id > 0);

    tt_exec(pg, "reset role");
    assert_txq_ok(f->c, txq_schema_check(f->c, pg)); /* direct again */
    tt_exec(pg, "set role %s", crole);
    assert_txq_ok(
        f->c, txq_send_batch(f->c, pg, "jobs", bodies, lens, 2, NULL, NULL));

    tt_exec(pg, "reset role");
    assert_txq_ok(f->c, txq_schema_check(f->c, pg));
    tt_exec(pg, "set role %s", crole);
    tt_exec(pg, "begin");
    assert_txq_rc(f->c, txq_send(f->c, pg, "jobs", "x", 1, NULL, NULL),
                  TXQ_EPERM);
    assert_string_equal(txq_sqlstate(f->c), "42501");
    tt_exec(pg, "rollback");
    tt_exec(pg, "begin");
    /* The counts pending in this backend may still hold earlier calls:
     * count the difference, inside one transaction. */
    calls0 = send_calls(pg);
    assert_txq_ok(f->c, txq_send(f->c, pg, "jobs", "3", 1, NULL, NULL));
    assert_int_equal(send_calls(pg) - calls0, 1);
    tt_exec(pg, "commit");
    assert_int_equal(tt_depth(f), 5);
    tt_end_role_session(f, pg, role);
    tt_exec(f->pg, "drop role %s", crole);
}

/* What the direct insert does not do goes to send() in the same statement:
 * fifo (advisory lock, group, dedup), and every error, which is send()'s
 * own and leaves nothing behind. */
static void
test_fallbacks(void **state)
{
    tt_fixture *f = *state;
    char role[64], big[300];
    PGconn *pg;
    txq_send_opts grp = {.size = sizeof(txq_send_opts), .group = "g1"};
    txq_send_opts dd = {.size = sizeof(txq_send_opts), .dedup_id = "d1"};
    txq_send_opts arr = {.size = sizeof(txq_send_opts), .headers_json = "[1]"};
    int64_t a = 0, b = 0;

    queues(f);
    tt_exec(f->pg, "select alter_queue('replies', i_max_body_bytes => 256)");
    pg = tt_role_session(f, role, sizeof role, "txq_producer");
    memset(big, 'x', sizeof big);

    tt_exec(pg, "begin");
    assert_txq_ok(f->c, txq_send(f->c, pg, "f", "1", 1, NULL, &a));
    assert_txq_ok(f->c, txq_send(f->c, pg, "f", "2", 1, &grp, NULL));
    assert_txq_ok(f->c, txq_send(f->c, pg, "f", "3", 1, &dd, &b));
    assert_int_equal(send_calls(pg), 3);
    tt_exec(pg, "commit");
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from messages m join queues "
                               "q using (queue_id) where q.name = 'f' and "
                               "group_key = '' and id in (%lld, %lld)",
                               (long long)a, (long long)b),
                     2);
    /* The dedup id holds: a second send returns the first id. */
    {
        int64_t again = 0;

        assert_txq_ok(f->c, txq_send(f->c, pg, "f", "3", 1, &dd, &again));
        assert_int_equal(again, b);
    }

    assert_txq_rc(f->c, txq_send(f->c, pg, "nope", "x", 1, NULL, NULL),
                  TXQ_ENOTFOUND);
    assert_non_null(strstr(txq_errmsg(f->c), "nope"));
    assert_txq_rc(f->c,
                  txq_send(f->c, pg, "replies", big, sizeof big, NULL, NULL),
                  TXQ_ETOOBIG);
    assert_non_null(strstr(txq_errmsg(f->c), "max_body_bytes 256"));
    assert_txq_rc(f->c, txq_send(f->c, pg, "jobs", "x", 1, &arr, NULL),
                  TXQ_EINVAL);
    assert_non_null(strstr(txq_errmsg(f->c), "JSON object"));
    /* An idempotency key on a standard queue goes through send(): the
     * second send returns the first id and writes nothing. */
    {
        int64_t first = 0, again = 0;

        assert_txq_ok(f->c, txq_send(f->c, pg, "jobs", "x", 1, &dd, &first));
        assert_txq_ok(f->c, txq_send(f->c, pg, "jobs", "y", 1, &dd, &again));
        assert_int_equal(again, first);
    }
    assert_int_equal(tt_depth(f), 4);
    tt_end_role_session(f, pg, role);
}

/* A direct send to a queue somebody waits on wakes the waiter, once. */
static void
test_direct_send_wakes(void **state)
{
    tt_fixture *f = *state;
    char role[64];
    PGconn *w = tt_connect(f->schema);
    PGconn *pg;

    queues(f);
    pg = tt_role_session(f, role, sizeof role, "txq_producer");
    tt_exec(w, "listen txq_wake");
    tt_exec(w, "select wait_begin('replies')");
    tt_exec(pg, "begin");
    tt_send(f, pg, "replies", "a");
    tt_send(f, pg, "replies", "b");
    assert_int_equal(send_calls(pg), 0);
    {
        const void *bodies[2] = {"c", "d"};
        size_t lens[2] = {1, 1};

        assert_txq_ok(f->c, txq_send_batch(f->c, pg, "replies", bodies, lens, 2,
                                           NULL, NULL));
        assert_int_equal(tt_fn_calls(pg, "send_batch"), 0);
    }
    tt_exec(pg, "commit");
    assert_int_equal(tt_pending(f->pg), 0);
    assert_int_equal(tt_wakes(w, "replies"), 1);
    PQfinish(w);
    tt_end_role_session(f, pg, role);
}

/* The grant lets a producer insert only what send() would have written,
 * read back only ids of its own transaction's rows, and nothing else. */
static void
test_producer_insert_is_held_to_send(void **state)
{
    tt_fixture *f = *state;
    char role[64];
    PGconn *pg;
    long long fifo;
    char seq[160];
    static const char *const bad[] = {
        /* visible before it was sent */
        "insert into messages (queue_id, visible_at, enqueued_at, "
        "expires_at, body) values ((select queue_id from queues where name = "
        "'jobs'), now() - interval '1 h', now(), "
        "now() + interval '1 h', 'x')",
        /* a back-dated enqueue */
        "insert into messages (queue_id, visible_at, enqueued_at, "
        "expires_at, body) values ((select queue_id from queues where name = "
        "'jobs'), now(), now() - interval '1 h', "
        "now() + interval '1 h', 'x')",
        /* an expiry other than the queue's */
        "insert into messages (queue_id, visible_at, enqueued_at, body) "
        "values ((select queue_id from queues where name = 'jobs'), now(), "
        "now(), 'x')",
        /* a body over the queue's limit */
        "insert into messages (queue_id, visible_at, enqueued_at, "
        "expires_at, body) values ((select queue_id from queues where name = "
        "'jobs'), now(), now(), now() + interval "
        "'1 h', convert_to(repeat('x', 300000), 'UTF8'))",
        /* headers that are not an object */
        "insert into messages (queue_id, visible_at, enqueued_at, "
        "expires_at, headers, body) values ((select queue_id from queues where "
        "name = 'jobs'), now(), now(), now() + "
        "interval '1 h', '[1]', 'x')",
        /* a bad reply_to */
        "insert into messages (queue_id, visible_at, enqueued_at, "
        "expires_at, reply_to, body) values ((select queue_id from queues "
        "where name = 'jobs'), now(), now(), now() + "
        "interval '1 h', 'Bad Name', 'x')",
        /* a queue that does not exist */
        "insert into messages (queue_id, visible_at, enqueued_at, body) "
        "values (-1, now(), now(), 'x')",
        /* a column send() never sets */
        "insert into messages (queue_id, visible_at, enqueued_at, "
        "expires_at, attempts, body) values ((select queue_id from queues "
        "where name = 'jobs'), now(), now(), now() + "
        "interval '1 h', 9, 'x')",
        "insert into messages (queue_id, visible_at, enqueued_at, "
        "expires_at, group_key, body) values ((select queue_id from queues "
        "where name = 'jobs'), now(), now(), now() + "
        "interval '1 h', 'g', 'x')",
    };

    queues(f);
    fifo = tt_scalar(f->pg, "select queue_id from queues where name = 'f'");
    tt_send(f, f->pg, "jobs", "someone else's");
    pg = tt_role_session(f, role, sizeof role, "txq_producer");

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_string_equal(tt_fails(pg, NULL, 0, "%s", bad[i]), "42501");
    /* fifo sends need send()'s lock and dedup. */
    assert_string_equal(tt_fails(pg, NULL, 0,
                                 "insert into messages (queue_id, "
                                 "visible_at, enqueued_at, body) values "
                                 "(%lld, now(), now(), 'x')",
                                 fifo),
                        "42501");
    /* What send() would write passes. */
    tt_exec(pg, "insert into messages (queue_id, visible_at, enqueued_at, "
                "expires_at, body) values ((select queue_id from queues where "
                "name = 'jobs'), now() + interval '2 s', now(), "
                "now() + interval '1 h', 'ok')");
    assert_int_equal(tt_depth(f), 2);

    /* No reading, changing or deleting other messages. */
    assert_int_equal(tt_scalar(pg, "select count(*) from messages"), 0);
    assert_string_equal(tt_fails(pg, NULL, 0, "select body from messages"),
                        "42501");
    assert_string_equal(
        tt_fails(pg, NULL, 0, "update messages set priority = 9"), "42501");
    assert_string_equal(tt_fails(pg, NULL, 0, "delete from messages"), "42501");
    /* Nor the wake-up counters (moving them would silence wake-ups). */
    tt_text(f->pg, seq, sizeof seq,
            "select wakes_seq::text from queues where name = 'jobs'");
    assert_string_equal(tt_fails(pg, NULL, 0, "select setval('%s', 99)", seq),
                        "42501");
    assert_string_equal(tt_fails(pg, NULL, 0, "select nextval('%s')", seq),
                        "42501");
    assert_string_equal(
        tt_fails(pg, NULL, 0, "update queues set max_body_bytes = 1"), "42501");
    assert_string_equal(
        tt_fails(pg, NULL, 0, "select visibility_timeout from queues"),
        "42501");
    assert_int_equal(tt_depth(f), 2);
    tt_end_role_session(f, pg, role);
}

/* txq_send_batch: the batch inserted directly, in order, the same rows
 * as send_batch() writes; fifo and errors through send_batch(). */
static void
test_batch(void **state)
{
    tt_fixture *f = *state;
    char role[64], big[300];
    PGconn *pg;
    const void *bodies[3] = {"a", "b", "c"};
    size_t lens[3] = {1, 1, 1};
    txq_send_opts o = {.size = sizeof(txq_send_opts),
                       .headers_json = "{\"k\": 2}",
                       .priority = 4};
    int64_t ids[3] = {0}, fids[3] = {0};
    long long sql;

    queues(f);
    tt_exec(f->pg, "select alter_queue('replies', i_max_body_bytes => 256)");
    pg = tt_role_session(f, role, sizeof role, "txq_producer");

    tt_exec(pg, "begin");
    assert_txq_ok(f->c,
                  txq_send_batch(f->c, pg, "jobs", bodies, lens, 3, &o, ids));
    assert_int_equal(tt_fn_calls(pg, "send_batch"), 0);
    assert_true(ids[0] < ids[1] && ids[1] < ids[2]);
    sql = tt_scalar(pg, "select max(t) from send_batch('jobs', array['z']::"
                        "bytea[], i_headers => array['{\"k\": 2}'::jsonb], "
                        "i_priority => 4) t");
    assert_txq_ok(f->c,
                  txq_send_batch(f->c, pg, "f", bodies, lens, 3, NULL, fids));
    assert_int_equal(tt_fn_calls(pg, "send_batch"), 2);
    tt_exec(pg, "commit");
    /* In the order given, and like send_batch()'s row. */
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from messages where id = "
                               "any(array[%lld, %lld, %lld]) and body = "
                               "case id when %lld then 'a'::bytea when %lld "
                               "then 'b' else 'c' end",
                               (long long)ids[0], (long long)ids[1],
                               (long long)ids[2], (long long)ids[0],
                               (long long)ids[1]),
                     3);
    assert_int_equal(
        tt_scalar(f->pg,
                  "select count(distinct (queue_id, priority, visible_at, "
                  "enqueued_at, expires_at, group_key, correlation_id, "
                  "reply_to, headers, attempts)) from messages where id in "
                  "(%lld, %lld)",
                  (long long)ids[0], sql),
        1);
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from messages where "
                               "group_key = '' and id = any(array[%lld, "
                               "%lld, %lld])",
                               (long long)fids[0], (long long)fids[1],
                               (long long)fids[2]),
                     3);

    /* A bad body anywhere fails the whole batch and names it. */
    memset(big, 'x', sizeof big);
    bodies[1] = big;
    lens[1] = sizeof big;
    assert_txq_rc(
        f->c, txq_send_batch(f->c, pg, "replies", bodies, lens, 3, NULL, NULL),
        TXQ_ETOOBIG);
    assert_non_null(strstr(txq_errmsg(f->c), "body 2 of the batch"));
    assert_txq_rc(f->c,
                  txq_send_batch(f->c, pg, "nope", bodies, lens, 3, NULL, NULL),
                  TXQ_ENOTFOUND);
    assert_int_equal(tt_depth(f), 7);
    tt_end_role_session(f, pg, role);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_superuser_sends_directly, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_producer_sends_directly, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_execute_only_role_calls_send,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_fallbacks, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_batch, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_role_changed_after_check, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_direct_send_wakes, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_producer_insert_is_held_to_send,
                                        tt_setup, tt_teardown),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("send_direct", tests, NULL, NULL);
}
