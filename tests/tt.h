/*
 * tt.h - shared helpers of txq's cmocka tests.
 *
 * Every test binary that touches data needs TXQ_TEST_DSN (the ctest fixture
 * pg_start sets it and starts a throwaway PostgreSQL); without it, or when
 * the database does not answer, the binary fails: it never skips.
 * Each test gets a schema of its own (txq_t_<pid>_<n>) with txq migrated into
 * it, so tests may commit freely; teardown drops it.
 */
#ifndef TXQ_TT_H
#define TXQ_TT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>

#include <libpq-fe.h>

#include "txq.h"

/* What tt_setup hands each test through *state. */
typedef struct tt_fixture {
    txq_client *c; /* client bound to schema */
    PGconn *pg;    /* connection, search_path = schema, autocommit */
    char schema[64];
} tt_fixture;

/* TXQ_TEST_DSN, or exit(1) with instructions when it is unset. */
const char *tt_dsn(void);

/* A new connection to tt_dsn() with client_min_messages = warning; fails
 * the test on error. With schema not NULL, search_path is set to it. */
PGconn *tt_connect(const char *schema);

/* cmocka setup/teardown: a fresh migrated schema per test. */
int tt_setup(void **state);
int tt_teardown(void **state);
/* tt_setup, then a standard queue "jobs" with default settings. */
int tt_setup_jobs(void **state);

/* Run test-written SQL (never user input), printf-style; fail on error. */
void tt_exec(PGconn *pg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Run a query, fail on error; caller PQclear()s the result. */
PGresult *tt_query(PGconn *pg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* First column of the first row as an integer (fails on NULL/no row). */
long long tt_scalar(PGconn *pg, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Run SQL expected to fail; returns its SQLSTATE (static buffer) and
 * stores the error message in msg (may be NULL, msgsize bytes). */
const char *
tt_fails(PGconn *pg, char *msg, size_t msgsize, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Backend pid of a connection. */
int tt_pid(PGconn *pg);

/* Fail the test with txq's message when rc is not TXQ_OK. */
#define assert_txq_ok(c, rc)                                                \
    do {                                                                    \
        txq_err tt_rc_ = (rc);                                              \
        if (tt_rc_ != TXQ_OK)                                               \
            fail_msg("txq call failed: %s (%s) sqlstate=%s",                \
                     txq_strerror(tt_rc_), txq_errmsg(c), txq_sqlstate(c)); \
    } while (0)

/* Assert a specific txq code, printing the message when it differs. */
#define assert_txq_rc(c, rc, want)                               \
    do {                                                         \
        txq_err tt_rc_ = (rc);                                   \
        if (tt_rc_ != (want))                                    \
            fail_msg("want %s, got %s (%s)", txq_strerror(want), \
                     txq_strerror(tt_rc_), txq_errmsg(c));       \
    } while (0)

/* === extensions: processes, time, backends === */

/* A connection for a forked child: like tt_connect but never touches
 * cmocka (a cmocka failure in a child would run the rest of the suite
 * there). Returns NULL and prints why when it cannot connect. */
PGconn *tt_child_connect(const char *schema);

/* Fork a child that runs fn(arg) and _exit()s with its return value
 * (0 for success). Fails the test when fork fails. */
int tt_fork(int (*fn)(void *arg), void *arg);

/* Wait for a child of tt_fork: its exit status, or 128 + the signal that
 * killed it. */
int tt_wait(int pid);

/* Terminate backend pid from pg and wait until it has gone (fails the
 * test after 10 s). */
void tt_kill_backend(PGconn *pg, int pid);

/* Monotonic clock in seconds. */
double tt_now(void);

/* Sleep for ms milliseconds. */
void tt_sleep_ms(int ms);

/* How many txq_wake notifications w (which LISTENs txq_wake) received,
 * each asserted to name queue: waits up to 1 s for the first, then a
 * little more for any duplicate. */
int tt_wakes(PGconn *w, const char *queue);

/* Wait registrations no wake-up has taken yet, on every queue of pg's
 * schema (txq._wake_pending). */
long long tt_pending(PGconn *pg);

/* Whether two JSON texts are equal as jsonb (decided by the server). */
int tt_json_eq(PGconn *pg, const char *a, const char *b);

/* (json)->>key as text, parsed by the server, copied into buf ("" for
 * null or absent); fails the test unless json is a JSON object. Returns
 * buf. */
char *tt_json_get(
    PGconn *pg, const char *json, const char *key, char *buf, size_t size);

/* Text of the first column of the first row, copied into buf (fails on
 * NULL/no row). Returns buf. */
char *tt_text(PGconn *pg, char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Roll back any open transaction on pg (after a failed step). */
void tt_rollback(PGconn *pg);

/* === extensions: queues and messages through the C API === */

/* Create queue name on f->pg (opts may be NULL); fails the test on error. */
void tt_queue(tt_fixture *f, const char *name, const txq_queue_opts *opts);

/* Send a text body to queue on pg with f->c; fails the test on error.
 * Returns the message id. */
int64_t tt_send(tt_fixture *f, PGconn *pg, const char *queue, const char *body);

/* Take exactly one message from queue on pg with f->c: txq_claim when claim
 * is non-zero, else txq_receive. Fails the test unless one came. Returns
 * the array of one; free it with txq_msgs_free(msgs, 1). */
txq_msg **tt_take(tt_fixture *f, PGconn *pg, const char *queue, int claim);

/* Number of rows in the messages table of f's schema. */
long long tt_depth(tt_fixture *f);

/* Calls of the schema's function fn in pg's current transaction (pg must
 * count them: tt_role_session sets track_functions). */
long long tt_fn_calls(PGconn *pg, const char *fn);

/* A fresh login role "txq_t_<tag>_<pid>" (its name into role[size],
 * an older one of that name dropped first) granted `grant` (none when
 * NULL). */
void tt_role(
    tt_fixture *f, char *role, size_t size, const char *tag, const char *grant);

/* A session of f's schema with function calls counted, as a fresh login
 * role (its name into role[size]) granted `grant`, or as the superuser
 * when grant is NULL (role empty). End it with tt_end_role_session. */
PGconn *
tt_role_session(tt_fixture *f, char *role, size_t size, const char *grant);

/* Close pg and drop its role, if any. */
void tt_end_role_session(tt_fixture *f, PGconn *pg, const char *role);

/* === extensions: the txq command-line tool === */

/* What a run of the tool gave. */
typedef struct tt_run {
    int code;  /* exit status, or 128 + signal */
    char *out; /* stdout, NUL-terminated */
    size_t outlen;
    char *err; /* stderr, NUL-terminated */
} tt_run;

/* Free what a run captured and clear *r. */
void tt_run_free(tt_run *r);

/* Run $TXQ_BUILD_DIR/txq --db tt_dsn() args... (fork/execv, no shell) with
 * TXQ_SCHEMA = f->schema and stdin from in[0..inlen) (empty when in is
 * NULL); its exit code, stdout and stderr into *r. */
void tt_txq(tt_fixture *f,
            tt_run *r,
            const void *in,
            size_t inlen,
            const char *const *args);

/* tt_txq without the leading --db (the tool then finds its database as a
 * user's shell would: $TXQ_DB, the PG* variables). */
void tt_txq_bare(tt_fixture *f, tt_run *r, const char *const *args);

#define TT_RUN(f, r, ...) \
    tt_txq(f, r, NULL, 0, (const char *[]){__VA_ARGS__, NULL})
#define TT_RUN_IN(f, r, in, inlen, ...) \
    tt_txq(f, r, in, inlen, (const char *[]){__VA_ARGS__, NULL})

/* A run of the tool started by tt_txq_spawn, still going. */
typedef struct tt_bg {
    int pid;
    FILE *out; /* its stdout and stderr, temporary files */
    FILE *err;
} tt_bg;

/* Start the tool as tt_txq does (stdin empty) and return at once. */
void tt_txq_spawn(tt_fixture *f, tt_bg *bg, const char *const *args);

/* Wait for the run bg started to end; what it gave into *r. */
void tt_txq_wait(tt_bg *bg, tt_run *r);

#define TT_SPAWN(f, bg, ...) \
    tt_txq_spawn(f, bg, (const char *[]){__VA_ARGS__, NULL})

/* tt_txq_spawn and tt_txq (stdin empty) with --db db instead of tt_dsn(). */
void tt_txq_spawn_db(tt_fixture *f,
                     const char *db,
                     tt_bg *bg,
                     const char *const *args);
void
tt_txq_db(tt_fixture *f, const char *db, tt_run *r, const char *const *args);

#define TT_SPAWN_DB(f, db, bg, ...) \
    tt_txq_spawn_db(f, db, bg, (const char *[]){__VA_ARGS__, NULL})
#define TT_RUN_DB(f, db, r, ...) \
    tt_txq_db(f, db, r, (const char *[]){__VA_ARGS__, NULL})

/* /proc/PID/cmdline (what ps shows) with its NULs as spaces, malloc'd; ""
 * when the process has gone. */
char *tt_cmdline(int pid);

/* Run $TXQ_BUILD_DIR/txq-bench -d tt_dsn() -s f->schema args... (the
 * benchmark's C driver: tests/test_bench_smoke.c); into *r. */
void tt_bench(tt_fixture *f, tt_run *r, const char *const *args);

/* Fail the test unless the run exited 0 with nothing on stderr. */
void tt_run_ok(const tt_run *r);

/* Fail the test unless the run exited want with exactly one line
 * "txq: ..." on stderr that contains needle. */
void tt_run_error(const tt_run *r, int want, const char *needle);

/* Run the tool with args (NULL-terminated), tt_run_ok, free the run. */
void tt_txq_ok(tt_fixture *f, const char *const *args);

/* Run the tool with args (NULL-terminated), tt_run_error, free the run. */
void tt_txq_fails(tt_fixture *f,
                  int want,
                  const char *needle,
                  const char *const *args);

#define TT_RUN_OK(f, ...) tt_txq_ok(f, (const char *[]){__VA_ARGS__, NULL})
#define TT_RUN_FAILS(f, want, needle, ...) \
    tt_txq_fails(f, want, needle, (const char *[]){__VA_ARGS__, NULL})

/* Number of lines (newlines) in s. */
int tt_lines(const char *s);

/* The n-th line (0-based) of s, without its newline, copied into buf;
 * fails the test when s has no such line or it does not fit. */
char *tt_line(const char *s, int n, char *buf, size_t size);

#endif /* TXQ_TT_H */
