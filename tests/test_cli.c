/*
 * test_cli.c - the `txq` command-line tool, run as a program: queue
 * create/list/alter/drop, send from an argument and from stdin (binary
 * bodies come back as body_base64), recv's JSON lines with and without
 * --ack, stats --json, the dead-letter round trip (list, show, requeue,
 * discard), bad input (exit codes 1 and 2 with one line on stderr), and
 * --db's password and sslpassword kept out of the process's argv while it runs
 * (/proc/PID/cmdline, what ps shows; not checked under valgrind).
 *
 * Runs $TXQ_BUILD_DIR/txq through tt_txq (tt.h: fork/execv, no shell),
 * TXQ_SCHEMA set to the test's schema and --db from TXQ_TEST_DSN. JSON
 * output is parsed by the server (jsonb). Needs TXQ_TEST_DSN and
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

#define CANARY     "canary-cli-db-3e71"
#define CANARY_SSL "canary-cli-sslpw-8b02"

static void
test_queue_commands(void **state)
{
    tt_fixture *f = *state;
    char buf[1024], v[64];
    tt_run r;

    TT_RUN_OK(f, "queue", "create", "jobs", "--max-attempts", "3",
              "--visibility-timeout", "7.5", "--on-exhausted", "ignore",
              "--backoff-base", "0");
    TT_RUN_OK(f, "queue", "create", "--fifo", "orders", "--dedup-window", "60");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues where "
                                      "name = 'jobs' and max_attempts = 3 "
                                      "and visibility_timeout = '7.5 s' and "
                                      "on_exhausted = 'ignore' and "
                                      "backoff_base = '0'"),
                     1);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues where "
                                      "name = 'orders' and kind = 'fifo'"),
                     1);

    TT_RUN(f, &r, "queue", "list");
    tt_run_ok(&r);
    assert_int_equal(tt_lines(r.out), 3); /* header + 2 */
    assert_non_null(strstr(r.out, "jobs"));
    assert_non_null(strstr(r.out, "fifo"));
    tt_run_free(&r);

    TT_RUN_OK(f, "queue", "alter", "jobs", "--max-attempts", "9",
              "--expire-after", "60");
    TT_RUN(f, &r, "queue", "list", "--json");
    tt_run_ok(&r);
    assert_int_equal(tt_lines(r.out), 2);
    tt_json_get(f->pg, tt_line(r.out, 0, buf, sizeof buf), "name", v, sizeof v);
    assert_string_equal(v, "jobs");
    assert_string_equal(tt_json_get(f->pg, buf, "max_attempts", v, sizeof v),
                        "9");
    assert_string_equal(tt_json_get(f->pg, buf, "expire_after", v, sizeof v),
                        "60");
    assert_string_equal(
        tt_json_get(f->pg, buf, "visibility_timeout", v, sizeof v), "7.5");
    tt_run_free(&r);
    TT_RUN_OK(f, "queue", "alter", "jobs", "--expire-after", "off");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues where "
                                      "name = 'jobs' and expire_after is null "
                                      "and max_attempts = 9"),
                     1);

    /* Duplicate, unknown, and a server-side bad setting: runtime errors. */
    TT_RUN_FAILS(f, 1, "jobs", "queue", "create", "jobs");
    TT_RUN_FAILS(f, 1, "nosuch", "queue", "alter", "nosuch", "--max-attempts",
                 "2");
    TT_RUN_FAILS(f, 1, "max_attempts", "queue", "alter", "jobs",
                 "--max-attempts", "5000");

    /* A queue holding a message is dropped only with --force. */
    tt_send(f, f->pg, "jobs", "x");
    TT_RUN_FAILS(f, 1, "jobs", "queue", "drop", "jobs");
    TT_RUN_OK(f, "queue", "drop", "jobs", "--force");
    TT_RUN_OK(f, "queue", "drop", "orders");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues"), 0);
    assert_int_equal(tt_depth(f), 0);
}

static void
test_send_and_recv(void **state)
{
    tt_fixture *f = *state;
    static const char bin[] = {'a', '\0', 'b', '\xff', '\0', '\n'};
    char buf[2048], v[256], hex[64];
    long long id_text, id_bin;
    tt_run r;

    tt_queue(f, "jobs", NULL);
    TT_RUN(f, &r, "send", "jobs", "héllo \"x\"", "--header", "k=1", "--header",
           "q=\"a\\b\tc", "--header", "k=2", "--correlation-id", "c-1",
           "--reply-to", "replies", "--priority", "5");
    tt_run_ok(&r);
    id_text = atoll(r.out);
    assert_true(id_text > 0);
    tt_run_free(&r);
    assert_true(tt_json_eq(f->pg,
                           tt_text(f->pg, buf, sizeof buf,
                                   "select headers from messages where "
                                   "id = %lld",
                                   id_text),
                           "{\"k\": \"2\", \"q\": \"\\\"a\\\\b\\tc\"}"));

    TT_RUN_IN(f, &r, bin, sizeof bin, "send", "jobs");
    tt_run_ok(&r);
    id_bin = atoll(r.out);
    assert_true(id_bin > id_text);
    tt_run_free(&r);
    TT_RUN_IN(f, &r, "from stdin", 10, "send", "jobs", "-");
    tt_run_ok(&r);
    tt_run_free(&r);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from messages where "
                                      "body = 'from stdin'::bytea"),
                     1);

    TT_RUN(f, &r, "recv", "jobs", "--max", "10");
    tt_run_ok(&r);
    assert_int_equal(tt_lines(r.out), 3);
    /* Priority 5 comes first. */
    tt_line(r.out, 0, buf, sizeof buf);
    assert_int_equal(atoll(tt_json_get(f->pg, buf, "id", v, sizeof v)),
                     id_text);
    assert_string_equal(tt_json_get(f->pg, buf, "body", v, sizeof v),
                        "héllo \"x\"");
    assert_string_equal(tt_json_get(f->pg, buf, "queue", v, sizeof v), "jobs");
    assert_string_equal(tt_json_get(f->pg, buf, "attempts", v, sizeof v), "1");
    assert_string_equal(tt_json_get(f->pg, buf, "correlation_id", v, sizeof v),
                        "c-1");
    assert_string_equal(tt_json_get(f->pg, buf, "reply_to", v, sizeof v),
                        "replies");
    assert_string_equal(tt_json_get(f->pg, buf, "headers", v, sizeof v),
                        "{\"k\": \"2\", \"q\": \"\\\"a\\\\b\\tc\"}");
    /* The binary body: base64 of exactly the bytes sent. */
    tt_line(r.out, 1, buf, sizeof buf);
    assert_int_equal(atoll(tt_json_get(f->pg, buf, "id", v, sizeof v)), id_bin);
    assert_string_equal(tt_json_get(f->pg, buf, "body", v, sizeof v), "");
    tt_json_get(f->pg, buf, "body_base64", v, sizeof v);
    assert_string_equal(tt_text(f->pg, hex, sizeof hex,
                                "select encode(decode('%s', "
                                "'base64'), 'hex')",
                                v),
                        "610062ff000a");
    tt_run_free(&r);
}

static void
test_recv_ack_and_invisible(void **state)
{
    tt_fixture *f = *state;
    char buf[1024], v[64];
    tt_run r;

    tt_queue(f, "jobs", NULL);
    tt_send(f, f->pg, "jobs", "one");

    /* Without --ack: claimed (committed), invisible, still there. */
    TT_RUN(f, &r, "recv", "jobs");
    tt_run_ok(&r);
    assert_int_equal(tt_lines(r.out), 1);
    assert_string_equal(tt_json_get(f->pg, tt_line(r.out, 0, buf, sizeof buf),
                                    "body", v, sizeof v),
                        "one");
    tt_run_free(&r);
    assert_int_equal(tt_depth(f), 1);
    assert_int_equal(tt_scalar(f->pg, "select attempts from messages"), 1);
    assert_int_equal(
        tt_scalar(f->pg, "select (visible_at > now())::int from messages"), 1);
    TT_RUN(f, &r, "recv", "jobs", "--max", "5");
    tt_run_ok(&r);
    assert_int_equal(r.outlen, 0); /* nothing ready: no output, exit 0 */
    tt_run_free(&r);

    /* With --ack: printed, then gone. */
    tt_send(f, f->pg, "jobs", "two");
    TT_RUN(f, &r, "recv", "jobs", "--ack", "--max", "5");
    tt_run_ok(&r);
    assert_int_equal(tt_lines(r.out), 1);
    assert_string_equal(tt_json_get(f->pg, tt_line(r.out, 0, buf, sizeof buf),
                                    "body", v, sizeof v),
                        "two");
    tt_run_free(&r);
    assert_int_equal(tt_depth(f), 1);
    assert_int_equal(tt_scalar(f->pg, "select acked from queue_stats"), 1);
}

static void
test_stats(void **state)
{
    tt_fixture *f = *state;
    char buf[1024], v[64];
    tt_run r;

    tt_queue(f, "alpha", NULL);
    tt_queue(f, "beta", NULL);
    tt_send(f, f->pg, "beta", "1");
    tt_send(f, f->pg, "beta", "2");

    TT_RUN(f, &r, "stats", "--json");
    tt_run_ok(&r);
    assert_int_equal(tt_lines(r.out), 2);
    tt_line(r.out, 1, buf, sizeof buf);
    assert_string_equal(tt_json_get(f->pg, buf, "queue", v, sizeof v), "beta");
    assert_string_equal(tt_json_get(f->pg, buf, "depth", v, sizeof v), "2");
    assert_string_equal(tt_json_get(f->pg, buf, "ready", v, sizeof v), "2");
    assert_string_equal(tt_json_get(f->pg, buf, "dead", v, sizeof v), "0");
    tt_run_free(&r);

    TT_RUN(f, &r, "stats");
    tt_run_ok(&r);
    assert_int_equal(tt_lines(r.out), 3);
    assert_non_null(strstr(r.out, "in_flight"));
    assert_non_null(strstr(r.out, "alpha"));
    tt_run_free(&r);
}

static void
test_dead_letters(void **state)
{
    tt_fixture *f = *state;
    char buf[2048], v[256], ids[32];
    long long a, b;
    tt_run r;

    tt_queue(f, "jobs", NULL);
    a = tt_send(f, f->pg, "jobs", "first");
    b = tt_send(f, f->pg, "jobs", "second");
    tt_exec(f->pg, "select fail(id, 'boom ' || id, i_permanent => true) "
                   "from receive('jobs', 10)");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from dead_letters"), 2);

    TT_RUN(f, &r, "dead", "list");
    tt_run_ok(&r);
    assert_int_equal(tt_lines(r.out), 3);
    assert_non_null(strstr(r.out, "boom"));
    tt_run_free(&r);
    TT_RUN(f, &r, "dead", "list", "jobs", "--json", "--limit", "1");
    tt_run_ok(&r);
    assert_int_equal(tt_lines(r.out), 1);
    tt_line(r.out, 0, buf, sizeof buf);
    assert_int_equal(atoll(tt_json_get(f->pg, buf, "id", v, sizeof v)), a);
    assert_string_equal(tt_json_get(f->pg, buf, "reason", v, sizeof v),
                        "permanent");
    tt_run_free(&r);

    snprintf(ids, sizeof ids, "%lld", a);
    TT_RUN(f, &r, "dead", "show", ids);
    tt_run_ok(&r);
    assert_non_null(strstr(r.out, "errors:"));
    assert_non_null(strstr(r.out, "boom"));
    assert_non_null(strstr(r.out, "first"));
    tt_run_free(&r);
    TT_RUN(f, &r, "dead", "show", ids, "--json");
    tt_run_ok(&r);
    tt_line(r.out, 0, buf, sizeof buf);
    assert_string_equal(tt_json_get(f->pg, buf, "body", v, sizeof v), "first");
    assert_non_null(
        strstr(tt_json_get(f->pg, buf, "errors", v, sizeof v), "boom"));
    tt_run_free(&r);

    TT_RUN_OK(f, "dead", "requeue", ids);
    assert_int_equal(
        tt_scalar(f->pg, "select count(*) from messages where id = %lld", a),
        1);
    TT_RUN_FAILS(f, 1, ids, "dead", "requeue", ids);

    snprintf(ids, sizeof ids, "%lld", b);
    TT_RUN_FAILS(f, 2, "--reason", "dead", "discard", ids);
    TT_RUN_OK(f, "dead", "discard", ids, "--reason", "test; drop table x");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from dead_letters"), 0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from audit_log where "
                                      "action = 'discard' and detail = "
                                      "'test; drop table x'"),
                     1);

    /* requeue --all */
    tt_exec(f->pg, "select fail(id, 'again', i_permanent => true) "
                   "from receive('jobs', 10)");
    TT_RUN(f, &r, "dead", "requeue", "--all", "jobs");
    tt_run_ok(&r);
    assert_non_null(strstr(r.out, "requeued 1 "));
    tt_run_free(&r);
    assert_int_equal(tt_depth(f), 1);
}

/* Queue names of SQS's rule through the CLI: capitals, -, .fifo on a
 * fifo queue, 80 characters; what the rule refuses, refused. */
static void
test_sqs_names(void **state)
{
    tt_fixture *f = *state;
    char n80[82], buf[2048], v[256];
    tt_run r;

    TT_RUN_OK(f, "queue", "create", "Billing-Events");
    TT_RUN_OK(f, "queue", "create", "orders.fifo", "--fifo");
    TT_RUN(f, &r, "send", "Billing-Events", "invoice", "--reply-to",
           "orders.fifo");
    tt_run_ok(&r);
    tt_run_free(&r);
    TT_RUN(f, &r, "recv", "Billing-Events");
    tt_run_ok(&r);
    assert_int_equal(tt_lines(r.out), 1);
    tt_line(r.out, 0, buf, sizeof buf);
    assert_string_equal(tt_json_get(f->pg, buf, "queue", v, sizeof v),
                        "Billing-Events");
    assert_string_equal(tt_json_get(f->pg, buf, "body", v, sizeof v),
                        "invoice");
    assert_string_equal(tt_json_get(f->pg, buf, "reply_to", v, sizeof v),
                        "orders.fifo");
    tt_run_free(&r);
    TT_RUN_OK(f, "send", "orders.fifo", "o1", "--group", "g");
    TT_RUN(f, &r, "recv", "orders.fifo");
    tt_run_ok(&r);
    assert_int_equal(tt_lines(r.out), 1);
    tt_run_free(&r);
    memset(n80, 'Q', 81);
    n80[80] = '\0';
    TT_RUN_OK(f, "queue", "create", n80);
    n80[80] = 'Q';
    n80[81] = '\0';
    TT_RUN_FAILS(f, 2, "invalid queue name", "queue", "create", n80);
    TT_RUN_FAILS(f, 1, "fifo queue only", "queue", "create", "std.fifo");
    TT_RUN_FAILS(f, 2, "invalid queue name", "queue", "create", "a.b");
    TT_RUN_FAILS(f, 2, "invalid queue name", "send", "caf\xc3\xa9", "x");
}

static void
test_bad_input(void **state)
{
    tt_fixture *f = *state;

    tt_queue(f, "jobs", NULL);
    TT_RUN_FAILS(f, 1, "nosuch", "send", "nosuch", "x");
    TT_RUN_FAILS(f, 1, "nosuch", "recv", "nosuch");
    TT_RUN_FAILS(f, 2, "--max-attempts", "queue", "create", "q",
                 "--max-attempts", "3x");
    TT_RUN_FAILS(f, 2, "--delay", "send", "jobs", "x", "--delay", "-1");
    TT_RUN_FAILS(f, 2, "--max", "recv", "jobs", "--max", "0");
    TT_RUN_FAILS(f, 2, "Bad.Name", "queue", "create", "Bad.Name");
    TT_RUN_FAILS(f, 2, "invalid queue name", "send",
                 "x'; drop table queues; --", "body");
    TT_RUN_FAILS(f, 2, "--header", "send", "jobs", "x", "--header", "novalue");
    TT_RUN_FAILS(f, 2, "--reason", "dead", "discard", "1");
    TT_RUN_FAILS(f, 2, "ID", "dead", "show", "12abc");
    TT_RUN_FAILS(f, 2, "frobnicate", "frobnicate");
    TT_RUN_FAILS(f, 2, "--no-such-flag", "queue", "create", "q",
                 "--no-such-flag");
    TT_RUN_FAILS(f, 2, "schema", "--schema", "bad;schema", "stats");
    TT_RUN_FAILS(f, 1, "txq_no_such_schema_here", "--schema",
                 "txq_no_such_schema_here", "stats");
    /* Nothing above changed anything. */
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues"), 1);
    assert_int_equal(tt_depth(f), 0);
}

/* Claim one message of jobs as the superuser; its id and attempt. */
static void
claim_one(tt_fixture *f, char *id, char *att)
{
    PGresult *res = tt_query(f->pg, "select id, attempts from "
                                    "receive('jobs', 1)");

    assert_int_equal(PQntuples(res), 1);
    strcpy(id, PQgetvalue(res, 0, 0));
    strcpy(att, PQgetvalue(res, 0, 1));
    PQclear(res);
}

/* ack, fail, extend: by id and the attempt held, nothing for a stale one. */
static void
test_ack_fail_extend(void **state)
{
    tt_fixture *f = *state;
    tt_run r;
    char id[32], att[16];

    tt_queue(f, "jobs", NULL);
    tt_send(f, f->pg, "jobs", "a");
    tt_send(f, f->pg, "jobs", "b");
    claim_one(f, id, att);

    TT_RUN_FAILS(f, 2, "--attempt N is required", "ack", id);
    TT_RUN_FAILS(f, 2, "unknown option", "ack", id, "--attempt", att, "--error",
                 "x");
    TT_RUN_FAILS(f, 2, "--error TEXT is required", "fail", id, "--attempt",
                 att);
    TT_RUN_FAILS(f, 2, "--seconds S is required", "extend", id, "--attempt",
                 att);
    TT_RUN_FAILS(f, 2, "--seconds", "extend", id, "--attempt", att, "--seconds",
                 "99999");
    TT_RUN_FAILS(f, 2, "ID", "ack", "x1", "--attempt", att);
    TT_RUN_FAILS(f, 1, "not held by attempt 7", "ack", id, "--attempt", "7");
    TT_RUN_FAILS(f, 1, "not held", "extend", id, "--attempt", "7", "--seconds",
                 "5");

    TT_RUN(f, &r, "extend", id, "--attempt", att, "--seconds", "600");
    tt_run_ok(&r);
    tt_run_free(&r);
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from messages where "
                               "id = %s and visible_at > now() + "
                               "interval '500 seconds'",
                               id),
                     1);
    TT_RUN(f, &r, "fail", id, "--attempt", att, "--error", "boom");
    tt_run_ok(&r);
    assert_string_equal(r.out, "retry\n");
    tt_run_free(&r);
    TT_RUN_FAILS(f, 1, "not held", "fail", id, "--attempt", att, "--error",
                 "again");
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from message_errors "
                               "where message_id = %s",
                               id),
                     1);

    claim_one(f, id, att); /* the other one */
    TT_RUN(f, &r, "ack", id, "--attempt", att);
    tt_run_ok(&r);
    assert_string_equal(r.out, "acked\n");
    tt_run_free(&r);
    TT_RUN_FAILS(f, 1, "not held", "ack", id, "--attempt", att);
    assert_int_equal(tt_depth(f), 1);
}

/* purge and cancel: reason required, audited, what they took printed. */
static void
test_purge_and_cancel(void **state)
{
    tt_fixture *f = *state;
    tt_run r;
    char id[32];

    tt_queue(f, "jobs", NULL);
    snprintf(id, sizeof id, "%lld", (long long)tt_send(f, f->pg, "jobs", "a"));
    tt_send(f, f->pg, "jobs", "b");
    tt_send(f, f->pg, "jobs", "c");
    tt_exec(f->pg, "select count(*) from receive('jobs', 1)"); /* in flight */

    TT_RUN_FAILS(f, 2, "--reason R is required", "cancel", id);
    TT_RUN_FAILS(f, 2, "--reason R is required", "cancel", id, "--reason",
                 "  ");
    TT_RUN_FAILS(f, 2, "ID", "cancel", "12x", "--reason", "r");
    TT_RUN_FAILS(f, 2, "expected one or more IDs", "cancel", "--reason", "r");
    TT_RUN_FAILS(f, 2, "--reason R is required", "purge", "jobs");
    TT_RUN_FAILS(f, 2, "expected one QUEUE", "purge", "--reason", "r");
    TT_RUN_FAILS(f, 1, "nosuch", "purge", "nosuch", "--reason", "r");
    assert_int_equal(tt_depth(f), 3);

    TT_RUN(f, &r, "cancel", id, "999999999", "--reason", "duplicate order");
    tt_run_ok(&r);
    assert_string_equal(r.out, "1 cancelled\n");
    tt_run_free(&r);
    TT_RUN(f, &r, "purge", "jobs", "--reason", "test traffic");
    tt_run_ok(&r);
    assert_string_equal(r.out, "2 deleted\n");
    tt_run_free(&r);
    assert_int_equal(tt_depth(f), 0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from audit_log where "
                                      "(action = 'cancel' and detail = "
                                      "'duplicate order') or (action = "
                                      "'purge' and detail like "
                                      "'%%test traffic')"),
                     2);
}

/* --db and --schema after the command; $TXQ_DB without --db. */
static void
test_global_options_anywhere(void **state)
{
    tt_fixture *f = *state;
    tt_run r;
    char db[600];

    tt_queue(f, "jobs", NULL);
    /* Taken as the schema (so not found), not refused as unknown. */
    TT_RUN(f, &r, "stats", "--schema", "txq_no_such_schema");
    tt_run_error(&r, 1, "txq_no_such_schema");
    tt_run_free(&r);
    /* The --db after the command wins over the one before it. */
    TT_RUN(f, &r, "send", "jobs", "b", "--db", "host=/nonexistent port=1");
    tt_run_error(&r, 1, "/nonexistent");
    tt_run_free(&r);
    snprintf(db, sizeof db, "--db=%s", tt_dsn());
    TT_RUN(f, &r, "send", "jobs", "b", db);
    tt_run_ok(&r);
    tt_run_free(&r);
    /* After "--" they are the command's again: a body here. */
    TT_RUN(f, &r, "send", "jobs", "--", "--db");
    tt_run_ok(&r);
    tt_run_free(&r);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from messages where "
                                      "body = '--db'"),
                     1);
    TT_RUN(f, &r, "stats", "--db");
    tt_run_error(&r, 2, "needs a value");
    tt_run_free(&r);

    /* No --db at all: $TXQ_DB, then the PG* variables. */
    assert_int_equal(setenv("TXQ_DB", tt_dsn(), 1), 0);
    tt_txq_bare(f, &r, (const char *[]){"send", "jobs", "c", NULL});
    tt_run_ok(&r);
    tt_run_free(&r);
    assert_int_equal(setenv("TXQ_DB", "host=/nonexistent port=1", 1), 0);
    tt_txq_bare(f, &r, (const char *[]){"stats", NULL});
    tt_run_error(&r, 1, "/nonexistent");
    tt_run_free(&r);
    assert_int_equal(unsetenv("TXQ_DB"), 0);
    assert_int_equal(tt_depth(f), 3);
}

static void
test_help_and_version(void **state)
{
    tt_fixture *f = *state;
    tt_run r;

    TT_RUN(f, &r, "--help");
    tt_run_ok(&r);
    assert_non_null(strstr(r.out, "usage: txq"));
    tt_run_free(&r);
    TT_RUN(f, &r, "dead", "--help");
    tt_run_ok(&r);
    assert_non_null(strstr(r.out, "txq dead discard"));
    tt_run_free(&r);
    TT_RUN(f, &r, "send", "--help");
    tt_run_ok(&r);
    assert_non_null(strstr(r.out, "--header"));
    tt_run_free(&r);
    TT_RUN(f, &r, "--version");
    tt_run_ok(&r);
    assert_non_null(strstr(r.out, txq_version()));
    tt_run_free(&r);
    TT_RUN(f, &r, "migrate");
    tt_run_ok(&r);
    assert_non_null(strstr(r.out, "(applied 0)"));
    assert_non_null(strstr(r.out, f->schema));
    tt_run_free(&r);
}

/* --db's password and sslpassword are gone from argv while the tool runs
 * (a long poll), whichever way the option is written; the tool still
 * connects. */
static void
test_db_password_not_in_argv(void **state)
{
    tt_fixture *f = *state;
    char db[600], dbeq[620], buf[1024], v[64];
    double until;
    tt_bg bg;
    tt_run r;
    char *got;

    tt_queue(f, "jobs", NULL);
    tt_queue(f, "other", NULL);
    /* trust authentication ignores the password, and a unix socket has
     * no TLS to use sslpassword: the tool connects. */
    snprintf(db, sizeof db, "%s password=%s sslpassword=%s", tt_dsn(), CANARY,
             CANARY_SSL);
    snprintf(dbeq, sizeof dbeq, "--db=%s", db);
    for (int round = 0; round < 2; round++) {
        /* A queue per round: a wait registration shows that this run has
         * connected, so is past its option parsing. */
        const char *queue = round == 0 ? "jobs" : "other";

        if (round == 0)
            TT_SPAWN(f, &bg, "--db", db, "recv", queue, "--wait", "30");
        else
            TT_SPAWN(f, &bg, dbeq, "recv", queue, "--wait", "30");
        until = tt_now() + 20;
        while (tt_scalar(f->pg,
                         "select _wake_pending(q) from queues q where "
                         "name = '%s'",
                         queue) == 0) {
            if (tt_now() > until)
                fail_msg("txq recv --wait never started waiting");
            tt_sleep_ms(20);
        }
        /* Under valgrind (./run test --valgrind) /proc shows valgrind's
         * own copy of the command line, which the program cannot reach. */
        got = tt_cmdline(bg.pid);
        assert_non_null(strstr(got, "recv"));
        if (strstr(got, "valgrind") == NULL) {
            assert_non_null(strstr(got, "password="));
            assert_non_null(strstr(got, "sslpassword="));
            if (strstr(got, CANARY) != NULL)
                fail_msg("txq's argv holds the password: %s", got);
            if (strstr(got, CANARY_SSL) != NULL)
                fail_msg("txq's argv holds the sslpassword: %s", got);
        } else {
            print_message("under valgrind: argv not checked\n");
        }
        free(got);
        tt_send(f, f->pg, queue, "wake");
        tt_txq_wait(&bg, &r);
        tt_run_ok(&r);
        assert_string_equal(tt_json_get(f->pg,
                                        tt_line(r.out, 0, buf, sizeof buf),
                                        "body", v, sizeof v),
                            "wake");
        assert_null(strstr(r.out, CANARY));
        assert_null(strstr(r.out, CANARY_SSL));
        tt_run_free(&r);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_queue_commands, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_global_options_anywhere, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_purge_and_cancel, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_ack_fail_extend, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_send_and_recv, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_recv_ack_and_invisible, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_stats, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_dead_letters, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_sqs_names, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_help_and_version, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_db_password_not_in_argv, tt_setup,
                                        tt_teardown),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("cli", tests, NULL, NULL);
}
