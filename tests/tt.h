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

#endif /* TXQ_TT_H */
