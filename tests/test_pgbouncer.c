/*
 * test_pgbouncer.c - txq through PgBouncer (tests/pgbouncer_fixture.sh: a
 * cluster of its own behind one pgbouncer in transaction pooling, with
 * server_round_robin so that successive transactions of one client run on
 * different server connections, and one in session pooling).
 *
 * Transaction pooling: libtxq finds the pooler by itself (the backend pid
 * libpq got is PgBouncer's own) and sends every statement unnamed; send,
 * send_batch, receive and ack in a transaction, claim, extend and fail
 * with a retry, pop, FIFO order, a topic's publish, a dead letter and its
 * requeue all work there; the txq tool migrates, creates a queue, sends,
 * receives and acks and shows stats through it; txq-worker (--no-listen
 * --pooler transaction, two consumers, a sql: handler that writes) drains
 * 500 messages, each handled exactly once. Told there is no pooler
 * (TXQ_POOLER_NONE), the same sends fail: named prepared statements do not
 * survive transaction pooling.
 * Claims made through the pooler record no backend pid: when every server
 * connection dies under a live client, maintain() and release_unstarted()
 * leave its claim alone (it lapses), and its ack still lands; a direct
 * client's claim of a dead session is rescued as before. A requester
 * (LISTEN) is refused there.
 *
 * Session pooling: txq-worker's LISTEN works: with a poll interval of 30 s
 * a send is handled within a few seconds, and through the transaction
 * pooler (no LISTEN) it is not.
 *
 * Needs TXQ_TEST_DSN (the cluster, directly), TXQ_PGB_DSN,
 * TXQ_PGB_SESSION_DSN: ctest's pgbouncer_start fixture provides them
 * (`tests/pgbouncer_fixture.sh env BUILD_DIR` prints them).
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

static const char *
env_dsn(const char *name)
{
    const char *v = getenv(name);

    if (v == NULL || v[0] == '\0') {
        fprintf(stderr,
                "test_pgbouncer: %s is not set; run it through ctest (the "
                "pgbouncer_start fixture), or eval \"$(bash "
                "tests/pgbouncer_fixture.sh env BUILD_DIR)\" after "
                "starting it\n",
                name);
        exit(1);
    }
    return v;
}

/* A connection through a pgbouncer (no session setting: it would not
 * stay). */
static PGconn *
pooled_connect(const char *var)
{
    PGconn *pg = PQconnectdb(env_dsn(var));

    if (PQstatus(pg) != CONNECTION_OK)
        fail_msg("cannot connect through %s: %s", var, PQerrorMessage(pg));
    return pg;
}

static void
pexec(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);

    if (PQresultStatus(r) != PGRES_COMMAND_OK &&
        PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(pg));
    PQclear(r);
}

/* Make the transaction pool hold n server connections: n clients each
 * hold one in a transaction at once, then let go. */
static void
spread_servers(int n)
{
    PGconn *pg[8];
    int i;

    assert_true(n <= 8);
    for (i = 0; i < n; i++) {
        pg[i] = pooled_connect("TXQ_PGB_DSN");
        pexec(pg[i], "begin; select 1");
    }
    for (i = 0; i < n; i++) {
        pexec(pg[i], "commit");
        PQfinish(pg[i]);
    }
}

/* The backend pids of the transaction pooler's server connections (its
 * admin console: SHOW SERVERS) into pids; returns how many. */
static int
server_pids(int *pids, int max)
{
    char dsn[512];
    const char *d = env_dsn("TXQ_PGB_DSN");
    const char *at = strstr(d, "dbname=postgres");
    PGconn *adm;
    PGresult *r;
    int n = 0, col;

    assert_non_null(at);
    snprintf(dsn, sizeof dsn, "%.*sdbname=pgbouncer%s", (int)(at - d), d,
             at + strlen("dbname=postgres"));
    adm = PQconnectdb(dsn);
    if (PQstatus(adm) != CONNECTION_OK)
        fail_msg("pgbouncer admin console: %s", PQerrorMessage(adm));
    r = PQexec(adm, "SHOW SERVERS");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    col = PQfnumber(r, "remote_pid");
    assert_true(col >= 0);
    for (int i = 0; i < PQntuples(r) && n < max; i++)
        pids[n++] = atoi(PQgetvalue(r, i, col));
    PQclear(r);
    PQfinish(adm);
    return n;
}

/* A client of f's schema with pooler mode mode. */
static txq_client *
client(tt_fixture *f, int mode)
{
    txq_client *c = txq_client_new(TXQ_OPTIONS(.schema = f->schema));

    assert_non_null(c);
    assert_txq_ok(c, txq_client_set_pooler(c, mode));
    return c;
}

static void
test_detects_the_pooler(void **state)
{
    tt_fixture *f = *state;
    PGconn *tx = pooled_connect("TXQ_PGB_DSN");
    PGconn *se = pooled_connect("TXQ_PGB_SESSION_DSN");
    txq_client *c = client(f, TXQ_POOLER_AUTO);
    txq_client *none = client(f, TXQ_POOLER_NONE);
    txq_client *tr = client(f, TXQ_POOLER_TRANSACTION);
    int pooled = -1;

    assert_txq_ok(c, txq_pooled(c, f->pg, &pooled));
    assert_int_equal(pooled, 0); /* directly */
    assert_txq_ok(c, txq_pooled(c, tx, &pooled));
    assert_int_equal(pooled, 1);
    assert_txq_ok(c, txq_pooled(c, se, &pooled));
    assert_int_equal(pooled, 1); /* a pooler: it cannot tell the mode */
    assert_txq_ok(none, txq_pooled(none, se, &pooled));
    assert_int_equal(pooled, 0);
    assert_txq_ok(tr, txq_pooled(tr, f->pg, &pooled));
    assert_int_equal(pooled, 1);
    assert_txq_rc(c, txq_client_set_pooler(c, 7), TXQ_EINVAL);
    txq_client_free(c);
    txq_client_free(none);
    txq_client_free(tr);
    PQfinish(tx);
    PQfinish(se);
}

/* One message of body want from queue q on pg, in a transaction that
 * acks it. */
static void
receive_ack(txq_client *c, PGconn *pg, const char *q, const char *want)
{
    txq_msg **m = NULL;
    size_t n = 0, len = 0;

    pexec(pg, "begin");
    assert_txq_ok(c, txq_receive(c, pg, q, 1, NULL, &m, &n));
    assert_int_equal(n, 1);
    assert_memory_equal(txq_msg_body(m[0], &len), want, strlen(want));
    assert_int_equal(len, strlen(want));
    assert_txq_ok(c, txq_ack(c, pg, m[0]));
    pexec(pg, "commit");
    txq_msgs_free(m, n);
}

static void
test_core_flows(void **state)
{
    tt_fixture *f = *state;
    PGconn *pg;
    txq_client *c = client(f, TXQ_POOLER_AUTO);
    txq_queue_opts fast = {.size = sizeof(txq_queue_opts),
                           .backoff_base = 0.01,
                           .backoff_cap = 0.01,
                           .backoff_jitter = 0,
                           .set = TXQ_QUEUE_SET_BACKOFF_JITTER};
    txq_queue_opts once = {.size = sizeof(txq_queue_opts), .max_attempts = 1};
    txq_queue_opts fifo = {.size = sizeof(txq_queue_opts), .fifo = 1};
    const void *bodies[3] = {"b1", "b2", "b3"};
    size_t lens[3] = {2, 2, 2}, n = 0;
    int64_t id, ids[3], dead;
    size_t np = 0;
    txq_msg **m = NULL;
    txq_send_opts g = {.size = sizeof(txq_send_opts), .group = "g"};
    txq_outcome out;
    char buf[64];

    spread_servers(3);
    pg = pooled_connect("TXQ_PGB_DSN");
    assert_txq_ok(c, txq_queue_create(c, pg, "jobs", &fast));
    assert_txq_ok(c, txq_queue_create(c, pg, "once", &once));
    assert_txq_ok(c, txq_queue_create(c, pg, "ordered", &fifo));
    assert_txq_ok(c, txq_queue_create(c, pg, "sub_a", NULL));
    assert_txq_ok(c, txq_queue_create(c, pg, "sub_b", NULL));

    /* send and send_batch, then received and acked in transactions */
    assert_txq_ok(c, txq_send(c, pg, "jobs", "a", 1, NULL, &id));
    assert_txq_ok(c, txq_send_batch(c, pg, "jobs", bodies, lens, 3, NULL, ids));
    receive_ack(c, pg, "jobs", "a");
    for (int i = 0; i < 3; i++)
        receive_ack(c, pg, "jobs", bodies[i]);

    /* claim (autocommit), extend, fail with a retry, claim again, ack */
    assert_txq_ok(c, txq_send(c, pg, "jobs", "r", 1, NULL, &id));
    assert_txq_ok(c, txq_claim(c, pg, "jobs", 1, NULL, &m, &n));
    assert_int_equal(n, 1);
    assert_int_equal(
        tt_scalar(f->pg,
                  "select count(*) from messages where id = %lld"
                  " and claimed_at is not null and claimed_by is null",
                  (long long)id),
        1);
    assert_txq_ok(c, txq_set_visibility(c, pg, m[0], 60));
    assert_txq_ok(c, txq_fail(c, pg, m[0], "try again", NULL, &out));
    assert_int_equal(out, TXQ_OUTCOME_RETRY);
    txq_msgs_free(m, n);
    tt_sleep_ms(50);
    assert_txq_ok(
        c, txq_claim(c, pg, "jobs", 1, TXQ_RECV_OPTS(.wait = 5), &m, &n));
    assert_int_equal(n, 1);
    assert_int_equal(txq_msg_attempt(m[0]), 2);
    assert_txq_ok(c, txq_ack(c, pg, m[0]));
    txq_msgs_free(m, n);

    /* pop, in a transaction */
    assert_txq_ok(c, txq_send(c, pg, "jobs", "p", 1, NULL, NULL));
    pexec(pg, "begin");
    assert_txq_ok(c, txq_pop(c, pg, "jobs", 10, &m, &np));
    assert_int_equal(np, 1);
    pexec(pg, "commit");
    txq_msgs_free(m, np);

    /* FIFO: the second of a group only after the first */
    assert_txq_ok(c, txq_send(c, pg, "ordered", "f1", 2, &g, NULL));
    assert_txq_ok(c, txq_send(c, pg, "ordered", "f2", 2, &g, NULL));
    pexec(pg, "begin");
    assert_txq_ok(c, txq_receive(c, pg, "ordered", 10, NULL, &m, &n));
    assert_int_equal(n, 1);
    assert_memory_equal(txq_msg_body(m[0], NULL), "f1", 2);
    assert_txq_ok(c, txq_ack(c, pg, m[0]));
    pexec(pg, "commit");
    txq_msgs_free(m, n);
    receive_ack(c, pg, "ordered", "f2");

    /* a topic: one copy per subscriber */
    assert_txq_ok(c, txq_topic_create(c, pg, "events", NULL));
    assert_txq_ok(c, txq_subscribe(c, pg, "events", "sub_a", NULL));
    assert_txq_ok(c, txq_subscribe(c, pg, "events", "sub_b", NULL));
    assert_txq_ok(c, txq_publish(c, pg, "events", "e", 1, NULL, ids, 3, &n));
    assert_int_equal(n, 2);
    receive_ack(c, pg, "sub_a", "e");
    receive_ack(c, pg, "sub_b", "e");

    /* a dead letter, requeued, then handled */
    assert_txq_ok(c, txq_send(c, pg, "once", "d", 1, NULL, &dead));
    assert_txq_ok(c, txq_claim(c, pg, "once", 1, NULL, &m, &n));
    assert_int_equal(n, 1);
    assert_txq_ok(c, txq_fail(c, pg, m[0], "broken", NULL, &out));
    txq_msgs_free(m, n);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from dead_letters"), 1);
    tt_text(f->pg, buf, sizeof buf, "select id from dead_letters");
    assert_txq_ok(c, txq_requeue(c, pg, atoll(buf)));
    receive_ack(c, pg, "once", "d");

    assert_int_equal(tt_depth(f), 0);
    txq_client_free(c);
    PQfinish(pg);
}

/* Sends, each in a transaction of its own, through the transaction
 * pooler: how many failed (the first one's message into first). */
static int
failed_sends(txq_client *c, PGconn *pg, int count, char *first, size_t size)
{
    int failed = 0;

    for (int i = 0; i < count; i++) {
        pexec(pg, "begin");
        if (txq_send(c, pg, "jobs", "x", 1, NULL, NULL) != TXQ_OK) {
            if (failed++ == 0)
                snprintf(first, size, "%s", txq_errmsg(c));
            pexec(pg, "rollback");
        } else {
            pexec(pg, "commit");
        }
    }
    return failed;
}

static void
test_named_statements_break(void **state)
{
    tt_fixture *f = *state;
    txq_client *none = client(f, TXQ_POOLER_NONE);
    txq_client *c = client(f, TXQ_POOLER_AUTO);
    PGconn *pg;
    char first[256] = "";
    int failed;

    tt_queue(f, "jobs", NULL);
    spread_servers(3);
    pg = pooled_connect("TXQ_PGB_DSN");
    /* Told there is no pooler: named statements prepared on one server
     * connection are executed on another. */
    failed = failed_sends(none, pg, 30, first, sizeof first);
    print_message("TXQ_POOLER_NONE through transaction pooling: %d of 30 "
                  "sends failed (first: %s)\n",
                  failed, first);
    assert_true(failed > 0);
    assert_non_null(strstr(first, "prepared statement"));
    assert_int_equal(failed_sends(c, pg, 30, first, sizeof first), 0);
    assert_int_equal(tt_depth(f), 60 - failed);
    txq_client_free(none);
    txq_client_free(c);
    PQfinish(pg);
}

static void
test_rescue_leaves_pooled_claims(void **state)
{
    tt_fixture *f = *state;
    txq_client *c = client(f, TXQ_POOLER_AUTO);
    txq_client *d = client(f, TXQ_POOLER_AUTO);
    PGconn *pg, *direct = tt_connect(f->schema);
    txq_msg **m = NULL, **dm = NULL;
    size_t n = 0, dn = 0;
    int pids[32], np, dpid;

    tt_queue(f, "jobs", NULL);
    tt_send(f, f->pg, "jobs", "pooled");
    tt_send(f, f->pg, "jobs", "direct");
    pg = pooled_connect("TXQ_PGB_DSN");
    assert_txq_ok(c, txq_claim(c, pg, "jobs", 1, NULL, &m, &n));
    assert_int_equal(n, 1);
    assert_txq_ok(d, txq_claim(d, direct, "jobs", 1, NULL, &dm, &dn));
    assert_int_equal(dn, 1);
    dpid = tt_pid(direct);
    assert_int_equal(tt_scalar(f->pg,
                               "select claimed_by from messages where id = "
                               "%lld",
                               (long long)txq_msg_id(dm[0])),
                     dpid);

    /* Every server connection of the pool dies; the client lives on. */
    np = server_pids(pids, 32);
    assert_true(np > 0);
    for (int i = 0; i < np; i++)
        tt_kill_backend(f->pg, pids[i]);
    PQfinish(direct); /* the direct client dies with its session */
    tt_sleep_ms(300); /* pgbouncer drops the closed server connections */
    assert_int_equal(tt_scalar(f->pg, "select (maintain()->>'rescued')::int"),
                     1);
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from messages where id = "
                               "%lld and visible_at > now()",
                               (long long)txq_msg_id(m[0])),
                     1);
    for (int i = 0; i < np; i++)
        assert_int_equal(
            tt_scalar(f->pg, "select release_unstarted(%d)", pids[i]), 0);
    /* The live client finishes its message on a new server connection. */
    assert_txq_ok(c, txq_ack(c, pg, m[0]));
    assert_int_equal(tt_depth(f), 1); /* the rescued one, ready again */
    txq_msgs_free(m, n);
    txq_msgs_free(dm, dn);
    txq_client_free(c);
    txq_client_free(d);
    PQfinish(pg);
}

static void
test_requester_refused(void **state)
{
    tt_fixture *f = *state;
    txq_client *c = client(f, TXQ_POOLER_AUTO);
    PGconn *pg = pooled_connect("TXQ_PGB_DSN");
    txq_requester *r;

    tt_queue(f, "replies", NULL);
    r = txq_requester_new(c, "replies", NULL);
    assert_non_null(r);
    assert_txq_rc(c, txq_requester_open(r, pg), TXQ_ESTATE);
    assert_non_null(strstr(txq_errmsg(c), "session"));
    txq_requester_free(r);
    txq_client_free(c);
    PQfinish(pg);
}

static void
test_cli(void **state)
{
    tt_fixture *f = *state;
    const char *db = env_dsn("TXQ_PGB_DSN");
    tt_run r;

    spread_servers(3);
    /* Re-applies the definitions (each migration its own transaction). */
    TT_RUN_DB(f, db, &r, "migrate");
    tt_run_ok(&r);
    tt_run_free(&r);
    TT_RUN_DB(f, db, &r, "queue", "create", "jobs");
    tt_run_ok(&r);
    tt_run_free(&r);
    TT_RUN_DB(f, db, &r, "send", "jobs", "hello");
    tt_run_ok(&r);
    tt_run_free(&r);
    TT_RUN_DB(f, db, &r, "--pooler", "transaction", "send", "jobs", "again");
    tt_run_ok(&r);
    tt_run_free(&r);
    TT_RUN_DB(f, db, &r, "recv", "jobs", "--max", "2", "--ack");
    tt_run_ok(&r);
    assert_int_equal(tt_lines(r.out), 2);
    assert_non_null(strstr(r.out, "hello"));
    assert_non_null(strstr(r.out, "again"));
    tt_run_free(&r);
    TT_RUN_DB(f, db, &r, "stats");
    tt_run_ok(&r);
    assert_non_null(strstr(r.out, "jobs"));
    tt_run_free(&r);
    assert_int_equal(tt_depth(f), 0);
}

static int
setup_worker(void **state)
{
    wt_test *w = wt_test_new(state);

    wt_test_h_ok(w);
    *state = w;
    return 0;
}

static void
test_worker_drain(void **state)
{
    wt_test *w = *state;
    tt_fixture *f = w->f;
    char h[128];
    const char *args[] = {"--handle",    h,          "--concurrency", "2",
                          "--no-listen", "--pooler", "transaction",   NULL};

    wt_test_queue(w, "jobs", NULL);
    tt_exec(f->pg, "select send_batch('jobs', array(select convert_to("
                   "'m' || g, 'UTF8') from generate_series(1, 500) g))");
    snprintf(h, sizeof h, "jobs=sql:%s.h_ok", f->schema);
    w->worker = wt_start_db(env_dsn("TXQ_PGB_DSN"), f->schema, w->log, args);
    wt_await(f->pg, 0, 120, "select count(*) from messages");
    assert_int_equal(wt_stop(w->worker), 0);
    w->worker = 0;
    assert_int_equal(tt_scalar(f->pg, "select count(*) from biz"), 500);
    assert_int_equal(tt_scalar(f->pg, "select count(distinct msg) from biz"),
                     500);
    assert_int_equal(tt_scalar(f->pg, "select count(distinct body) from biz"),
                     500);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from message_errors"),
                     0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from dead_letters"), 0);
    {
        char *log = wt_read(w->log);

        assert_non_null(strstr(log, "pooler=transaction"));
        assert_null(strstr(log, "level=error"));
        free(log);
    }
}

/* Start a worker through var's pgbouncer with a 30 s poll interval, wait
 * until it idles, send one message directly: whether it was handled
 * within secs. */
static int
handled_within(wt_test *w,
               const char *var,
               const char *const *extra,
               double secs)
{
    tt_fixture *f = w->f;
    char h[128];
    const char *args[12] = {"--handle", h, "--poll-interval", "30"};
    int n = 4, done;
    double t0, end;

    for (int i = 0; extra != NULL && extra[i] != NULL; i++)
        args[n++] = extra[i];
    args[n] = NULL;
    snprintf(h, sizeof h, "jobs=sql:%s.h_ok", f->schema);
    w->worker = wt_start_db(env_dsn(var), f->schema, w->log, args);
    /* Idle: its consumer started, claimed, found nothing, and waits. */
    end = tt_now() + 30;
    for (;;) {
        char *log = wt_read(w->log);
        int up = strstr(log, "consumer started") != NULL;

        free(log);
        if (up)
            break;
        if (tt_now() > end)
            fail_msg("txq-worker's consumer did not start");
        tt_sleep_ms(20);
    }
    tt_sleep_ms(1000);
    tt_send(f, f->pg, "jobs", "wake");
    t0 = tt_now();
    end = t0 + secs;
    while ((done = (int)tt_scalar(f->pg, "select count(*) from biz")) == 0 &&
           tt_now() < end)
        tt_sleep_ms(20);
    print_message("%s: %s in %.2f s (poll interval 30 s)\n", var,
                  done ? "handled" : "not handled", tt_now() - t0);
    assert_int_equal(wt_stop(w->worker), 0);
    w->worker = 0;
    return done;
}

static void
test_session_listen(void **state)
{
    wt_test *w = *state;

    wt_test_queue(w, "jobs", NULL);
    assert_int_equal(handled_within(w, "TXQ_PGB_SESSION_DSN", NULL, 5), 1);
    {
        char *log = wt_read(w->log);

        assert_non_null(strstr(log, "listen=1"));
        free(log);
    }
}

/* The control of test_session_listen: without LISTEN (transaction
 * pooling), nothing wakes the worker before its 30 s poll. */
static void
test_no_listen_waits_for_poll(void **state)
{
    wt_test *w = *state;
    const char *extra[] = {"--pooler", "transaction", NULL};

    wt_test_queue(w, "jobs", NULL);
    assert_int_equal(handled_within(w, "TXQ_PGB_DSN", extra, 3), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_detects_the_pooler, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_core_flows, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_named_statements_break, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_rescue_leaves_pooled_claims,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_requester_refused, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_cli, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_worker_drain, setup_worker,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_session_listen, setup_worker,
                                        wt_test_teardown),
        cmocka_unit_test_setup_teardown(test_no_listen_waits_for_poll,
                                        setup_worker, wt_test_teardown),
    };

    env_dsn("TXQ_PGB_DSN");
    env_dsn("TXQ_PGB_SESSION_DSN");
    tt_dsn();
    return cmocka_run_group_tests_name("pgbouncer", tests, NULL, NULL);
}
