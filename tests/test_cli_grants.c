/*
 * test_cli_grants.c - the `txq` tool's per-queue grants: grant, revoke
 * and grants (table and --json), peek (states, bodies, nothing claimed),
 * bad input that changes nothing (exit 2, or 1 for what only the server
 * knows), a role logged in with send (receive) on one queue only that
 * can send to (receive from) it but is refused on another with the
 * server's message naming role, queue and privilege and nothing written,
 * and peek refused without monitor.
 *
 * Roles log in through a second --db ("<TXQ_TEST_DSN> user=ROLE"; the
 * test cluster trusts local connections). Needs TXQ_TEST_DSN and
 * TXQ_BUILD_DIR (ctest sets both).
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

/* A login role with no privilege, and the conninfo that logs in as it. */
typedef struct login {
    char role[64];
    char db[600];
} login;

static void
login_new(tt_fixture *f, login *l, const char *tag)
{
    tt_role(f, l->role, sizeof l->role, tag, NULL);
    snprintf(l->db, sizeof l->db, "%s user=%s", tt_dsn(), l->role);
}

static void
login_drop(tt_fixture *f, const login *l)
{
    tt_exec(f->pg, "drop owned by %s", l->role);
    tt_exec(f->pg, "drop role %s", l->role);
}

/* Queues jobs and other, and a login role given priv on jobs only
 * (through SQL, as the superuser). */
static void
jobs_only(tt_fixture *f, login *l, const char *tag, const char *priv)
{
    tt_queue(f, "jobs", NULL);
    tt_queue(f, "other", NULL);
    login_new(f, l, tag);
    tt_exec(f->pg, "select %s.grant('jobs', '%s', array['%s'])", f->schema,
            l->role, priv);
}

static long long
grant_rows(tt_fixture *f, const login *l)
{
    return tt_scalar(f->pg,
                     "select count(*) from queue_grants where role::text "
                     "= '%s'",
                     l->role);
}

/* Run the tool; expect exit 0, nothing on stderr and out exactly. */
static void
expect_out(tt_fixture *f, const char *out, const char *const *args)
{
    tt_run r;

    tt_txq(f, &r, NULL, 0, args);
    tt_run_ok(&r);
    assert_string_equal(r.out, out);
    tt_run_free(&r);
}

#define EXPECT_OUT(f, out, ...) \
    expect_out(f, out, (const char *[]){__VA_ARGS__, NULL})

static void
test_grant_revoke_grants(void **state)
{
    tt_fixture *f = *state;
    char out[512], buf[1024], v[128];
    login a;
    tt_run r;

    tt_queue(f, "jobs", NULL);
    tt_queue(f, "other", NULL);
    login_new(f, &a, "grantee");

    snprintf(out, sizeof out, "granted send,receive on queue jobs to %s\n",
             a.role);
    EXPECT_OUT(f, out, "grant", "jobs", a.role, "receive,send");
    snprintf(out, sizeof out,
             "granted monitor on queue jobs to %s (already held: receive)\n",
             a.role);
    EXPECT_OUT(f, out, "grant", "jobs", a.role, "monitor,receive,monitor");
    snprintf(out, sizeof out,
             "nothing granted: %s already holds send on queue jobs\n", a.role);
    EXPECT_OUT(f, out, "grant", "jobs", a.role, "send");
    snprintf(out, sizeof out, "granted admin on every queue (*) to %s\n",
             a.role);
    EXPECT_OUT(f, out, "grant", "*", a.role, "admin");
    assert_int_equal(grant_rows(f, &a), 4);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queue_grants g "
                                      "join queues q using (queue_id) where "
                                      "q.name = 'jobs'"),
                     3);

    /* grants QUEUE: that queue's rows and the '*' ones (the migration's
     * seven of the txq_* roles, and the admin above). */
    TT_RUN(f, &r, "grants", "jobs");
    tt_run_ok(&r);
    assert_int_equal(tt_lines(r.out), 1 + 7 + 1 + 3);
    assert_non_null(strstr(tt_line(r.out, 0, buf, sizeof buf), "privilege"));
    assert_non_null(strstr(r.out, a.role));
    tt_run_free(&r);
    TT_RUN(f, &r, "grants", "other", "--json");
    tt_run_ok(&r);
    assert_int_equal(tt_lines(r.out), 8);
    for (int i = 0; strstr(tt_line(r.out, i, buf, sizeof buf), a.role) == NULL;)
        i++;
    assert_string_equal(tt_json_get(f->pg, buf, "queue", v, sizeof v), "*");
    assert_string_equal(tt_json_get(f->pg, buf, "role", v, sizeof v), a.role);
    assert_string_equal(tt_json_get(f->pg, buf, "privilege", v, sizeof v),
                        "admin");
    assert_string_equal(tt_json_get(f->pg, buf, "granted_by", v, sizeof v),
                        "postgres");
    tt_run_free(&r);
    TT_RUN(f, &r, "grants", "--json");
    tt_run_ok(&r);
    assert_int_equal(tt_lines(r.out), 11);
    /* '*' first, then by queue; a queue's rows in privilege order. */
    tt_line(r.out, 8, buf, sizeof buf);
    assert_string_equal(tt_json_get(f->pg, buf, "queue", v, sizeof v), "jobs");
    assert_string_equal(tt_json_get(f->pg, buf, "privilege", v, sizeof v),
                        "send");
    tt_run_free(&r);

    snprintf(out, sizeof out, "revoked receive on queue jobs from %s\n",
             a.role);
    EXPECT_OUT(f, out, "revoke", "jobs", a.role, "receive,operate");
    snprintf(out, sizeof out, "revoked send,monitor on queue jobs from %s\n",
             a.role);
    EXPECT_OUT(f, out, "revoke", "jobs", a.role);
    snprintf(out, sizeof out,
             "nothing revoked: %s holds no privilege on queue jobs\n", a.role);
    EXPECT_OUT(f, out, "revoke", "jobs", a.role);
    snprintf(out, sizeof out, "revoked admin on every queue (*) from %s\n",
             a.role);
    EXPECT_OUT(f, out, "revoke", "*", a.role);
    assert_int_equal(grant_rows(f, &a), 0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from audit_log where "
                                      "action in ('grant', 'revoke')"),
                     8);
    login_drop(f, &a);
}

static void
test_bad_input_changes_nothing(void **state)
{
    tt_fixture *f = *state;
    char longrole[80];
    login a;

    tt_queue(f, "jobs", NULL);
    login_new(f, &a, "bad");
    memset(longrole, 'r', 64);
    longrole[64] = '\0';

    TT_RUN_FAILS(f, 2, "empty privilege list", "grant", "jobs", a.role, "");
    TT_RUN_FAILS(f, 2, "empty item", "grant", "jobs", a.role, "send,");
    TT_RUN_FAILS(f, 2, "empty item", "grant", "jobs", a.role, "send,,receive");
    TT_RUN_FAILS(f, 2, "unknown privilege \"write\"", "grant", "jobs", a.role,
                 "send,write");
    TT_RUN_FAILS(f, 2, "unknown privilege \"SEND\"", "grant", "jobs", a.role,
                 "SEND");
    TT_RUN_FAILS(f, 2, "unknown privilege \"all\"", "revoke", "jobs", a.role,
                 "all");
    TT_RUN_FAILS(f, 2, "expected QUEUE ROLE PRIVS", "grant", "jobs", a.role);
    TT_RUN_FAILS(f, 2, "expected QUEUE ROLE PRIVS", "grant", "jobs");
    TT_RUN_FAILS(f, 2, "expected QUEUE ROLE [PRIVS]", "revoke", "jobs");
    TT_RUN_FAILS(f, 2, "expected QUEUE ROLE [PRIVS]", "revoke", "jobs", a.role,
                 "send", "receive");
    TT_RUN_FAILS(f, 2, "invalid queue name", "grant", "x'; drop table queues",
                 a.role, "send");
    TT_RUN_FAILS(f, 2, "empty ROLE", "grant", "jobs", "", "send");
    TT_RUN_FAILS(f, 2, "longer than 63", "grant", "jobs", longrole, "send");
    TT_RUN_FAILS(f, 2, "--json", "grant", "jobs", a.role, "send", "--json");
    TT_RUN_FAILS(f, 2, "at most one QUEUE", "grants", "jobs", "other");
    TT_RUN_FAILS(f, 2, "expected one QUEUE", "peek");
    TT_RUN_FAILS(f, 2, "-n", "peek", "jobs", "-n", "0");
    TT_RUN_FAILS(f, 2, "-n", "peek", "jobs", "-n", "1001");
    /* What only the server knows: runtime errors, nothing written. */
    TT_RUN_FAILS(f, 1, "txq_t_nosuch_role", "grant", "jobs",
                 "txq_t_nosuch_role", "send");
    TT_RUN_FAILS(f, 1, "nosuch", "grant", "nosuch", a.role, "send");
    TT_RUN_FAILS(f, 1, "admin is granted on every queue", "grant", "jobs",
                 a.role, "send,admin");
    TT_RUN_FAILS(f, 1, "nosuch", "peek", "nosuch");

    assert_int_equal(grant_rows(f, &a), 0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queue_grants"), 7);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from audit_log where "
                                      "action in ('grant', 'revoke')"),
                     0);
    login_drop(f, &a);
}

static void
test_peek(void **state)
{
    tt_fixture *f = *state;
    static const char bin[] = {'\xff', '\0', 'z'};
    char buf[2048], v[256];
    long long first, delayed;
    txq_msg **held;
    tt_run r;

    tt_queue(f, "jobs", NULL);
    TT_RUN_OK(f, "queue", "create", "empty");
    first = tt_send(f, f->pg, "jobs", "first");
    held = tt_take(f, f->pg, "jobs", 1); /* in flight now */
    txq_msgs_free(held, 1);
    TT_RUN(f, &r, "send", "jobs", "later", "--delay", "600");
    tt_run_ok(&r);
    delayed = atoll(r.out);
    tt_run_free(&r);
    TT_RUN_IN(f, &r, bin, sizeof bin, "send", "jobs", "--header", "k=v",
              "--priority", "3");
    tt_run_ok(&r);
    tt_run_free(&r);

    TT_RUN(f, &r, "peek", "jobs");
    tt_run_ok(&r);
    assert_int_equal(tt_lines(r.out), 3);
    /* The ready one first, then by when they become visible. */
    tt_line(r.out, 0, buf, sizeof buf);
    assert_string_equal(tt_json_get(f->pg, buf, "state", v, sizeof v), "ready");
    assert_string_equal(tt_json_get(f->pg, buf, "queue", v, sizeof v), "jobs");
    assert_string_equal(tt_json_get(f->pg, buf, "priority", v, sizeof v), "3");
    assert_string_equal(tt_json_get(f->pg, buf, "headers", v, sizeof v),
                        "{\"k\": \"v\"}");
    assert_string_equal(tt_json_get(f->pg, buf, "body_base64", v, sizeof v),
                        "/wB6");
    tt_line(r.out, 1, buf, sizeof buf);
    assert_int_equal(atoll(tt_json_get(f->pg, buf, "id", v, sizeof v)), first);
    assert_string_equal(tt_json_get(f->pg, buf, "state", v, sizeof v),
                        "in_flight");
    assert_string_equal(tt_json_get(f->pg, buf, "attempts", v, sizeof v), "1");
    assert_string_equal(tt_json_get(f->pg, buf, "body", v, sizeof v), "first");
    tt_line(r.out, 2, buf, sizeof buf);
    assert_int_equal(atoll(tt_json_get(f->pg, buf, "id", v, sizeof v)),
                     delayed);
    assert_string_equal(tt_json_get(f->pg, buf, "state", v, sizeof v),
                        "delayed");
    tt_run_free(&r);

    TT_RUN(f, &r, "peek", "--help");
    tt_run_ok(&r);
    assert_non_null(strstr(r.out, "-n, --max N"));
    tt_run_free(&r);
    TT_RUN(f, &r, "revoke", "--help");
    tt_run_ok(&r);
    assert_non_null(strstr(r.out, "txq grant QUEUE ROLE PRIVS"));
    tt_run_free(&r);
    TT_RUN(f, &r, "peek", "jobs", "-n", "1");
    tt_run_ok(&r);
    assert_int_equal(tt_lines(r.out), 1);
    tt_run_free(&r);
    TT_RUN(f, &r, "peek", "empty", "--max", "5");
    tt_run_ok(&r);
    assert_int_equal(r.outlen, 0);
    tt_run_free(&r);
    /* Nothing was claimed or counted. */
    assert_int_equal(tt_scalar(f->pg, "select sum(attempts) from messages"), 1);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from messages where "
                                      "claimed_at is not null"),
                     1);
}

/* A role with send on jobs only: sends there, is refused on other. */
static void
test_send_needs_send_on_the_queue(void **state)
{
    tt_fixture *f = *state;
    char needle[256];
    login a;
    tt_run r;

    jobs_only(f, &a, "sender", "send");

    TT_RUN(f, &r, "--db", a.db, "send", "jobs", "hello");
    tt_run_ok(&r);
    assert_true(atoll(r.out) > 0);
    tt_run_free(&r);
    snprintf(needle, sizeof needle,
             "send: permission denied: role \"%s\" lacks \"send\" on queue "
             "\"other\"",
             a.role);
    TT_RUN_FAILS(f, 1, needle, "--db", a.db, "send", "other", "hello");
    TT_RUN_IN(f, &r, "from stdin", 10, "--db", a.db, "send", "other");
    tt_run_error(&r, 1, needle);
    tt_run_free(&r);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from messages m join "
                                      "queues q using (queue_id) where "
                                      "q.name = 'jobs'"),
                     1);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from messages m join "
                                      "queues q using (queue_id) where "
                                      "q.name = 'other'"),
                     0);
    login_drop(f, &a);
}

/* A role with receive on jobs only: receives there, is refused on
 * other, whose message stays as it was. */
static void
test_recv_needs_receive_on_the_queue(void **state)
{
    tt_fixture *f = *state;
    char needle[256], buf[1024], v[64];
    login a;
    tt_run r;

    jobs_only(f, &a, "receiver", "receive");
    tt_send(f, f->pg, "jobs", "mine");
    tt_send(f, f->pg, "other", "not mine");

    TT_RUN(f, &r, "--db", a.db, "recv", "jobs", "--ack");
    tt_run_ok(&r);
    assert_int_equal(tt_lines(r.out), 1);
    assert_string_equal(tt_json_get(f->pg, tt_line(r.out, 0, buf, sizeof buf),
                                    "body", v, sizeof v),
                        "mine");
    tt_run_free(&r);
    snprintf(needle, sizeof needle,
             "recv: permission denied: role \"%s\" lacks \"receive\" on queue "
             "\"other\"",
             a.role);
    TT_RUN_FAILS(f, 1, needle, "--db", a.db, "recv", "other");
    TT_RUN_FAILS(f, 1, needle, "--db", a.db, "recv", "other", "--wait", "0.1");
    assert_int_equal(tt_depth(f), 1);
    assert_int_equal(tt_scalar(f->pg, "select attempts + (claimed_at is not "
                                      "null)::int + (visible_at > now())::int "
                                      "from messages"),
                     0);
    /* send was not granted either. */
    TT_RUN_FAILS(f, 1, "lacks \"send\"", "--db", a.db, "send", "jobs", "x");
    assert_int_equal(tt_depth(f), 1);
    login_drop(f, &a);
}

/* peek takes monitor: a role with send only is refused. */
static void
test_peek_needs_monitor(void **state)
{
    tt_fixture *f = *state;
    char needle[256];
    login a;
    tt_run r;

    jobs_only(f, &a, "peeker", "send");
    tt_send(f, f->pg, "jobs", "x");
    snprintf(needle, sizeof needle,
             "peek: permission denied: role \"%s\" lacks \"monitor\" on queue "
             "\"jobs\"",
             a.role);
    TT_RUN_FAILS(f, 1, needle, "--db", a.db, "peek", "jobs");
    /* Nor may it list or change grants. */
    TT_RUN_FAILS(f, 1, "lacks \"admin\"", "--db", a.db, "grant", "jobs", a.role,
                 "monitor");
    TT_RUN(f, &r, "--db", a.db, "grants");
    tt_run_ok(&r);
    assert_string_equal(r.out, "no grants\n");
    tt_run_free(&r);

    TT_RUN_OK(f, "grant", "jobs", a.role, "monitor");
    TT_RUN(f, &r, "--db", a.db, "peek", "jobs");
    tt_run_ok(&r);
    assert_int_equal(tt_lines(r.out), 1);
    tt_run_free(&r);
    assert_int_equal(tt_scalar(f->pg, "select attempts from messages"), 0);
    login_drop(f, &a);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_grant_revoke_grants, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input_changes_nothing,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_peek, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_send_needs_send_on_the_queue,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_recv_needs_receive_on_the_queue,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_peek_needs_monitor, tt_setup,
                                        tt_teardown),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("cli_grants", tests, NULL, NULL);
}
