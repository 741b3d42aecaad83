/*
 * wt.h - helpers of the txq-worker tests (tests/test_worker*.c): spawn the
 * real txq-worker binary ($TXQ_BUILD_DIR/txq-worker) in a process group of
 * its own against the test's schema, wait for conditions in the database
 * without sleeping through backoffs, stop it; and wt_test, the per-test
 * state (setup helper, cmocka teardown) of the tests that run one worker.
 * Header-only; include after tt.h.
 */
#ifndef TXQ_WT_H
#define TXQ_WT_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define WT_MAX_ARGS 40

/* A scratch directory per test, under /tmp. */
typedef struct wt_dir {
    char path[64];
} wt_dir;

static inline void
wt_mkdir(wt_dir *d)
{
    snprintf(d->path, sizeof d->path, "/tmp/txq_wt_XXXXXX");
    assert_non_null(mkdtemp(d->path));
}

/* Remove the files a test made in d (flat), then d. */
static inline void
wt_rmdir(wt_dir *d)
{
    char cmd[128];

    /* test-owned path of our own making; no user data */
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d->path);
    if (system(cmd) != 0)
        fprintf(stderr, "wt: could not remove %s\n", d->path);
}

/* d->path/name into buf. */
static inline const char *
wt_path(const wt_dir *d, const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", d->path, name);
    return buf;
}

static inline void
wt_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The whole file as a malloc'd string ("" if missing). */
static inline char *
wt_read(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = calloc(1, 65536);
    size_t n = 0;

    assert_non_null(buf);
    if (f != NULL) {
        n = fread(buf, 1, 65535, f);
        fclose(f);
    }
    buf[n] = '\0';
    return buf;
}

static inline int
wt_lines(const char *path)
{
    char *s = wt_read(path);
    int n = tt_lines(s);

    free(s);
    return n;
}

static inline int
wt_exists(const char *path)
{
    return access(path, F_OK) == 0;
}

/* Extra environment of the workers started next: NAME=VALUE strings,
 * NULL-terminated (NULL: none). A VALUE of "$PID" becomes the worker's own
 * pid (WATCHDOG_PID). Set it before wt_start*, reset it to NULL after. */
static const char *const *wt_env;

/*
 * Start txq-worker with --db db (none when db is NULL: the ini file or the
 * environment gives it), --schema and fast test timings, then args
 * (NULL-terminated), stdout/stderr to log (appended), env WT_SCHEMA set.
 * Returns its pid, which is also its process group.
 */
static inline pid_t
wt_start_db(const char *db,
            const char *schema,
            const char *log,
            const char *const *args)
{
    const char *bdir = getenv("TXQ_BUILD_DIR");
    char bin[512];
    const char *argv[WT_MAX_ARGS];
    int n = 0, i;
    pid_t pid;

    assert_non_null(bdir);
    snprintf(bin, sizeof bin, "%s/txq-worker", bdir);
    argv[n++] = bin;
    if (db != NULL) {
        argv[n++] = "--db";
        argv[n++] = db;
    }
    argv[n++] = "--schema";
    argv[n++] = schema;
    argv[n++] = "--poll-interval";
    argv[n++] = "0.05";
    argv[n++] = "--maintain-interval";
    argv[n++] = "0.1";
    argv[n++] = "--log-level";
    argv[n++] = "debug";
    for (i = 0; args != NULL && args[i] != NULL && n < WT_MAX_ARGS - 1; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    fflush(NULL);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

        setpgid(0, 0);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        setenv("WT_SCHEMA", schema, 1);
        for (i = 0; wt_env != NULL && wt_env[i] != NULL; i++) {
            char name[128], self[24];
            const char *eq = strchr(wt_env[i], '=');

            if (eq == NULL || (size_t)(eq - wt_env[i]) >= sizeof name)
                continue;
            snprintf(name, sizeof name, "%.*s", (int)(eq - wt_env[i]),
                     wt_env[i]);
            snprintf(self, sizeof self, "%ld", (long)getpid());
            setenv(name, strcmp(eq + 1, "$PID") == 0 ? self : eq + 1, 1);
        }
        execv(bin, (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    setpgid(pid, pid);
    return pid;
}

/* wt_start_db with --db tt_dsn(). */
static inline pid_t
wt_start(const char *schema, const char *log, const char *const *args)
{
    return wt_start_db(tt_dsn(), schema, log, args);
}

/* Wait up to secs for pid to exit: its wait status, or -1 on timeout. */
static inline int
wt_waitpid(pid_t pid, double secs)
{
    double end = tt_now() + secs;
    int st;

    while (tt_now() < end) {
        pid_t r = waitpid(pid, &st, WNOHANG);

        if (r == pid)
            return st;
        if (r < 0 && errno != EINTR)
            return -1;
        tt_sleep_ms(10);
    }
    return -1;
}

/* Kill the worker's whole process group at once and reap it. */
static inline void
wt_kill9(pid_t pid)
{
    kill(-pid, SIGKILL);
    assert_true(wt_waitpid(pid, 10) != -1);
}

/* SIGTERM and wait: the exit code (fails the test if it does not exit). */
static inline int
wt_stop(pid_t pid)
{
    int st;

    kill(pid, SIGTERM);
    st = wt_waitpid(pid, 20);
    if (st == -1) {
        kill(-pid, SIGKILL);
        wt_waitpid(pid, 5);
        fail_msg("txq-worker did not exit after SIGTERM");
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Poll until the query's integer equals want (fails after secs). */
static inline void
wt_await(PGconn *pg, long long want, double secs, const char *sql)
{
    double end = tt_now() + secs;
    long long got = -1;

    while (tt_now() < end) {
        PGresult *r = PQexec(pg, sql);

        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
            !PQgetisnull(r, 0, 0))
            got = atoll(PQgetvalue(r, 0, 0));
        PQclear(r);
        if (got == want)
            return;
        tt_sleep_ms(20);
    }
    fail_msg("waited %.1fs for %s = %lld; last %lld", secs, sql, want, got);
}

/* Wait until a file exists. */
static inline void
wt_await_file(const char *path, double secs)
{
    double end = tt_now() + secs;

    while (tt_now() < end) {
        if (wt_exists(path))
            return;
        tt_sleep_ms(20);
    }
    fail_msg("waited %.1fs for %s", secs, path);
}

/* === a test's worker: state, setup and teardown === */

/* Per-test state on top of tt's fixture: a scratch directory, the worker's
 * log in it, and the running worker (0 when none). */
typedef struct wt_test {
    tt_fixture *f;
    wt_dir dir;
    char log[128];
    pid_t worker;
} wt_test;

/* For a cmocka setup: tt_setup, then a wt_test with its directory, its log
 * path and a table biz (msg bigint, body text) in the test's schema. *state
 * is still tt's fixture; the setup sets it to the wt_test when done. */
static inline wt_test *
wt_test_new(void **state)
{
    wt_test *w = calloc(1, sizeof *w);

    assert_non_null(w);
    tt_setup(state);
    w->f = *state;
    wt_mkdir(&w->dir);
    wt_path(&w->dir, "worker.log", w->log, sizeof w->log);
    tt_exec(w->f->pg, "create table biz (msg bigint, body text)");
    return w;
}

/* The sql: handler h_ok in the test's schema: inserts the message's id and
 * body (as UTF-8 text) into biz. */
static inline void
wt_test_h_ok(wt_test *w)
{
    tt_exec(w->f->pg,
            "create function h_ok(m message) returns void language plpgsql "
            "as $$ begin insert into %s.biz values (m.id, "
            "convert_from(m.body, 'UTF8')); end $$",
            w->f->schema);
}

/* cmocka teardown of a wt_test: kills a worker still running (its whole
 * group), prints its log when WT_SHOW_LOG is set (to see why a test
 * failed), removes the directory, then tt_teardown. */
static inline int
wt_test_teardown(void **state)
{
    wt_test *w = *state;

    if (w->worker > 0) {
        kill(-w->worker, SIGKILL);
        wt_waitpid(w->worker, 5);
    }
    if (getenv("WT_SHOW_LOG") != NULL) {
        char *s = wt_read(w->log);

        fprintf(stderr, "%s", s);
        free(s);
    }
    wt_rmdir(&w->dir);
    *state = w->f;
    tt_teardown(state);
    free(w);
    return 0;
}

/* A queue whose retries come at once (backoff 10..50 ms, 3 attempts);
 * extra, when not NULL, adds arguments of create_queue. */
static inline void
wt_test_queue(wt_test *w, const char *name, const char *extra)
{
    tt_exec(w->f->pg,
            "select create_queue('%s', i_backoff_base => '0.01 s', "
            "i_backoff_cap => '0.05 s', i_max_attempts => 3%s%s)",
            name, extra ? ", " : "", extra ? extra : "");
}

/* wt_start for the test's schema, logging to w->log. */
static inline void
wt_test_start(wt_test *w, const char *const *args)
{
    w->worker = wt_start(w->f->schema, w->log, args);
}

/* Wait for the worker pid (wt_start*) to end, 20 s at most; then its
 * group is killed and the test fails, so that no worker outlives it. Its
 * exit code (128 when it did not exit normally). */
static inline int
wt_run_to_end(pid_t pid)
{
    int st = wt_waitpid(pid, 20);

    if (st == -1) {
        kill(-pid, SIGKILL);
        wt_waitpid(pid, 5);
        fail_msg("txq-worker still running after 20 s");
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* Run txq-worker to its end (wt_run_to_end) for the test's schema: its
 * exit code, its output in w->log. */
static inline int
wt_test_run(wt_test *w, const char *const *args)
{
    return wt_run_to_end(wt_start(w->f->schema, w->log, args));
}

/* wt_stop the test's worker, which must exit 0. */
static inline void
wt_test_stop(wt_test *w)
{
    assert_int_equal(wt_stop(w->worker), 0);
    w->worker = 0;
}

#endif /* TXQ_WT_H */
