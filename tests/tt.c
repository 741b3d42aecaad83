/*
 * tt.c - shared helpers of txq's cmocka tests (see tt.h).
 *
 * Needs TXQ_TEST_DSN, a conninfo to a throwaway PostgreSQL (the ctest
 * fixture pg_start provides it). Each test gets its own schema with txq
 * migrated into it; teardown drops it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tt.h"

static int schema_counter;

const char *
tt_dsn(void)
{
    const char *dsn = getenv("TXQ_TEST_DSN");

    if (dsn == NULL || dsn[0] == '\0') {
        fprintf(stderr, "TXQ_TEST_DSN is not set: run the tests with ctest "
                        "(its pg_start fixture starts PostgreSQL) or "
                        "./run test\n");
        exit(1);
    }
    return dsn;
}

/* Connect and prepare a session; on error put the reason in err. */
static PGconn *
connect_session(const char *schema, char *err, size_t errsize)
{
    PGconn *pg = PQconnectdb(tt_dsn());
    PGresult *res;
    char *ident = NULL;
    char sql[256];

    if (PQstatus(pg) != CONNECTION_OK) {
        snprintf(err, errsize, "cannot connect to \"%s\": %s", tt_dsn(),
                 PQerrorMessage(pg));
        PQfinish(pg);
        return NULL;
    }
    res = PQexec(pg, "set client_min_messages = warning");
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        goto fail;
    PQclear(res);
    res = NULL;
    if (schema != NULL) {
        ident = PQescapeIdentifier(pg, schema, strlen(schema));
        if (ident == NULL)
            goto fail;
        snprintf(sql, sizeof(sql), "set search_path = %s", ident);
        PQfreemem(ident);
        res = PQexec(pg, sql);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            goto fail;
        PQclear(res);
    }
    return pg;

fail:
    snprintf(err, errsize, "cannot set up a session on \"%s\": %s", tt_dsn(),
             PQerrorMessage(pg));
    PQclear(res);
    PQfinish(pg);
    return NULL;
}

PGconn *
tt_connect(const char *schema)
{
    char err[512];
    PGconn *pg = connect_session(schema, err, sizeof(err));

    if (pg == NULL)
        fail_msg("%s", err);
    return pg;
}

PGconn *
tt_child_connect(const char *schema)
{
    char err[512];
    PGconn *pg = connect_session(schema, err, sizeof(err));

    if (pg == NULL)
        fprintf(stderr, "child %d: %s\n", (int)getpid(), err);
    return pg;
}

int
tt_setup(void **state)
{
    tt_fixture *f = calloc(1, sizeof(*f));
    txq_err rc;

    assert_non_null(f);
    snprintf(f->schema, sizeof(f->schema), "txq_t_%d_%d", (int)getpid(),
             ++schema_counter);
    f->pg = tt_connect(NULL);
    tt_exec(f->pg, "drop schema if exists %s cascade", f->schema);
    tt_exec(f->pg, "create schema %s", f->schema);
    f->c = txq_client_new(TXQ_OPTIONS(.schema = f->schema));
    assert_non_null(f->c);
    rc = txq_migrate(f->c, f->pg, NULL);
    if (rc != TXQ_OK) {
        char msg[512];

        snprintf(msg, sizeof(msg), "%s", txq_errmsg(f->c));
        tt_exec(f->pg, "drop schema if exists %s cascade", f->schema);
        txq_client_free(f->c);
        PQfinish(f->pg);
        free(f);
        fail_msg("txq_migrate failed: %s (%s)", txq_strerror(rc), msg);
    }
    tt_exec(f->pg, "set search_path = %s", f->schema);
    *state = f;
    return 0;
}

int
tt_setup_jobs(void **state)
{
    tt_setup(state);
    tt_queue(*state, "jobs", NULL);
    return 0;
}

int
tt_teardown(void **state)
{
    tt_fixture *f = *state;
    PGconn *pg;

    if (f == NULL)
        return 0;
    /* The test may have left a transaction open or broken the session. */
    pg = f->pg;
    if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
        PQfinish(pg);
        pg = tt_connect(NULL);
        f->pg = pg;
    }
    tt_rollback(pg);
    tt_exec(pg, "set client_min_messages = warning");
    tt_exec(pg, "drop schema if exists %s cascade", f->schema);
    /* Side schemas a test made next to its own (<schema>_<suffix>). */
    tt_exec(pg,
            "do $$ declare s text; begin for s in select nspname from "
            "pg_namespace where starts_with(nspname, '%s_') loop execute "
            "format('drop schema %%I cascade', s); end loop; end $$",
            f->schema);
    txq_client_free(f->c);
    PQfinish(pg);
    free(f);
    *state = NULL;
    return 0;
}

/* Format into a malloc'd string. */
static char *vformat(const char *fmt, va_list ap)
    __attribute__((format(printf, 1, 0)));

static char *
vformat(const char *fmt, va_list ap)
{
    va_list ap2;
    int n;
    char *s;

    va_copy(ap2, ap);
    n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    assert_true(n >= 0);
    s = malloc((size_t)n + 1);
    assert_non_null(s);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

static PGresult *vquery(PGconn *pg, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static PGresult *
vquery(PGconn *pg, const char *fmt, va_list ap)
{
    char *sql = vformat(fmt, ap);
    PGresult *res = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(res);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char msg[1024];

        snprintf(msg, sizeof(msg), "SQL failed: %s\n  in: %.400s",
                 PQerrorMessage(pg), sql);
        PQclear(res);
        free(sql);
        fail_msg("%s", msg);
    }
    free(sql);
    return res;
}

void
tt_exec(PGconn *pg, const char *fmt, ...)
{
    va_list ap;
    PGresult *res;

    va_start(ap, fmt);
    res = vquery(pg, fmt, ap);
    va_end(ap);
    PQclear(res);
}

PGresult *
tt_query(PGconn *pg, const char *fmt, ...)
{
    va_list ap;
    PGresult *res;

    va_start(ap, fmt);
    res = vquery(pg, fmt, ap);
    va_end(ap);
    return res;
}

long long
tt_scalar(PGconn *pg, const char *fmt, ...)
{
    va_list ap;
    PGresult *res;
    long long v;

    va_start(ap, fmt);
    res = vquery(pg, fmt, ap);
    va_end(ap);
    if (PQntuples(res) < 1 || PQnfields(res) < 1 || PQgetisnull(res, 0, 0)) {
        PQclear(res);
        fail_msg("tt_scalar: no row or NULL");
    }
    v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return v;
}

char *
tt_text(PGconn *pg, char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    PGresult *res;

    va_start(ap, fmt);
    res = vquery(pg, fmt, ap);
    va_end(ap);
    if (PQntuples(res) < 1 || PQnfields(res) < 1 || PQgetisnull(res, 0, 0)) {
        PQclear(res);
        fail_msg("tt_text: no row or NULL");
    }
    snprintf(buf, size, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return buf;
}

const char *
tt_fails(PGconn *pg, char *msg, size_t msgsize, const char *fmt, ...)
{
    static char state[6];
    va_list ap;
    char *sql;
    PGresult *res;
    ExecStatusType st;
    const char *code;

    va_start(ap, fmt);
    sql = vformat(fmt, ap);
    va_end(ap);
    res = PQexec(pg, sql);
    st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        char text[512];

        snprintf(text, sizeof(text), "SQL should have failed: %.400s", sql);
        PQclear(res);
        free(sql);
        fail_msg("%s", text);
    }
    free(sql);
    code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    snprintf(state, sizeof(state), "%s", code != NULL ? code : "");
    if (msg != NULL && msgsize > 0)
        snprintf(msg, msgsize, "%s", PQerrorMessage(pg));
    PQclear(res);
    return state;
}

int
tt_pid(PGconn *pg)
{
    return PQbackendPID(pg);
}

void
tt_rollback(PGconn *pg)
{
    PGresult *res;

    if (PQtransactionStatus(pg) == PQTRANS_IDLE)
        return;
    res = PQexec(pg, "rollback");
    PQclear(res);
}

int
tt_fork(int (*fn)(void *arg), void *arg)
{
    pid_t pid;

    /* Nothing buffered may be written twice. */
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fn(arg));
    return (int)pid;
}

int
tt_wait(int pid)
{
    int status = 0;
    pid_t r;

    do {
        r = waitpid((pid_t)pid, &status, 0);
    } while (r < 0 && errno == EINTR);
    assert_int_equal(r, pid);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 255;
}

double
tt_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
tt_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000,
                          .tv_nsec = (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int
tt_wakes(PGconn *w, const char *queue)
{
    PGnotify *nf;
    int wakes = 0, after = 0;

    for (int i = 0; i < 50 && after < 3; i++) {
        tt_sleep_ms(20);
        tt_exec(w, "select 1");
        while ((nf = PQnotifies(w)) != NULL) {
            assert_string_equal(nf->relname, "txq_wake");
            /* Tests running beside this one wake their own queues on the
             * same channel. */
            if (strcmp(nf->extra, queue) == 0)
                wakes++;
            PQfreemem(nf);
        }
        if (wakes > 0)
            after++;
    }
    return wakes;
}

long long
tt_pending(PGconn *pg)
{
    return tt_scalar(pg,
                     "select coalesce(sum(_wake_pending(q)), 0) from queues q");
}

void
tt_kill_backend(PGconn *pg, int pid)
{
    double until = tt_now() + 10.0;

    assert_int_equal(tt_scalar(pg, "select pg_terminate_backend(%d)::int", pid),
                     1);
    while (tt_scalar(pg, "select count(*) from pg_stat_activity where pid = %d",
                     pid) > 0) {
        if (tt_now() > until)
            fail_msg("backend %d still alive 10 s after terminate", pid);
        tt_sleep_ms(10);
    }
}

int
tt_json_eq(PGconn *pg, const char *a, const char *b)
{
    const char *params[2] = {a, b};
    PGresult *res = PQexecParams(pg, "select ($1::jsonb = $2::jsonb)::int", 2,
                                 NULL, params, NULL, NULL, 0);
    int eq;

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        char msg[512];

        snprintf(msg, sizeof(msg), "tt_json_eq: %s", PQerrorMessage(pg));
        PQclear(res);
        fail_msg("%s", msg);
    }
    eq = strcmp(PQgetvalue(res, 0, 0), "1") == 0;
    PQclear(res);
    return eq;
}

void
tt_queue(tt_fixture *f, const char *name, const txq_queue_opts *opts)
{
    assert_txq_ok(f->c, txq_queue_create(f->c, f->pg, name, opts));
}

int64_t
tt_send(tt_fixture *f, PGconn *pg, const char *queue, const char *body)
{
    int64_t id = 0;

    assert_txq_ok(f->c,
                  txq_send(f->c, pg, queue, body, strlen(body), NULL, &id));
    assert_true(id > 0);
    return id;
}

txq_msg **
tt_take(tt_fixture *f, PGconn *pg, const char *queue, int claim)
{
    txq_msg **msgs = NULL;
    size_t n = 0;
    txq_err rc = claim ? txq_claim(f->c, pg, queue, 1, NULL, &msgs, &n)
                       : txq_receive(f->c, pg, queue, 1, NULL, &msgs, &n);

    assert_txq_ok(f->c, rc);
    assert_non_null(msgs);
    assert_int_equal(n, 1);
    return msgs;
}

long long
tt_depth(tt_fixture *f)
{
    return tt_scalar(f->pg, "select count(*) from %s.messages", f->schema);
}

long long
tt_fn_calls(PGconn *pg, const char *fn)
{
    return tt_scalar(pg,
                     "select coalesce(sum(calls), 0) from "
                     "pg_stat_xact_user_functions where schemaname = "
                     "current_schema() and funcname = '%s'",
                     fn);
}

void
tt_role(
    tt_fixture *f, char *role, size_t size, const char *tag, const char *grant)
{
    snprintf(role, size, "txq_t_%s_%d", tag, (int)getpid());
    tt_exec(f->pg, "drop role if exists %s", role);
    tt_exec(f->pg, "create role %s login", role);
    if (grant != NULL)
        tt_exec(f->pg, "grant %s to %s", grant, role);
}

PGconn *
tt_role_session(tt_fixture *f, char *role, size_t size, const char *grant)
{
    PGconn *pg = tt_connect(f->schema);

    tt_exec(pg, "set track_functions = 'all'");
    /* A failed assertion leaves pg's transaction open: end it soon, so the
     * teardown's drop schema does not wait for it forever. */
    tt_exec(pg, "set idle_in_transaction_session_timeout = '3s'");
    role[0] = '\0';
    if (grant != NULL) {
        tt_role(f, role, size, "role", grant);
        tt_exec(pg, "set role %s", role);
    }
    return pg;
}

void
tt_end_role_session(tt_fixture *f, PGconn *pg, const char *role)
{
    PQfinish(pg);
    if (role[0] != '\0')
        tt_exec(f->pg, "drop role %s", role);
}

void
tt_run_free(tt_run *r)
{
    free(r->out);
    free(r->err);
    memset(r, 0, sizeof *r);
}

/* The whole of a temporary file as a NUL-terminated malloc'd string, its
 * length into *len (when not NULL); closes fp. */
static char *
slurp(FILE *fp, size_t *len)
{
    long size;
    char *buf;

    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    size = ftell(fp);
    assert_true(size >= 0);
    rewind(fp);
    buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)size, fp), (size_t)size);
    buf[size] = '\0';
    if (len != NULL)
        *len = (size_t)size;
    fclose(fp);
    return buf;
}

/* Start $TXQ_BUILD_DIR/tool head... args... (fork/execv, no shell) with
 * TXQ_SCHEMA = f->schema and stdin from in[0..inlen); its pid and output
 * files into *bg. */
static void
spawn_tool(tt_fixture *f,
           tt_bg *bg,
           const char *tool,
           const char *const *head,
           const void *in,
           size_t inlen,
           const char *const *args)
{
    const char *dir = getenv("TXQ_BUILD_DIR");
    char path[4096];
    char **argv;
    size_t n = 0, nh = 0;
    FILE *fin = tmpfile();

    if (dir == NULL || dir[0] == '\0')
        fail_msg("TXQ_BUILD_DIR is not set (ctest sets it)");
    snprintf(path, sizeof path, "%s/%s", dir, tool);
    bg->out = tmpfile();
    bg->err = tmpfile();
    assert_true(fin != NULL && bg->out != NULL && bg->err != NULL);
    if (inlen > 0)
        assert_int_equal(fwrite(in, 1, inlen, fin), inlen);
    assert_int_equal(fflush(fin), 0);
    rewind(fin);

    while (head[nh] != NULL)
        nh++;
    while (args[n] != NULL)
        n++;
    argv = calloc(1 + nh + n + 1, sizeof *argv);
    assert_non_null(argv);
    argv[0] = strdup(path);
    for (size_t i = 0; i < nh; i++)
        argv[1 + i] = strdup(head[i]);
    for (size_t i = 0; i < n; i++)
        argv[1 + nh + i] = strdup(args[i]);
    for (size_t i = 0; i < 1 + nh + n; i++)
        assert_non_null(argv[i]);

    fflush(stdout);
    fflush(stderr);
    bg->pid = fork();
    assert_true(bg->pid >= 0);
    if (bg->pid == 0) {
        if (dup2(fileno(fin), 0) < 0 || dup2(fileno(bg->out), 1) < 0 ||
            dup2(fileno(bg->err), 2) < 0 || setenv("TXQ_SCHEMA", f->schema, 1))
            _exit(126);
        execv(path, argv);
        _exit(127);
    }
    for (size_t i = 0; i < 1 + nh + n; i++)
        free(argv[i]);
    free(argv);
    fclose(fin);
}

void
tt_txq_wait(tt_bg *bg, tt_run *r)
{
    int status;

    assert_int_equal(waitpid(bg->pid, &status, 0), bg->pid);
    r->code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r->out = slurp(bg->out, &r->outlen);
    r->err = slurp(bg->err, NULL);
    memset(bg, 0, sizeof *bg);
}

void
tt_txq_spawn_db(tt_fixture *f,
                const char *db,
                tt_bg *bg,
                const char *const *args)
{
    const char *head[] = {"--db", db, NULL};

    spawn_tool(f, bg, "txq", head, NULL, 0, args);
}

void
tt_txq_spawn(tt_fixture *f, tt_bg *bg, const char *const *args)
{
    tt_txq_spawn_db(f, tt_dsn(), bg, args);
}

void
tt_txq_db(tt_fixture *f, const char *db, tt_run *r, const char *const *args)
{
    tt_bg bg;

    tt_txq_spawn_db(f, db, &bg, args);
    tt_txq_wait(&bg, r);
}

void
tt_txq(tt_fixture *f,
       tt_run *r,
       const void *in,
       size_t inlen,
       const char *const *args)
{
    const char *head[] = {"--db", tt_dsn(), NULL};
    tt_bg bg;

    spawn_tool(f, &bg, "txq", head, in, inlen, args);
    tt_txq_wait(&bg, r);
}

void
tt_txq_bare(tt_fixture *f, tt_run *r, const char *const *args)
{
    const char *head[] = {NULL};
    tt_bg bg;

    spawn_tool(f, &bg, "txq", head, NULL, 0, args);
    tt_txq_wait(&bg, r);
}

void
tt_bench(tt_fixture *f, tt_run *r, const char *const *args)
{
    const char *head[] = {"-d", tt_dsn(), "-s", f->schema, NULL};
    tt_bg bg;

    spawn_tool(f, &bg, "txq-bench", head, NULL, 0, args);
    tt_txq_wait(&bg, r);
}

void
tt_run_ok(const tt_run *r)
{
    if (r->code != 0 || r->err[0] != '\0')
        fail_msg("txq exited %d: %s", r->code, r->err);
}

void
tt_run_error(const tt_run *r, int want, const char *needle)
{
    const char *nl = strchr(r->err, '\n');

    if (r->code != want)
        fail_msg("want exit %d, got %d (stderr: %s)", want, r->code, r->err);
    if (strncmp(r->err, "txq: ", 5) != 0 || nl == NULL || nl[1] != '\0')
        fail_msg("stderr is not one \"txq: \" line: [%s]", r->err);
    if (strstr(r->err, needle) == NULL)
        fail_msg("stderr does not mention \"%s\": %s", needle, r->err);
}

void
tt_txq_ok(tt_fixture *f, const char *const *args)
{
    tt_run r;

    tt_txq(f, &r, NULL, 0, args);
    tt_run_ok(&r);
    tt_run_free(&r);
}

void
tt_txq_fails(tt_fixture *f,
             int want,
             const char *needle,
             const char *const *args)
{
    tt_run r;

    tt_txq(f, &r, NULL, 0, args);
    tt_run_error(&r, want, needle);
    tt_run_free(&r);
}

int
tt_lines(const char *s)
{
    int n = 0;

    for (; *s != '\0'; s++)
        n += *s == '\n';
    return n;
}

char *
tt_line(const char *s, int n, char *buf, size_t size)
{
    const char *end;

    while (n-- > 0) {
        s = strchr(s, '\n');
        assert_non_null(s);
        s++;
    }
    end = strchr(s, '\n');
    assert_non_null(end);
    assert_true((size_t)(end - s) < size);
    memcpy(buf, s, (size_t)(end - s));
    buf[end - s] = '\0';
    return buf;
}

char *
tt_cmdline(int pid)
{
    char path[64];
    FILE *fp;
    char *buf = calloc(1, 8192);
    size_t n = 0;

    assert_non_null(buf);
    snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
    if ((fp = fopen(path, "r")) != NULL) {
        n = fread(buf, 1, 8191, fp);
        fclose(fp);
    }
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[n] = '\0';
    return buf;
}

char *
tt_json_get(
    PGconn *pg, const char *json, const char *key, char *buf, size_t size)
{
    const char *params[2] = {json, key};
    PGresult *res = PQexecParams(
        pg, "select coalesce($1::jsonb ->> $2, ''), jsonb_typeof($1::jsonb)", 2,
        NULL, params, NULL, NULL, 0);

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        char msg[512];

        snprintf(msg, sizeof msg, "not JSON: %s (%s)", json,
                 PQerrorMessage(pg));
        PQclear(res);
        fail_msg("%s", msg);
    }
    assert_string_equal(PQgetvalue(res, 0, 1), "object");
    snprintf(buf, size, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return buf;
}
