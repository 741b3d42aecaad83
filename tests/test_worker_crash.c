/*
 * test_worker_crash.c - PostgreSQL crashes under a running txq-worker:
 * `pg_ctl stop -m immediate` while it consumes, then a restart. The worker
 * reconnects by itself; every message sent is applied exactly once; claims
 * of the sessions the crash killed come back through txq.maintain().
 *
 * Needs the ctest fixture's cluster (TXQ_TEST_DSN host=/tmp/txq-pg-...,
 * its data directory in host/data, see tests/pg_fixture.sh) and pg_ctl;
 * with another server it is reported as skipped. The server is always
 * started again before the test ends.
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

#define N_MESSAGES 300

static char pg_dir[256];
static char pg_ctl[512];

/* The fixture's directory from the DSN, and pg_ctl; 0 if usable. */
static int
find_cluster(void)
{
    const char *dsn = tt_dsn(), *h = strstr(dsn, "host=");
    char path[300];
    size_t n;
    FILE *p;

    if (h == NULL)
        return -1;
    h += 5;
    n = strcspn(h, " ");
    if (n == 0 || n >= sizeof pg_dir)
        return -1;
    memcpy(pg_dir, h, n);
    pg_dir[n] = '\0';
    if (strncmp(pg_dir, "/tmp/txq-pg-", 12) != 0)
        return -1;
    snprintf(path, sizeof path, "%s/data/PG_VERSION", pg_dir);
    if (!wt_exists(path))
        return -1;
    p = popen("ls -d /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V "
              "| tail -n 1",
              "r");
    if (p == NULL || fgets(pg_ctl, sizeof pg_ctl, p) == NULL) {
        if (p != NULL)
            pclose(p);
        snprintf(pg_ctl, sizeof pg_ctl, "pg_ctl");
    } else {
        pg_ctl[strcspn(pg_ctl, "\n")] = '\0';
        pclose(p);
    }
    return 0;
}

/* Run pg_ctl as the cluster's owner (postgres when we are root). */
static int
run_pg_ctl(const char *args)
{
    char cmd[1400];
    int n;

    /* paths are the fixture's own: /tmp/txq-pg-<hex>, no quoting issues */
    n = snprintf(cmd, sizeof cmd, "%s%s %s -D %s/data >/dev/null 2>&1",
                 getuid() == 0 ? "runuser -u postgres -- " : "", pg_ctl, args,
                 pg_dir);
    if (n < 0 || (size_t)n >= sizeof cmd)
        return -1;
    return system(cmd);
}

static void
server_start(void)
{
    char args[400];

    snprintf(args, sizeof args, "start -w -t 60 -l %s/postgres.log", pg_dir);
    if (run_pg_ctl(args) != 0)
        fail_msg("could not start PostgreSQL again in %s", pg_dir);
}

static void
test_immediate_stop_under_load(void **state)
{
    tt_fixture *f = *state;
    wt_dir dir;
    char log[128], h[128];
    const char *args[] = {"--handle", h, "--concurrency", "3", NULL};
    PGconn *pg;
    pid_t worker;
    int i, stopped;

    /* It stops the server: only the fixture's own cluster will do, and a
     * test that cannot run fails (a skip would count as a pass). */
    if (find_cluster() != 0)
        fail_msg("TXQ_TEST_DSN is not the ctest fixture's cluster "
                 "(/tmp/txq-pg-*), which this test must restart: %s",
                 tt_dsn());
    wt_mkdir(&dir);
    wt_path(&dir, "worker.log", log, sizeof log);
    tt_exec(f->pg, "create table biz (msg bigint)");
    tt_exec(f->pg,
            "create function h_ok(m message) returns void language plpgsql "
            "as $$ begin insert into %s.biz values (m.id); "
            "perform pg_sleep(0.002); end $$",
            f->schema);
    tt_exec(f->pg, "select create_queue('jobs')");
    tt_exec(f->pg, "begin");
    for (i = 0; i < N_MESSAGES; i++)
        tt_send(f, f->pg, "jobs", "x");
    tt_exec(f->pg, "commit");
    snprintf(h, sizeof h, "jobs=sql:%s.h_ok", f->schema);
    worker = wt_start(f->schema, log, args);
    wt_await(f->pg, 1, 20, "select (count(*) >= 30)::int from biz");

    stopped = run_pg_ctl("stop -m immediate -w -t 60");
    tt_sleep_ms(500);
    server_start();
    assert_int_equal(stopped, 0);

    /* Our own session died with the server. */
    PQfinish(f->pg);
    f->pg = tt_connect(f->schema);
    pg = f->pg;
    wt_await(pg, 0, 60, "select count(*) from messages");
    assert_int_equal(wt_stop(worker), 0);
    /* Exactly once each, nothing lost. */
    assert_int_equal(tt_scalar(pg, "select count(*) from biz"), N_MESSAGES);
    assert_int_equal(tt_scalar(pg, "select count(distinct msg) from biz"),
                     N_MESSAGES);
    assert_int_equal(tt_scalar(pg, "select count(*) from dead_letter_messages"),
                     0);
    if (getenv("WT_SHOW_LOG") != NULL) {
        char *s = wt_read(log);

        fprintf(stderr, "%s", s);
        free(s);
    }
    wt_rmdir(&dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_immediate_stop_under_load,
                                        tt_setup, tt_teardown),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("worker_crash", tests, NULL, NULL);
}
