/*
 * test_concurrency.c - several consumer processes drain one queue: every
 * message is handled exactly once (a duplicate would break the primary key
 * of the `seen` table, written in the same transaction as the ack), none
 * is lost, and the queue ends empty. Once with txq_claim + txq_ack_batch,
 * once with txq_receive inside the handler's transaction, once with
 * txq_pop (as the superuser: its direct statement, each backend counting
 * into its own counter row).
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
#include <unistd.h>

#include "tt.h"

enum { CONSUMERS = 4 };

enum mode {
    CLAIM,   /* txq_claim, then txq_ack_batch in the handler's transaction */
    RECEIVE, /* txq_receive and txq_ack inside the handler's transaction */
    POP      /* txq_pop inside the handler's transaction */
};

struct consumer {
    const char *schema;
    enum mode mode;
    int max_batch;
};

/* Record ids in seen, in the open transaction. Returns 0 or -1. */
static int
record_seen(PGconn *pg, txq_msg **msgs, size_t n)
{
    char *arr = malloc(n * 24 + 3);
    size_t i, o = 0;
    const char *params[1];
    PGresult *res;
    int ok;

    if (arr == NULL)
        return -1;
    arr[o++] = '{';
    for (i = 0; i < n; i++)
        o += (size_t)sprintf(arr + o, "%s%lld", i ? "," : "",
                             (long long)txq_msg_id(msgs[i]));
    arr[o++] = '}';
    arr[o] = '\0';
    params[0] = arr;
    res = PQexecParams(pg,
                       "insert into seen (id, pid) "
                       "select unnest($1::bigint[]), pg_backend_pid()",
                       1, NULL, params, NULL, NULL, 0);
    ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "child %d: %s", (int)getpid(), PQerrorMessage(pg));
    PQclear(res);
    free(arr);
    return ok ? 0 : -1;
}

static int
run_sql(PGconn *pg, const char *sql)
{
    PGresult *res = PQexec(pg, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

    if (!ok)
        fprintf(stderr, "child %d: %s: %s", (int)getpid(), sql,
                PQerrorMessage(pg));
    PQclear(res);
    return ok ? 0 : -1;
}

/* Child: consume until the queue is empty. Exit codes: 0 ok, 2 setup,
 * 3 claim/receive error, 4 duplicate or SQL error, 5 ack error. */
static int
consume(void *arg)
{
    const struct consumer *cs = arg;
    int claim = cs->mode == CLAIM;
    PGconn *pg = tt_child_connect(cs->schema);
    txq_client *c = txq_client_new(TXQ_OPTIONS(.schema = cs->schema));
    int status = 0;

    if (pg == NULL || c == NULL)
        return 2;
    srand((unsigned)getpid());
    for (;;) {
        txq_msg **msgs = NULL;
        size_t n = 0, acked = 0;
        size_t max = 1 + (size_t)(rand() % cs->max_batch);
        txq_err rc;

        if (!claim && run_sql(pg, "begin") != 0) {
            status = 4;
            break;
        }
        if (claim)
            rc = txq_claim(c, pg, "jobs", max, NULL, &msgs, &n);
        else if (cs->mode == POP)
            rc = txq_pop(c, pg, "jobs", max, &msgs, &n);
        else
            rc = txq_receive(c, pg, "jobs", max, NULL, &msgs, &n);
        if (rc == TXQ_EMPTY) {
            if (!claim)
                run_sql(pg, "rollback");
            break;
        }
        if (rc != TXQ_OK) {
            fprintf(stderr, "child receive: %s\n", txq_errmsg(c));
            status = 3;
            break;
        }
        if (claim && run_sql(pg, "begin") != 0) {
            status = 4;
        } else if (record_seen(pg, msgs, n) != 0) {
            status = 4;
        } else if (claim) {
            rc = txq_ack_batch(c, pg, msgs, n, &acked);
            if (rc != TXQ_OK || acked != n)
                status = 5;
        } else if (cs->mode == RECEIVE) {
            size_t i;

            for (i = 0; i < n && status == 0; i++)
                if (txq_ack(c, pg, msgs[i]) != TXQ_OK)
                    status = 5;
        }
        if (status == 5)
            fprintf(stderr, "child ack: %s\n", txq_errmsg(c));
        txq_msgs_free(msgs, n);
        if (status != 0)
            break;
        if (run_sql(pg, "commit") != 0) {
            status = 4;
            break;
        }
    }
    txq_client_free(c);
    PQfinish(pg);
    return status;
}

/* Send n messages in batches, remembering every id in table sent. */
static void
fill(tt_fixture *f, int n)
{
    enum { BATCH = 1000 };
    const void *bodies[BATCH];
    size_t lens[BATCH];
    int64_t ids[BATCH];
    int i, done;

    tt_exec(f->pg, "create table sent (id bigint primary key)");
    tt_exec(f->pg, "create table seen (id bigint primary key, pid int)");
    for (i = 0; i < BATCH; i++) {
        bodies[i] = "payload";
        lens[i] = 7;
    }
    for (done = 0; done < n; done += BATCH) {
        size_t k = (size_t)(n - done < BATCH ? n - done : BATCH);
        char *list = malloc(k * 24 + 2);
        size_t j, o = 0;

        assert_non_null(list);
        assert_txq_ok(f->c, txq_send_batch(f->c, f->pg, "jobs", bodies, lens, k,
                                           NULL, ids));
        for (j = 0; j < k; j++)
            o += (size_t)sprintf(list + o, "%s%lld", j ? "," : "",
                                 (long long)ids[j]);
        tt_exec(f->pg, "insert into sent select unnest('{%s}'::bigint[])",
                list);
        free(list);
    }
    assert_int_equal(tt_scalar(f->pg, "select count(*) from sent"), n);
}

static void
drain(tt_fixture *f, int n, enum mode mode, int max_batch)
{
    struct consumer cs = {f->schema, mode, max_batch};
    int pids[CONSUMERS];
    int i;

    tt_queue(f, "jobs", NULL);
    fill(f, n);
    for (i = 0; i < CONSUMERS; i++)
        pids[i] = tt_fork(consume, &cs);
    for (i = 0; i < CONSUMERS; i++) {
        int st = tt_wait(pids[i]);

        if (st != 0)
            fail_msg("consumer %d exited with status %d", i, st);
    }
    /* Exactly the ids sent, each once. */
    assert_int_equal(tt_scalar(f->pg, "select count(*) from seen"), n);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from sent full join "
                                      "seen using (id) where sent.id is null "
                                      "or seen.id is null"),
                     0);
    assert_int_equal(tt_depth(f), 0);
    assert_int_equal(tt_scalar(f->pg, "select acked from queue_stats"), n);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from dead_letters"), 0);
    /* A second look in the future finds nothing either. */
    assert_int_equal(tt_scalar(f->pg, "select count(*) from receive('jobs', "
                                      "100, null, now() + interval '1 day')"),
                     0);
}

static void
test_claim_ack_batch_exactly_once(void **state)
{
    drain(*state, 10000, CLAIM, 50);
}

static void
test_receive_in_transaction_exactly_once(void **state)
{
    drain(*state, 3000, RECEIVE, 20);
}

static void
test_pop_exactly_once(void **state)
{
    drain(*state, 10000, POP, 50);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_claim_ack_batch_exactly_once,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(
            test_receive_in_transaction_exactly_once, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_pop_exactly_once, tt_setup,
                                        tt_teardown),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("concurrency", tests, NULL, NULL);
}
