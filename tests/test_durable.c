/*
 * test_durable.c - durable send and durable attempts across a PostgreSQL
 * crash: a private cluster (tests/pg_fixture.sh under its own key) runs
 * with fsync on, is stopped with `pg_ctl stop -m immediate` (no shutdown
 * checkpoint: recovery must replay the WAL) and started again. Committed
 * messages and committed claims survive; an uncommitted send does not.
 *
 * Needs TXQ_TEST_DSN like every test binary, and TXQ_SOURCE_DIR (ctest sets
 * both) to find the fixture script.
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

struct cluster {
    char key[256];    /* names the cluster for pg_fixture.sh */
    char script[512]; /* tests/pg_fixture.sh */
    char host[256];   /* its socket directory (PGHOST) */
    char dsn[512];
    char bindir[256];
    int up;
};

/* Run a shell command; returns its exit status. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    int st;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    fflush(stdout);
    fflush(stderr);
    st = system(cmd);
    return st == -1 ? -1 : (st >> 8) & 0xff;
}

/* First line of a command's output, without its newline. */
static int
sh_line(char *buf, size_t size, const char *cmd)
{
    FILE *p = popen(cmd, "r");
    int ok;

    if (p == NULL)
        return -1;
    ok = fgets(buf, (int)size, p) != NULL;
    if (pclose(p) != 0 || !ok)
        return -1;
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

static void
cluster_start(struct cluster *cl)
{
    const char *src = getenv("TXQ_SOURCE_DIR");
    const char *build = getenv("TXQ_BUILD_DIR");
    char cmd[1024];

    if (src == NULL || build == NULL)
        fail_msg("TXQ_SOURCE_DIR and TXQ_BUILD_DIR must be set (ctest does)");
    snprintf(cl->script, sizeof(cl->script), "%s/tests/pg_fixture.sh", src);
    snprintf(cl->key, sizeof(cl->key), "%s/durable-%d", build, (int)getpid());
    if (sh("bash '%s' start '%s' >/dev/null", cl->script, cl->key) != 0)
        fail_msg("pg_fixture.sh start failed");
    cl->up = 1;
    snprintf(cmd, sizeof(cmd),
             "bash '%s' env '%s' | sed -n 's/^export PGHOST=//p'", cl->script,
             cl->key);
    assert_int_equal(sh_line(cl->host, sizeof(cl->host), cmd), 0);
    snprintf(cmd, sizeof(cmd),
             "bash '%s' env '%s' | sed -n \"s/^export TXQ_TEST_DSN='\\(.*\\)'$/"
             "\\1/p\"",
             cl->script, cl->key);
    assert_int_equal(sh_line(cl->dsn, sizeof(cl->dsn), cmd), 0);
    /* The same server binaries the script picked. */
    assert_int_equal(
        sh_line(cl->bindir, sizeof(cl->bindir),
                "if [ -n \"$TXQ_PG_BINDIR\" ]; then echo \"$TXQ_PG_BINDIR\"; "
                "else ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | "
                "tail -n 1 | grep . || dirname \"$(command -v initdb)\"; fi"),
        0);
}

/* pg_ctl on the private cluster, as its owner. */
static int
pg_ctl(const struct cluster *cl, const char *args)
{
    return sh("cd / && %s '%s/pg_ctl' -D '%s/data' %s >/dev/null 2>&1",
              geteuid() == 0 ? "runuser -u postgres --" : "", cl->bindir,
              cl->host, args);
}

static void
cluster_stop(struct cluster *cl)
{
    if (cl->up)
        sh("bash '%s' stop '%s' >/dev/null 2>&1", cl->script, cl->key);
    cl->up = 0;
}

static PGconn *
cluster_connect(const struct cluster *cl, const char *schema)
{
    PGconn *pg = PQconnectdb(cl->dsn);

    if (PQstatus(pg) != CONNECTION_OK) {
        char msg[1200];

        snprintf(msg, sizeof(msg), "cannot connect to %.500s: %.600s", cl->dsn,
                 PQerrorMessage(pg));
        PQfinish(pg);
        fail_msg("%s", msg);
    }
    tt_exec(pg, "set client_min_messages = warning");
    if (schema != NULL)
        tt_exec(pg, "set search_path = %s", schema);
    return pg;
}

static void
test_survives_crash_restart(void **state)
{
    struct cluster *cl = *state;
    txq_client *c = txq_client_new(TXQ_OPTIONS(.schema = "txq"));
    PGconn *pg, *open_tx;
    txq_msg **msgs = NULL;
    size_t n = 0;
    int64_t kept = 0, claimed = 0, lost = 0;

    assert_non_null(c);
    cluster_start(cl);
    pg = cluster_connect(cl, NULL);
    /* The server's default durable settings, not the fixture's fsync=off. */
    tt_exec(pg, "alter system set fsync = on");
    tt_exec(pg, "alter system set synchronous_commit = on");
    tt_exec(pg, "select pg_reload_conf()");
    tt_exec(pg, "create schema txq");
    assert_txq_ok(c, txq_migrate(c, pg, NULL));
    assert_txq_ok(c, txq_queue_create(c, pg, "jobs", NULL));

    tt_exec(pg, "begin");
    assert_txq_ok(c, txq_send(c, pg, "jobs", "claimed", 7, NULL, &claimed));
    assert_txq_ok(c, txq_send(c, pg, "jobs", "kept", 4, NULL, &kept));
    tt_exec(pg, "commit");
    /* A committed claim: its attempt must survive too. */
    assert_txq_ok(c, txq_claim(c, pg, "jobs", 1, NULL, &msgs, &n));
    assert_int_equal(n, 1);
    assert_int_equal(txq_msg_id(msgs[0]), claimed);
    txq_msgs_free(msgs, n);
    /* Still open when the server dies. */
    open_tx = cluster_connect(cl, NULL);
    tt_exec(open_tx, "begin");
    assert_txq_ok(c, txq_send(c, open_tx, "jobs", "lost", 4, NULL, &lost));

    assert_int_equal(pg_ctl(cl, "stop -m immediate -w"), 0);
    PQfinish(open_tx);
    PQfinish(pg);
    assert_int_equal(pg_ctl(cl, "start -w -t 60 -l '/dev/null'"), 0);

    pg = cluster_connect(cl, "txq");
    assert_int_equal(tt_scalar(pg, "select count(*) from messages"), 2);
    assert_int_equal(
        tt_scalar(pg,
                  "select count(*) from messages where id = %lld and "
                  "body = 'kept' and attempts = 0",
                  (long long)kept),
        1);
    assert_int_equal(tt_scalar(pg,
                               "select attempts from messages where id = %lld",
                               (long long)claimed),
                     1);
    assert_int_equal(tt_scalar(pg,
                               "select count(*) from messages where id = "
                               "%lld",
                               (long long)lost),
                     0);
    PQfinish(pg);
    txq_client_free(c);
    cluster_stop(cl);
}

static int
setup_cluster(void **state)
{
    struct cluster *cl = calloc(1, sizeof(*cl));

    assert_non_null(cl);
    *state = cl;
    return 0;
}

static int
teardown_cluster(void **state)
{
    struct cluster *cl = *state;

    cluster_stop(cl);
    free(cl);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_survives_crash_restart,
                                        setup_cluster, teardown_cluster),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("durable", tests, NULL, NULL);
}
