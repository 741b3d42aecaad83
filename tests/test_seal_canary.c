/*
 * test_seal_canary.c - an encrypted queue's plaintext never reaches the
 * server. A canary body goes through the txq tool with --key-file (send,
 * recv, dead show, requeue, recv again; failed to the dead letters in
 * between), with every statement logged; then the canary is looked for in
 * every table of the schema (as text and as bytea hex), in the server's
 * log, in pg_stat_activity and in the raw WAL written since the start.
 * The same search finds a plaintext canary sent to a plain queue, so it
 * is known to look in the right places. Also the tool's errors without
 * the keys. Needs TXQ_TEST_DSN, the txq tool, and read access to the
 * cluster's files (the tests run as root).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tt.h"

#define K1 "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="

static void
keyfile(char *path, size_t size)
{
    FILE *fp;

    snprintf(path, size, "/tmp/txq-canary-keys-%d", (int)getpid());
    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("# test keys\nk1 " K1 "\n", fp);
    fclose(fp);
    assert_int_equal(chmod(path, 0600), 0);
}

/* Whether the file at path holds needle (len bytes). */
static int
file_has(const char *path, const char *needle, size_t len)
{
    FILE *fp = fopen(path, "rb");
    char *buf;
    long size;
    int found = 0;

    if (fp == NULL)
        return 0;
    fseek(fp, 0, SEEK_END);
    size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    buf = malloc((size_t)size + 1);
    assert_non_null(buf);
    if (size > 0 && fread(buf, 1, (size_t)size, fp) == (size_t)size) {
        for (long i = 0; i + (long)len <= size && !found; i++)
            found = memcmp(buf + i, needle, len) == 0;
    }
    free(buf);
    fclose(fp);
    return found;
}

static void
hex(const char *s, char *out)
{
    for (; *s; s++, out += 2)
        sprintf(out, "%02x", (unsigned char)*s);
    *out = '\0';
}

/* Rows of the schema's tables whose text holds s or its hex. */
static long long
in_tables(tt_fixture *f, const char *s)
{
    char h[256], sql[512];
    const char *vals[2] = {s, h};
    PGresult *t = tt_query(f->pg, "select tablename from pg_tables where "
                                  "schemaname = current_schema()");
    long long n = 0;

    hex(s, h);
    for (int i = 0; i < PQntuples(t); i++) {
        PGresult *r;

        snprintf(sql, sizeof sql,
                 "select count(*) from \"%s\".\"%s\" x where "
                 "strpos(x::text, $1) > 0 or strpos(x::text, $2) > 0",
                 f->schema, PQgetvalue(t, i, 0));
        r = PQexecParams(f->pg, sql, 2, NULL, vals, NULL, NULL, 0);
        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        n += atoll(PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    PQclear(t);
    return n;
}

static long long
in_activity(tt_fixture *f, const char *s)
{
    const char *vals[1] = {s};
    PGresult *r = PQexecParams(f->pg,
                               "select count(*) from pg_stat_activity "
                               "where strpos(query, $1) > 0",
                               1, NULL, vals, NULL, NULL, 0);
    long long n;

    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    n = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return n;
}

/* WAL segments from first on (by name) that hold s. */
static int
in_wal(const char *datadir, const char *first, const char *s)
{
    char dir[512], path[1024];
    struct dirent *e;
    DIR *d;
    int n = 0;

    snprintf(dir, sizeof dir, "%s/pg_wal", datadir);
    d = opendir(dir);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (strlen(e->d_name) != 24 || strcmp(e->d_name, first) < 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        n += file_has(path, s, strlen(s));
    }
    closedir(d);
    return n;
}

/* The server log (beside the data directory, tests/pg_fixture.sh). */
static int
in_log(const char *datadir, const char *s)
{
    char path[600], h[256];

    snprintf(path, sizeof path, "%.500s/../postgres.log", datadir);
    hex(s, h);
    return file_has(path, s, strlen(s)) + file_has(path, h, strlen(h));
}

static void
test_canary(void **state)
{
    tt_fixture *f = *state;
    char keys[64], secret[64], plain[64], datadir[512], wal[64], id[32];
    char out[256];
    tt_run r;
    int64_t dead;
    txq_msg **m = NULL;
    size_t n = 0;
    txq_keyring *kr = NULL;

    keyfile(keys, sizeof keys);
    snprintf(secret, sizeof secret, "SECRET-canary-%d-%ld", (int)getpid(),
             (long)tt_now());
    snprintf(plain, sizeof plain, "PLAIN-canary-%d-%ld", (int)getpid(),
             (long)tt_now());
    tt_text(f->pg, datadir, sizeof datadir, "show data_directory");
    tt_text(f->pg, wal, sizeof wal,
            "select pg_walfile_name(pg_current_wal_lsn())");
    tt_exec(f->pg, "select create_queue('sec', i_encrypt => true)");
    tt_exec(f->pg, "select create_queue('plain')");
    /* Every statement of the tool's sessions logged, parameters too. */
    setenv("PGOPTIONS", "-c log_statement=all -c log_min_duration_statement=0",
           1);

    TT_RUN_IN(f, &r, secret, strlen(secret), "send", "sec", "-", "--key-file",
              keys);
    tt_run_ok(&r);
    dead = atoll(r.out);
    tt_run_free(&r);
    TT_RUN_IN(f, &r, plain, strlen(plain), "send", "plain", "-");
    tt_run_ok(&r);
    tt_run_free(&r);

    /* Received (the claim lapses), failed for good by a consumer with the
     * keys, shown, requeued, received again and acked. */
    TT_RUN(f, &r, "recv", "sec", "--visibility-timeout", "0.01", "--key-file",
           keys);
    tt_run_ok(&r);
    assert_non_null(strstr(r.out, secret));
    tt_run_free(&r);
    tt_sleep_ms(50);
    assert_int_equal(txq_keyring_load(keys, &kr, out, sizeof out), TXQ_OK);
    assert_txq_ok(f->c, txq_client_set_keyring(f->c, kr));
    assert_txq_ok(f->c, txq_claim(f->c, f->pg, "sec", 1, NULL, &m, &n));
    assert_string_equal(txq_msg_body(m[0], NULL), secret);
    assert_txq_ok(f->c, txq_fail(f->c, f->pg, m[0], "failed on purpose",
                                 TXQ_FAIL_OPTS(.permanent = 1), NULL));
    txq_msgs_free(m, n);
    snprintf(id, sizeof id, "%lld", (long long)dead);
    TT_RUN(f, &r, "dead", "show", id, "--key-file", keys);
    tt_run_ok(&r);
    assert_non_null(strstr(r.out, secret));
    assert_non_null(strstr(r.out, "encrypted       t"));
    tt_run_free(&r);
    TT_RUN(f, &r, "dead", "show", id, "--json", "--key-file", keys);
    tt_run_ok(&r);
    assert_non_null(strstr(r.out, secret));
    tt_run_free(&r);
    /* Without the keys: the sealed bytes, never the plaintext. */
    TT_RUN(f, &r, "dead", "show", id);
    tt_run_ok(&r);
    assert_null(strstr(r.out, secret));
    assert_non_null(strstr(r.out, "base64"));
    tt_run_free(&r);
    TT_RUN_OK(f, "dead", "requeue", id);
    TT_RUN(f, &r, "recv", "sec", "--ack", "--key-file", keys);
    tt_run_ok(&r);
    assert_non_null(strstr(r.out, secret));
    tt_run_free(&r);
    unsetenv("PGOPTIONS");
    assert_int_equal(tt_depth(f), 1); /* the plain one */

    /* The plaintext canary is found where it went... */
    assert_true(in_tables(f, plain) > 0);
    assert_true(in_wal(datadir, wal, plain) > 0);
    assert_true(in_log(datadir, plain) > 0);
    /* ... the encrypted one nowhere. */
    assert_int_equal(in_tables(f, secret), 0);
    assert_int_equal(in_activity(f, secret), 0);
    assert_int_equal(in_log(datadir, secret), 0);
    assert_int_equal(in_wal(datadir, wal, secret), 0);
    txq_client_set_keyring(f->c, NULL);
    txq_keyring_free(kr);
    unlink(keys);
}

/* The tool without the keys, or with bad ones. */
static void
test_cli_errors(void **state)
{
    tt_fixture *f = *state;
    char keys[64];
    tt_run r;

    keyfile(keys, sizeof keys);
    TT_RUN_OK(f, "queue", "create", "sec", "--encrypt");
    TT_RUN_FAILS(f, 1, "requires encryption", "send", "sec", "x");
    TT_RUN_OK(f, "send", "sec", "x", "--key-file", keys);
    TT_RUN(f, &r, "recv", "sec");
    tt_run_error(&r, 1,
                 "could not be decrypted: the queue is encrypted and "
                 "the client has no key ring");
    assert_int_equal(r.outlen, 0);
    tt_run_free(&r);
    TT_RUN_FAILS(f, 1, "fifo", "queue", "create", "ff", "--fifo", "--encrypt");
    TT_RUN(f, &r, "queue", "list", "--json");
    assert_non_null(strstr(r.out, "\"encrypt\":true"));
    tt_run_free(&r);
    assert_int_equal(chmod(keys, 0644), 0);
    TT_RUN_FAILS(f, 1, "mode 0644", "send", "sec", "x", "--key-file", keys);
    unlink(keys);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_canary, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_cli_errors, tt_setup, tt_teardown),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("seal_canary", tests, NULL, NULL);
}
