/*
 * test_tls.c - txq over TLS, against a server that takes nothing else
 * (tests/pg_tls_fixture.sh: ssl = on, hostssl lines only, 127.0.0.1 only,
 * certificates of a throwaway CA made with openssl).
 *
 * With sslmode=verify-full and the CA, as txq_tls_pw (a scram-sha-256
 * password) and as txq_tls_cert (a client certificate, cert with
 * clientcert=verify-full): the txq tool migrates, sends and receives;
 * txq-worker handles messages, given the conninfo with --db, or in the ini
 * file's db with PGSSL* variables and an encrypted client key (whose
 * sslpassword is kept out of ps and makes a readable ini file refused); a
 * libtxq program sends, receives and acks. pg_stat_ssl (joined to
 * pg_stat_activity) shows each of their sessions encrypted, with the
 * client certificate's name where one was used, and a session of the
 * fixture's plaintext server unencrypted.
 *
 * Refused, with libpq's message (the tool exits 1 and prints it, the
 * worker exits 1 at its startup timeout): a server certificate for
 * another host name (the server reloaded with it), one of a CA the client
 * does not trust, a server without TLS, a client without TLS (no
 * pg_hba.conf entry), a wrong password, a missing or another's client
 * certificate.
 *
 * Needs TXQ_TEST_DSN (the superuser's verify-full conninfo), TXQ_TLS_DIR,
 * TXQ_TLS_PORT and TXQ_TLS_PLAIN_PORT: ctest's pg_tls_start fixture
 * provides them (`tests/pg_tls_fixture.sh env BUILD_DIR` prints them).
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

/* The fixture's directory, ports and the secrets it made. */
static char dir[128];
static char port[16];
static char plain_port[16];
static char password[80];    /* txq_tls_pw's */
static char sslpassword[80]; /* of client/txq_tls_cert.enc.key */

/* A login role of the fixture's pg_hba.conf. */
typedef struct tls_role {
    const char *name;
    int cert; /* authenticates with a client certificate, else a password */
} tls_role;

/* Not const: cmocka's prestate is a void *. */
static tls_role role_pw = {"txq_tls_pw", 0};
static tls_role role_cert = {"txq_tls_cert", 1};

/* Per-test state. */
typedef struct tls_test {
    tt_fixture *f;        /* tt's: a migrated schema, the superuser's TLS
                             session */
    tt_fixture own;       /* <f->schema>_own, owned by role (unmigrated);
                             own.pg is f->pg, own.c a client of it */
    const tls_role *role; /* the cmocka prestate; txq_tls_pw when none */
    wt_dir dir;
    char log[128]; /* txq-worker's output */
    pid_t worker;  /* running, or 0 */
    int reloaded;  /* the server shows another certificate: put it back */
} tls_test;

/* The first line of client/<name> (a secret the fixture made) into buf. */
static void
read_secret(const char *name, char *buf, size_t size)
{
    char path[512];
    FILE *fp;

    snprintf(path, sizeof path, "%s/client/%s", dir, name);
    if ((fp = fopen(path, "r")) == NULL || fgets(buf, (int)size, fp) == NULL) {
        fprintf(stderr, "test_tls: cannot read %s\n", path);
        exit(1);
    }
    fclose(fp);
    buf[strcspn(buf, "\r\n")] = '\0';
}

/* The environment the fixture gives, or exit(1) saying how to get it. */
static void
read_fixture(void)
{
    const char *d = getenv("TXQ_TLS_DIR"), *p = getenv("TXQ_TLS_PORT"),
               *pp = getenv("TXQ_TLS_PLAIN_PORT");

    tt_dsn();
    if (d == NULL || p == NULL || pp == NULL) {
        fprintf(stderr, "TXQ_TLS_DIR, TXQ_TLS_PORT or TXQ_TLS_PLAIN_PORT is "
                        "not set: run the test with ctest (its pg_tls_start "
                        "fixture starts the TLS server)\n");
        exit(1);
    }
    snprintf(dir, sizeof dir, "%s", d);
    snprintf(port, sizeof port, "%s", p);
    snprintf(plain_port, sizeof plain_port, "%s", pp);
    read_secret("password", password, sizeof password);
    read_secret("sslpassword", sslpassword, sizeof sslpassword);
}

/* role's conninfo to the TLS server, verify-full with the fixture's CA,
 * then extra (a later keyword wins: "port=..." points it at the plaintext
 * server), into buf. Returns buf. */
static char *
conninfo(char *buf, size_t size, const tls_role *role, const char *extra)
{
    int n;

    if (role->cert)
        n = snprintf(buf, size,
                     "host=localhost port=%s dbname=postgres user=%s "
                     "sslmode=verify-full sslrootcert=%s/client/ca.crt "
                     "sslcert=%s/client/%s.crt sslkey=%s/client/%s.key %s",
                     port, role->name, dir, dir, role->name, dir, role->name,
                     extra);
    else
        n = snprintf(buf, size,
                     "host=localhost port=%s dbname=postgres user=%s "
                     "password=%s sslmode=verify-full "
                     "sslrootcert=%s/client/ca.crt %s",
                     port, role->name, password, dir, extra);
    assert_true(n > 0 && (size_t)n < size);
    return buf;
}

/* A session of role (its conninfo plus extra); NULL with libpq's message
 * in err when it cannot connect. */
static PGconn *
try_connect(const tls_role *role, const char *extra, char *err, size_t size)
{
    char db[1024];
    PGconn *pg = PQconnectdb(conninfo(db, sizeof db, role, extra));

    if (PQstatus(pg) == CONNECTION_OK)
        return pg;
    snprintf(err, size, "%s", PQerrorMessage(pg));
    PQfinish(pg);
    return NULL;
}

/* A session of role; fails the test when it cannot connect. */
static PGconn *
role_connect(const tls_role *role, const char *extra)
{
    char err[1024];
    PGconn *pg = try_connect(role, extra, err, sizeof err);

    if (pg == NULL)
        fail_msg("%s cannot connect: %s", role->name, err);
    return pg;
}

/* Make the TLS server show server/<name>.crt (its postgresql.conf one when
 * name is NULL) to new connections: ALTER SYSTEM and a reload, from a
 * superuser session that checks the CA but not the host name; then wait
 * until a verify-full connection fails on the host name (or, for the
 * server's own certificate, succeeds again). */
static void
server_cert(const char *name)
{
    char db[1024], err[1024];
    double end = tt_now() + 10;
    PGconn *su, *pg;

    snprintf(db, sizeof db, "%s sslmode=verify-ca", tt_dsn());
    su = PQconnectdb(db);
    if (PQstatus(su) != CONNECTION_OK) {
        snprintf(err, sizeof err, "%s", PQerrorMessage(su));
        PQfinish(su);
        fail_msg("superuser cannot connect: %s", err);
    }
    if (name != NULL) {
        tt_exec(su, "alter system set ssl_cert_file = '%s/server/%s.crt'", dir,
                name);
        tt_exec(su, "alter system set ssl_key_file = '%s/server/%s.key'", dir,
                name);
    } else {
        tt_exec(su, "alter system reset ssl_cert_file");
        tt_exec(su, "alter system reset ssl_key_file");
    }
    tt_exec(su, "select pg_reload_conf()");
    PQfinish(su);
    for (;;) {
        pg = try_connect(&role_pw, "", err, sizeof err);
        PQfinish(pg);
        if (name == NULL ? pg != NULL
                         : strstr(err, "does not match host name") != NULL)
            return;
        if (tt_now() > end)
            fail_msg("the server did not take %s.crt: %s",
                     name != NULL ? name : "server",
                     pg != NULL ? "verify-full still connects" : err);
        tt_sleep_ms(20);
    }
}

static int
setup(void **state)
{
    tls_test *t = calloc(1, sizeof *t);

    assert_non_null(t);
    t->role = *state != NULL ? *state : &role_pw;
    tt_setup(state);
    t->f = *state;
    snprintf(t->own.schema, sizeof t->own.schema, "%.56s_own", t->f->schema);
    tt_exec(t->f->pg, "create schema %s authorization %s", t->own.schema,
            t->role->name);
    t->own.pg = t->f->pg;
    t->own.c = txq_client_new(TXQ_OPTIONS(.schema = t->own.schema));
    assert_non_null(t->own.c);
    wt_mkdir(&t->dir);
    wt_path(&t->dir, "worker.log", t->log, sizeof t->log);
    *state = t;
    return 0;
}

/* Kills a worker still running, puts the server's certificate back, and
 * drops both schemas (tt_teardown: <schema>_own too). WT_SHOW_LOG prints
 * the worker's output. */
static int
teardown(void **state)
{
    tls_test *t = *state;

    if (t->worker > 0) {
        kill(-t->worker, SIGKILL);
        wt_waitpid(t->worker, 5);
    }
    if (t->reloaded)
        server_cert(NULL);
    if (getenv("WT_SHOW_LOG") != NULL) {
        char *s = wt_read(t->log);

        fprintf(stderr, "%s", s);
        free(s);
    }
    wt_rmdir(&t->dir);
    txq_client_free(t->own.c);
    *state = t->f;
    tt_teardown(state);
    free(t);
    return 0;
}

/* As t's role over TLS: migrate its schema, and make there a queue jobs
 * with quick retries, a table biz and the sql: handler h_ok, which inserts
 * each message's id and body into biz. */
static void
own_prepare(tls_test *t)
{
    PGconn *pg = role_connect(t->role, "");

    assert_txq_ok(t->own.c, txq_migrate(t->own.c, pg, NULL));
    tt_exec(pg, "set search_path = %s", t->own.schema);
    tt_exec(pg, "select create_queue('jobs', i_backoff_base => '0.01 s', "
                "i_backoff_cap => '0.05 s', i_max_attempts => 3)");
    tt_exec(pg, "create table biz (msg bigint, body text)");
    tt_exec(pg,
            "create function h_ok(m message) returns void language plpgsql "
            "as $$ begin insert into %s.biz values (m.id, "
            "convert_from(m.body, 'UTF8')); end $$",
            t->own.schema);
    PQfinish(pg);
}

/* Wait (20 s at most) until t's role has at least `want` sessions whose
 * application_name is like app; then every one of them is encrypted
 * (pg_stat_ssl.ssl, TLS 1.2 or 1.3) and shows the client certificate's
 * name, or none for the password role. */
static void
assert_tls_sessions(tls_test *t, const char *app, long long want)
{
    double end = tt_now() + 20;
    char dn[80], counts[64];
    long long n, enc;

    snprintf(dn, sizeof dn, "'/CN=%s'", t->role->name);
    while ((n = tt_scalar(t->f->pg,
                          "select count(*) from pg_stat_activity where "
                          "usename = '%s' and application_name like '%s'",
                          t->role->name, app)) < want) {
        if (tt_now() > end)
            fail_msg("%lld sessions of %s named like %s, want %lld", n,
                     t->role->name, app, want);
        tt_sleep_ms(20);
    }
    /* One statement: one snapshot of both views. */
    tt_text(t->f->pg, counts, sizeof counts,
            "select count(*) filter (where s.ssl and s.version in "
            "('TLSv1.2', 'TLSv1.3') and s.client_dn is not distinct from "
            "%s) || ' ' || count(*) from pg_stat_activity a join "
            "pg_stat_ssl s using (pid) where a.usename = '%s' and "
            "a.application_name like '%s'",
            t->role->cert ? dn : "null", t->role->name, app);
    assert_int_equal(sscanf(counts, "%lld %lld", &enc, &n), 2);
    if (enc != n)
        fail_msg("%lld of %lld sessions of %s named like %s are encrypted "
                 "(TLS 1.2 or 1.3, client certificate %s)",
                 enc, n, t->role->name, app, t->role->cert ? dn : "none");
}

/* The body of the n-th JSON line of out ("" when none). */
static char *
body_of(tls_test *t, const char *out, int n, char *buf, size_t size)
{
    char line[1024];

    return tt_json_get(t->f->pg, tt_line(out, n, line, sizeof line), "body",
                       buf, size);
}

/* The tool, as t's role with conninfo(extra), fails with exit 1 and one
 * line "txq: ..." that holds needle. */
static void
cli_refused(tls_test *t,
            const tls_role *role,
            const char *extra,
            const char *needle)
{
    char db[1024];
    tt_run r;

    TT_RUN_DB(&t->own, conninfo(db, sizeof db, role, extra), &r, "queue",
              "list");
    tt_run_error(&r, 1, needle);
    assert_non_null(strstr(r.err, "txq: cannot connect: "));
    tt_run_free(&r);
}

/* Start txq-worker for t's schema with --db db (none when NULL) and args;
 * with env, PGSSLMODE, PGSSLROOTCERT and PGSSLCERT (the cert role's) set
 * for it alone. */
static pid_t
worker_start(tls_test *t, const char *db, int env, const char *const *args)
{
    char ca[300], crt[300];
    pid_t pid;

    if (env) {
        snprintf(ca, sizeof ca, "%s/client/ca.crt", dir);
        snprintf(crt, sizeof crt, "%s/client/%s.crt", dir, role_cert.name);
        setenv("PGSSLMODE", "verify-full", 1);
        setenv("PGSSLROOTCERT", ca, 1);
        setenv("PGSSLCERT", crt, 1);
    }
    pid = wt_start_db(db, t->own.schema, t->log, args);
    if (env) {
        unsetenv("PGSSLMODE");
        unsetenv("PGSSLROOTCERT");
        unsetenv("PGSSLCERT");
    }
    return pid;
}

/* worker_start, then wait for its end (wt_run_to_end): its exit code. */
static int
worker_run(tls_test *t, const char *db, int env, const char *const *args)
{
    return wt_run_to_end(worker_start(t, db, env, args));
}

/* Fail unless the worker's output holds needle, its quotes escaped as
 * logfmt writes them. */
static void
log_has(tls_test *t, const char *needle)
{
    char *log = wt_read(t->log), esc[512];
    size_t n = 0;

    for (; *needle != '\0' && n + 2 < sizeof esc; needle++) {
        if (*needle == '"')
            esc[n++] = '\\';
        esc[n++] = *needle;
    }
    esc[n] = '\0';
    if (strstr(log, esc) == NULL)
        fail_msg("the worker's output lacks %s:\n%.2000s", esc, log);
    free(log);
}

/* The worker, at its startup timeout, and the tool give up on conninfo
 * (extra) with libpq's message holding needle. */
static void
both_refused(tls_test *t, const char *extra, const char *needle)
{
    char db[1024];
    const char *args[] = {"--handle", "jobs=sql:nowhere.h", "--startup-timeout",
                          "0.3", NULL};

    cli_refused(t, t->role, extra, needle);
    wt_write(t->log, "");
    conninfo(db, sizeof db, t->role, extra);
    assert_int_equal(worker_run(t, db, 0, args), 1);
    log_has(t, "no connection after 0.3s (startup_timeout)");
    log_has(t, needle);
}

/* === it works, encrypted === */

/* The tool: migrate, queue create, send, recv --ack, and a long poll
 * whose session pg_stat_ssl shows encrypted. The cert role's poll uses
 * the encrypted key: its sslpassword stays out of ps. */
static void
test_cli(void **state)
{
    tls_test *t = *state;
    char db[1024], poll[1400], extra[512], v[64];
    tt_run r;
    tt_bg bg;

    conninfo(db, sizeof db, t->role, "");
    TT_RUN_DB(&t->own, db, &r, "migrate");
    tt_run_ok(&r);
    assert_non_null(strstr(r.out, t->own.schema));
    tt_run_free(&r);
    TT_RUN_DB(&t->own, db, &r, "queue", "create", "jobs");
    tt_run_ok(&r);
    tt_run_free(&r);
    TT_RUN_DB(&t->own, db, &r, "send", "jobs", "over tls");
    tt_run_ok(&r);
    tt_run_free(&r);
    TT_RUN_DB(&t->own, db, &r, "recv", "jobs", "--ack");
    tt_run_ok(&r);
    assert_string_equal(body_of(t, r.out, 0, v, sizeof v), "over tls");
    tt_run_free(&r);
    assert_int_equal(
        tt_scalar(t->f->pg, "select count(*) from %s.messages", t->own.schema),
        0);

    if (t->role->cert)
        snprintf(extra, sizeof extra,
                 "sslkey=%s/client/txq_tls_cert.enc.key sslpassword=%s "
                 "application_name=txq_tls_cli",
                 dir, sslpassword);
    else
        snprintf(extra, sizeof extra, "application_name=txq_tls_cli");
    TT_SPAWN_DB(&t->own, conninfo(poll, sizeof poll, t->role, extra), &bg,
                "recv", "jobs", "--wait", "30");
    assert_tls_sessions(t, "txq_tls_cli", 1);
    if (t->role->cert) {
        char *got = tt_cmdline(bg.pid);

        /* Under valgrind /proc shows valgrind's own copy of argv. */
        if (strstr(got, "valgrind") == NULL) {
            assert_non_null(strstr(got, "sslpassword="));
            if (strstr(got, sslpassword) != NULL)
                fail_msg("txq's argv holds the sslpassword: %s", got);
        }
        free(got);
    }
    tt_send(&t->own, t->f->pg, "jobs", "wake");
    tt_txq_wait(&bg, &r);
    tt_run_ok(&r);
    assert_string_equal(body_of(t, r.out, 0, v, sizeof v), "wake");
    tt_run_free(&r);
}

/* A libtxq program on its own PQconnectdb: send, receive and ack in a
 * transaction, on a session libpq and the server both call encrypted. */
static void
test_libtxq(void **state)
{
    tls_test *t = *state;
    PGconn *pg = role_connect(t->role, "");
    txq_client *c = txq_client_new(TXQ_OPTIONS(.schema = t->own.schema));
    txq_msg **msgs = NULL;
    size_t n = 0, len = 0;
    int64_t id = 0;
    const char *protocol = PQsslAttribute(pg, "protocol");
    char want[80], got[80];

    assert_non_null(c);
    assert_int_equal(PQsslInUse(pg), 1);
    assert_non_null(protocol);
    assert_true(strcmp(protocol, "TLSv1.2") == 0 ||
                strcmp(protocol, "TLSv1.3") == 0);
    snprintf(want, sizeof want, "true %s",
             t->role->cert ? "/CN=txq_tls_cert" : "-");
    assert_string_equal(tt_text(pg, got, sizeof got,
                                "select ssl::text || ' ' || "
                                "coalesce(client_dn, '-') from pg_stat_ssl "
                                "where pid = pg_backend_pid()"),
                        want);

    assert_txq_ok(c, txq_migrate(c, pg, NULL));
    assert_txq_ok(c, txq_queue_create(c, pg, "jobs", NULL));
    assert_txq_ok(c, txq_send(c, pg, "jobs", "over tls", 8, NULL, &id));
    tt_exec(pg, "begin");
    assert_txq_ok(c, txq_receive(c, pg, "jobs", 1, NULL, &msgs, &n));
    assert_int_equal(n, 1);
    assert_int_equal(txq_msg_id(msgs[0]), id);
    assert_memory_equal(txq_msg_body(msgs[0], &len), "over tls", 8);
    assert_int_equal(len, 8);
    assert_txq_ok(c, txq_ack(c, pg, msgs[0]));
    tt_exec(pg, "commit");
    txq_msgs_free(msgs, n);
    assert_int_equal(
        tt_scalar(t->f->pg, "select count(*) from %s.messages", t->own.schema),
        0);
    txq_client_free(c);
    PQfinish(pg);
}

/* txq-worker with the conninfo in --db: it handles messages, on
 * encrypted sessions (the supervisor's and a consumer's at least). */
static void
test_worker(void **state)
{
    tls_test *t = *state;
    char db[1024], h[160], biz[160];
    const char *args[] = {"--handle", h, NULL};

    own_prepare(t);
    snprintf(h, sizeof h, "jobs=sql:%s.h_ok", t->own.schema);
    snprintf(biz, sizeof biz, "select count(*) from %s.biz", t->own.schema);
    tt_send(&t->own, t->f->pg, "jobs", "one");
    tt_send(&t->own, t->f->pg, "jobs", "two");
    t->worker = worker_start(t, conninfo(db, sizeof db, t->role, ""), 0, args);
    wt_await(t->f->pg, 2, 20, biz);
    assert_tls_sessions(t, "txq-worker%", 2);
    tt_send(&t->own, t->f->pg, "jobs", "three");
    wt_await(t->f->pg, 3, 20, biz);
    assert_int_equal(wt_stop(t->worker), 0);
    t->worker = 0;
    assert_int_equal(
        tt_scalar(t->f->pg, "select count(*) from %s.messages", t->own.schema),
        0);
}

/* txq-worker with db in its ini file (an encrypted client key and its
 * sslpassword) and sslmode, the CA and the certificate in PGSSL*
 * variables: refused while group or others may read the file; at 0600
 * --check-config shows the sslpassword masked, and the worker handles a
 * message on encrypted sessions with the client certificate. */
static void
test_worker_ini_and_env(void **state)
{
    tls_test *t = *state;
    char ini[160], text[1024], biz[160];
    const char *check[] = {"--config", ini, "--check-config", NULL};
    const char *args[] = {"--config", ini, NULL};
    char *log;

    own_prepare(t);
    wt_path(&t->dir, "worker.ini", ini, sizeof ini);
    snprintf(text, sizeof text,
             "[worker]\n"
             "db = host=localhost port=%s dbname=postgres user=%s "
             "sslkey=%s/client/txq_tls_cert.enc.key sslpassword=%s\n"
             "[queue.jobs]\n"
             "handler = sql:%s.h_ok\n",
             port, role_cert.name, dir, sslpassword, t->own.schema);
    wt_write(ini, text);
    assert_int_equal(chmod(ini, 0644), 0);
    assert_int_equal(worker_run(t, NULL, 1, check), 2);
    log_has(t, "worker.ini: holds a password (db) but its mode is 0644");

    assert_int_equal(chmod(ini, 0600), 0);
    wt_write(t->log, "");
    assert_int_equal(worker_run(t, NULL, 1, check), 0);
    log_has(t, " sslpassword=********");
    log_has(t, " sslkey=");
    log = wt_read(t->log);
    if (strstr(log, sslpassword) != NULL)
        fail_msg("--check-config shows the sslpassword:\n%s", log);
    free(log);

    snprintf(biz, sizeof biz, "select count(*) from %s.biz", t->own.schema);
    tt_send(&t->own, t->f->pg, "jobs", "one");
    t->worker = worker_start(t, NULL, 1, args);
    wt_await(t->f->pg, 1, 20, biz);
    assert_tls_sessions(t, "txq-worker%", 2);
    assert_int_equal(wt_stop(t->worker), 0);
    t->worker = 0;
}

/* === refused === */

/* A server certificate of the right CA for another host name: refused by
 * verify-full (the tool, the worker), accepted by verify-ca, which does
 * not look at the name. */
static void
test_wrong_host_name(void **state)
{
    tls_test *t = *state;

    t->reloaded = 1;
    server_cert("wrong");
    both_refused(t, "",
                 "server certificate for \"wrong.example\" does not match "
                 "host name \"localhost\"");
    PQfinish(role_connect(t->role, "sslmode=verify-ca"));
    server_cert(NULL);
    t->reloaded = 0;
    PQfinish(role_connect(t->role, ""));
}

/* A CA the client trusts did not sign the server's certificate. */
static void
test_untrusted_ca(void **state)
{
    tls_test *t = *state;
    char extra[300];

    snprintf(extra, sizeof extra, "sslrootcert=%s/client/other-ca.crt", dir);
    both_refused(t, extra, "certificate verify failed");
}

/* A server without TLS: verify-full refuses it before authentication. The
 * same role and password without TLS connect, and pg_stat_ssl says so. */
static void
test_plaintext_server(void **state)
{
    tls_test *t = *state;
    char extra[64], got[16];
    PGconn *pg;

    snprintf(extra, sizeof extra, "port=%s", plain_port);
    both_refused(t, extra, "server does not support SSL, but SSL was required");
    snprintf(extra, sizeof extra, "port=%s sslmode=disable", plain_port);
    pg = role_connect(&role_pw, extra);
    assert_int_equal(PQsslInUse(pg), 0);
    assert_string_equal(tt_text(pg, got, sizeof got,
                                "select ssl::text from pg_stat_ssl where "
                                "pid = pg_backend_pid()"),
                        "false");
    PQfinish(pg);
}

/* A client without TLS: the server has no pg_hba.conf line for it, for
 * either role. */
static void
test_plaintext_client(void **state)
{
    tls_test *t = *state;

    cli_refused(t, &role_pw, "sslmode=disable",
                "no pg_hba.conf entry for host \"127.0.0.1\", user "
                "\"txq_tls_pw\", database \"postgres\", no encryption");
    cli_refused(t, &role_cert, "sslmode=disable",
                "no pg_hba.conf entry for host \"127.0.0.1\", user "
                "\"txq_tls_cert\", database \"postgres\", no encryption");
    both_refused(t, "sslmode=disable", "no encryption");
}

/* The authentication methods are the ones pg_hba.conf names: a wrong
 * password is refused (scram-sha-256), and so are no client certificate
 * and another role's (cert). */
static void
test_authentication(void **state)
{
    tls_test *t = *state;
    char extra[512];

    cli_refused(t, &role_pw, "password=wrong",
                "password authentication failed for user \"txq_tls_pw\"");
    snprintf(extra, sizeof extra,
             "sslcert=%s/client/none.crt sslkey=%s/client/none.key", dir, dir);
    cli_refused(t, &role_cert, extra,
                "connection requires a valid client certificate");
    snprintf(extra, sizeof extra,
             "sslcert=%s/client/postgres.crt sslkey=%s/client/postgres.key",
             dir, dir);
    cli_refused(t, &role_cert, extra,
                "certificate authentication failed for user "
                "\"txq_tls_cert\"");
}

/* A test as one role, named after it. */
#define AS(fn, role, what)                                               \
    {                                                                    \
        .name = #fn " (" what ")", .test_func = fn, .setup_func = setup, \
        .teardown_func = teardown, .initial_state = role                 \
    }
#define PW(fn)   AS(fn, &role_pw, "password")
#define CERT(fn) AS(fn, &role_cert, "certificate")

int
main(void)
{
    const struct CMUnitTest tests[] = {
        PW(test_cli),
        CERT(test_cli),
        PW(test_libtxq),
        CERT(test_libtxq),
        PW(test_worker),
        CERT(test_worker),
        CERT(test_worker_ini_and_env),
        PW(test_wrong_host_name),
        PW(test_untrusted_ca),
        PW(test_plaintext_server),
        PW(test_plaintext_client),
        PW(test_authentication),
    };

    read_fixture();
    return cmocka_run_group_tests_name("tls", tests, NULL, NULL);
}
