/*
 * test_failover.c - txq across a database failover: a primary and its
 * streaming standby (tests/pg_ha.sh), a producer and a txq-worker on a
 * multi-host conninfo (target_session_attrs=read-write), the primary
 * killed as a machine dies under load and the standby promoted.
 *
 * TXQ_HA_MODE picks the set-up: sync (default: synchronous replication,
 * promoted by pg_ctl), auto (pg_auto_failover promotes by itself) or async
 * (asynchronous replication: what the primary acknowledged and had not
 * shipped is lost, and reported). Each run starts its own set-up, keyed on
 * the build dir and the mode, and stops it at the end.
 *
 * The producer (a child process) sends keyed messages one per transaction
 * and logs each key the server acknowledged; a COMMIT whose reply never
 * came is uncertain: it reconnects and sends the same key again (an
 * idempotency key: dedup_id), until acknowledged; every 100th key is also
 * sent twice on purpose, as if its first reply had been lost. The worker's
 * handler records each processing in the consume transaction. After the drain:
 *   lost        acknowledged keys never processed (sync, auto: 0; async:
 *               each must have been acknowledged just before the kill)
 *   duplicated  keys processed more than once (always 0)
 *   unexpected  processed keys no producer sent (always 0)
 * and the worker must resume on the new primary by itself.
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

#define N_KEYS 1200

static char mode[16] = "sync";
static char key[600];
static char script[600];

/* Run tests/pg_ha.sh CMD KEY [extra]; its exit status. */
static int
ha(const char *cmd, const char *extra)
{
    char line[1600];

    snprintf(line, sizeof line, "bash '%s' %s '%s' %s", script, cmd, key,
             extra != NULL ? extra : "");
    fflush(NULL);
    return system(line);
}

static int
group_setup(void **state)
{
    const char *m = getenv("TXQ_HA_MODE"), *src = getenv("TXQ_SOURCE_DIR"),
               *bdir = getenv("TXQ_BUILD_DIR");
    char line[1600], buf[1024];
    FILE *p;

    (void)state;
    if (src == NULL || bdir == NULL) {
        fprintf(stderr, "TXQ_SOURCE_DIR and TXQ_BUILD_DIR must be set\n");
        return -1;
    }
    if (m != NULL && *m != '\0')
        snprintf(mode, sizeof mode, "%s", m);
    if (strcmp(mode, "sync") != 0 && strcmp(mode, "async") != 0 &&
        strcmp(mode, "auto") != 0) {
        fprintf(stderr, "TXQ_HA_MODE must be sync, async or auto\n");
        return -1;
    }
    snprintf(script, sizeof script, "%s/tests/pg_ha.sh", src);
    snprintf(key, sizeof key, "%s/ha-test-%s", bdir, mode);
    if (ha("start", strcmp(mode, "sync") == 0    ? NULL
                    : strcmp(mode, "async") == 0 ? "--async"
                                                 : "--auto") != 0) {
        fprintf(stderr, "the HA set-up did not start (tests/pg_ha.sh)\n");
        return -1;
    }
    /* Everything below connects through the multi-host conninfo. */
    snprintf(line, sizeof line, "bash '%s' env '%s'", script, key);
    p = popen(line, "r");
    if (p == NULL)
        return -1;
    while (fgets(buf, sizeof buf, p) != NULL) {
        if (strncmp(buf, "export TXQ_HA_DSN='", 19) == 0) {
            buf[strcspn(buf + 19, "'") + 19] = '\0';
            setenv("TXQ_TEST_DSN", buf + 19, 1);
        }
    }
    pclose(p);
    return getenv("TXQ_TEST_DSN") != NULL ? 0 : -1;
}

static int
group_teardown(void **state)
{
    (void)state;
    return ha("stop", NULL) == 0 ? 0 : -1;
}

/* === the producer === */

typedef struct producer {
    const char *schema;
    const char *log;
} producer;

static PGconn *
reconnect(const char *schema)
{
    double end = tt_now() + 120;
    PGconn *pg;

    while (tt_now() < end) {
        if ((pg = tt_child_connect(schema)) != NULL)
            return pg;
        tt_sleep_ms(100);
    }
    return NULL;
}

/* Send keys 0..N_KEYS-1, one per transaction; "ok K T" once the COMMIT
 * returned (T: seconds, monotonic), "uncertain K" when the connection was
 * lost on the way: then the same key again on a new connection. */
static int
produce(void *arg)
{
    const producer *p = arg;
    FILE *log = fopen(p->log, "w");
    txq_client *c = txq_client_new(TXQ_OPTIONS(.schema = p->schema));
    PGconn *pg = reconnect(p->schema);
    int i = 0, tries = 0;

    if (log == NULL || c == NULL || pg == NULL)
        return 2;
    while (i < N_KEYS) {
        char k[32];
        PGresult *r;
        int ok;

        snprintf(k, sizeof k, "k%d", i);
        r = PQexec(pg, "begin");
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (ok)
            ok = txq_send(c, pg, "jobs", k, strlen(k),
                          TXQ_SEND_OPTS(.dedup_id = k), NULL) == TXQ_OK;
        if (ok) {
            r = PQexec(pg, "commit");
            ok = PQresultStatus(r) == PGRES_COMMAND_OK;
            PQclear(r);
            if (!ok && PQstatus(pg) == CONNECTION_BAD)
                fprintf(log, "uncertain %d\n", i);
        }
        if (ok && i % 100 == 50 && tries == 0) {
            /* A reply lost on purpose, as the kill may lose one: the
             * producer cannot tell, and sends the key once more. */
            fprintf(log, "uncertain %d\n", i);
            tries++;
            continue;
        }
        if (ok) {
            fprintf(log, "ok %d %.3f\n", i, tt_now());
            fflush(log);
            i++;
            tries = 0;
            tt_sleep_ms(4);
            continue;
        }
        fflush(log);
        if (++tries > 50)
            return 3;
        if (PQstatus(pg) == CONNECTION_BAD) {
            PQfinish(pg);
            if ((pg = reconnect(p->schema)) == NULL)
                return 4;
        } else {
            r = PQexec(pg, "rollback");
            PQclear(r);
            tt_sleep_ms(50);
        }
    }
    PQfinish(pg);
    txq_client_free(c);
    fclose(log);
    return 0;
}

/* === the check === */

typedef struct outcome {
    double acked_at[N_KEYS]; /* 0: never acknowledged */
    int uncertain;
} outcome;

static void
read_log(const char *path, outcome *o)
{
    FILE *f = fopen(path, "r");
    char line[128];

    assert_non_null(f);
    memset(o, 0, sizeof *o);
    while (fgets(line, sizeof line, f) != NULL) {
        int k;
        double t;

        if (sscanf(line, "ok %d %lf", &k, &t) == 2 && k >= 0 && k < N_KEYS)
            o->acked_at[k] = t;
        else if (sscanf(line, "uncertain %d", &k) == 1)
            o->uncertain++;
    }
    fclose(f);
}

/* A connection that waits for the promoted primary. */
static PGconn *
connect_again(tt_fixture *f)
{
    double end = tt_now() + 120;

    while (tt_now() < end) {
        PGconn *pg = tt_child_connect(f->schema);

        if (pg != NULL)
            return pg;
        tt_sleep_ms(100);
    }
    fail_msg("no primary to connect to after the failover");
    return NULL;
}

static long long
scalar_or(PGconn *pg, const char *sql, long long dflt)
{
    PGresult *r = PQexec(pg, sql);
    long long v = dflt;

    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
        !PQgetisnull(r, 0, 0))
        v = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static void
test_failover_under_load(void **state)
{
    tt_fixture *f = *state;
    wt_dir dir;
    char wlog[128], plog[128], h[128];
    /* A poll too slow to matter: what wakes the consumers is the
     * notification, LISTENed again on the new primary. */
    const char *args[] = {
        "--handle", h, "--concurrency", "2", "--poll-interval", "30", NULL};
    producer prod;
    static outcome o;
    pid_t worker;
    int pprod, i, lost = 0, late_lost = 0;
    long long before, dup, unexpected, processed, dead, lag = -1;
    double t_kill, t_up, t_resumed = 0;
    PGresult *r;

    wt_mkdir(&dir);
    wt_path(&dir, "worker.log", wlog, sizeof wlog);
    wt_path(&dir, "producer.log", plog, sizeof plog);
    tt_exec(f->pg, "create table processed (k text not null, "
                   "at timestamptz not null default clock_timestamp())");
    tt_exec(f->pg,
            "create function h(m message) returns void language plpgsql as "
            "$$ begin insert into %s.processed (k) values "
            "(convert_from(m.body, 'UTF8')); end $$",
            f->schema);
    tt_exec(f->pg, "select create_queue('jobs', i_visibility_timeout => "
                   "'3 s')");
    snprintf(h, sizeof h, "jobs=sql:%s.h", f->schema);
    worker = wt_start(f->schema, wlog, args);

    prod.schema = f->schema;
    prod.log = plog;
    pprod = tt_fork(produce, &prod);

    /* Under load: a third of the keys sent and some processed. */
    wt_await(f->pg, 1, 60, "select (count(*) >= 400)::int from processed");
    if (strcmp(mode, "async") == 0)
        lag = scalar_or(f->pg,
                        "select max(pg_current_wal_lsn() - replay_lsn)::bigint"
                        " from pg_stat_replication",
                        -1);
    t_kill = tt_now();
    assert_int_equal(ha("failover", NULL), 0);
    t_up = tt_now();
    PQfinish(f->pg);
    f->pg = connect_again(f);
    tt_exec(f->pg, "set search_path = %s", f->schema);

    /* The worker resumes by itself: new processing on the new primary. */
    before = scalar_or(f->pg, "select count(*) from processed", 0);
    while (tt_now() < t_up + 60) {
        if (scalar_or(f->pg, "select count(*) from processed", 0) > before) {
            t_resumed = tt_now();
            break;
        }
        tt_sleep_ms(20);
    }
    assert_true(t_resumed > 0);

    assert_int_equal(tt_wait(pprod), 0);
    /* Drained: claims the old primary's sessions held come back through
     * the lapse rules (3 s here) or maintain()'s rescue. */
    wt_await(f->pg, 0, 120, "select count(*) from messages");

    read_log(plog, &o);
    processed = tt_scalar(f->pg, "select count(*) from processed");
    dup = tt_scalar(f->pg, "select count(*) from (select k from processed "
                           "group by k having count(*) > 1) d");
    unexpected = tt_scalar(f->pg,
                           "select count(*) from processed where k !~ "
                           "'^k[0-9]+$' or substr(k, 2)::int >= %d",
                           N_KEYS);
    dead = tt_scalar(f->pg, "select count(*) from dead_letter_messages");
    r = tt_query(f->pg, "select distinct substr(k, 2)::int from processed "
                        "where k ~ '^k[0-9]+$'");
    {
        static char seen[N_KEYS];

        memset(seen, 0, sizeof seen);
        for (i = 0; i < PQntuples(r); i++) {
            int k = atoi(PQgetvalue(r, i, 0));

            if (k >= 0 && k < N_KEYS)
                seen[k] = 1;
        }
        for (i = 0; i < N_KEYS; i++) {
            if (o.acked_at[i] > 0 && !seen[i]) {
                lost++;
                /* acknowledged within the 2 s before the kill */
                if (o.acked_at[i] >= t_kill - 2 && o.acked_at[i] <= t_up)
                    late_lost++;
            }
        }
    }
    PQclear(r);
    printf("failover (%s): promoted %.2f s after the kill, worker resumed "
           "%.2f s after the kill (%.2f s after the promotion); "
           "sent %d, uncertain commits %d, processed %lld, lost %d, "
           "duplicated %lld, unexpected %lld, dead letters %lld",
           mode, t_up - t_kill, t_resumed - t_kill, t_resumed - t_up, N_KEYS,
           o.uncertain, processed, lost, dup, unexpected, dead);
    if (lag >= 0)
        printf(", replay lag before the kill %lld bytes", lag);
    printf("\n");

    for (i = 0; i < N_KEYS; i++)
        assert_true(o.acked_at[i] > 0);
    assert_int_equal(dup, 0);
    assert_int_equal(unexpected, 0);
    assert_int_equal(dead, 0);
    if (strcmp(mode, "async") == 0)
        assert_int_equal(late_lost, lost); /* only the unshipped tail */
    else
        assert_int_equal(lost, 0);

    /* The worker LISTENs again: with a 30 s poll, a send wakes it. */
    {
        double t0;

        tt_sleep_ms(1500); /* idle: the consumers wait */
        t0 = tt_now();
        tt_exec(f->pg, "select send('jobs', 'wake-up')");
        wt_await(f->pg, 1, 10,
                 "select count(*) from processed where k = 'wake-up'");
        printf("failover (%s): a send after it woke the worker in %.3f s\n",
               mode, tt_now() - t0);
        assert_true(tt_now() - t0 < 5);
    }
    /* The CLI on the same multi-host conninfo finds the new primary. */
    {
        const char *send[] = {"--schema", f->schema,      "send",
                              "jobs",     "from-the-cli", NULL};
        const char *stats[] = {"--schema", f->schema, "stats", NULL};

        tt_txq_ok(f, send);
        wt_await(f->pg, 1, 10,
                 "select count(*) from processed where k = 'from-the-cli'");
        tt_txq_ok(f, stats);
    }
    assert_int_equal(wt_stop(worker), 0);
    wt_rmdir(&dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_failover_under_load, tt_setup,
                                        tt_teardown),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
