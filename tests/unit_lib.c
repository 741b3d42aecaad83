/*
 * unit_lib.c - libtxq's pure parts, without a database: the error table,
 * the name rules and the other argument checks, schema splicing, the
 * statement table, SQLSTATE classification, and the decoding of receive
 * rows (fed a PGresult made by hand with libpq's PQmakeEmptyPGresult).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "txq_int.h"
#include "txq_topic.h"

static void
test_error_table(void **state)
{
    (void)state;
    assert_string_equal(txq_err_name(TXQ_OK), "TXQ_OK");
    assert_string_equal(txq_err_name(TXQ_EPERM), "TXQ_EPERM");
    assert_string_equal(txq_err_name(TXQ_EDECRYPT), "TXQ_EDECRYPT");
    assert_string_equal(txq_strerror(TXQ_EMPTY), "no message available");
    /* Values are fixed: an FFI binding hard-codes them. */
    assert_int_equal(TXQ_EINVAL, 2);
    assert_int_equal(TXQ_EPERM, 13);
    assert_int_equal(TXQ_EDECRYPT, 14);
    /* Every value from 0 to the last has a name and a text, distinct. */
    for (int i = 0; i <= TXQ_EDECRYPT; i++) {
        const char *name = txq_err_name((txq_err)i);

        assert_memory_equal(name, "TXQ_", 4);
        assert_string_not_equal(txq_strerror((txq_err)i), "unknown error");
        for (int j = 0; j < i; j++)
            assert_string_not_equal(name, txq_err_name((txq_err)j));
    }
    assert_string_equal(txq_err_name((txq_err)(TXQ_EDECRYPT + 1)), "unknown");
    assert_string_equal(txq_strerror((txq_err)-1), "unknown error");
}

static void
test_names(void **state)
{
    char n63[64], n64[65], n80[81], n81[82], f80[81], f81[82];

    (void)state;
    memset(n63, 'a', 63);
    n63[63] = '\0';
    memset(n64, 'a', 64);
    n64[64] = '\0';
    memset(n80, 'Z', 80);
    n80[80] = '\0';
    memset(n81, 'Z', 81);
    n81[81] = '\0';
    /* 75 + ".fifo" is 80 characters; 76 + ".fifo" is 81. */
    memset(f80, '-', 75);
    memcpy(f80 + 75, ".fifo", 6);
    memset(f81, '-', 76);
    memcpy(f81 + 76, ".fifo", 6);
    /* SQS's rule: 1 to 80 of A-Z a-z 0-9 - _, or up to 75 + ".fifo". */
    assert_true(txq_name_valid("jobs"));
    assert_true(txq_name_valid("a"));
    assert_true(txq_name_valid("a_1"));
    assert_true(txq_name_valid(n63));
    assert_true(txq_name_valid(n64));
    assert_true(txq_name_valid(n80));
    assert_false(txq_name_valid(n81));
    assert_true(txq_name_valid(f80));
    assert_false(txq_name_valid(f81));
    assert_true(txq_name_valid("1a"));
    assert_true(txq_name_valid("_a"));
    assert_true(txq_name_valid("-"));
    assert_true(txq_name_valid("Jobs"));
    assert_true(txq_name_valid("Billing-Events"));
    assert_true(txq_name_valid("a-b"));
    assert_true(txq_name_valid("orders.fifo"));
    assert_true(txq_name_valid("Orders-2.fifo"));
    assert_false(txq_name_valid(NULL));
    assert_false(txq_name_valid(""));
    assert_false(txq_name_valid(".fifo"));
    assert_false(txq_name_valid("a.fifo.fifo"));
    assert_false(txq_name_valid("a.FIFO"));
    assert_false(txq_name_valid("a.fif"));
    assert_false(txq_name_valid("a.b"));
    assert_false(txq_name_valid("a.b.fifo"));
    assert_false(txq_name_valid("a b"));
    assert_false(txq_name_valid("a;b"));
    assert_false(txq_name_valid("a\"b"));
    assert_false(txq_name_valid("caf\xc3\xa9"));
    assert_true(txq_schema_name_valid("_txq"));
    assert_true(txq_schema_name_valid("txq"));
    assert_false(txq_schema_name_valid("1txq"));
    assert_false(txq_schema_name_valid(n64));
    assert_false(txq_schema_name_valid("tx\"q"));
    assert_true(txq_topic_name_valid("orders.created"));
    assert_false(txq_topic_name_valid(".orders"));
    assert_false(txq_topic_name_valid("_orders"));
    assert_false(txq_topic_name_valid(n64));
}

static void
test_utf8(void **state)
{
    (void)state;
    assert_true(txq__utf8_valid(""));
    assert_true(txq__utf8_valid("plain ascii"));
    assert_true(txq__utf8_valid("caf\xc3\xa9"));       /* U+00E9 */
    assert_true(txq__utf8_valid("\xe2\x82\xac"));      /* U+20AC */
    assert_true(txq__utf8_valid("\xf0\x9f\x98\x80"));  /* U+1F600 */
    assert_true(txq__utf8_valid("\xf4\x8f\xbf\xbf"));  /* U+10FFFF */
    assert_false(txq__utf8_valid("\xc0\xaf"));         /* overlong / */
    assert_false(txq__utf8_valid("\xe0\x80\xaf"));     /* overlong */
    assert_false(txq__utf8_valid("\xf0\x80\x80\xaf")); /* overlong */
    assert_false(txq__utf8_valid("\xed\xa0\x80"));     /* U+D800 */
    assert_false(txq__utf8_valid("\xf4\x90\x80\x80")); /* > U+10FFFF */
    assert_false(txq__utf8_valid("\xc3"));             /* cut short */
    assert_false(txq__utf8_valid("\xe2\x82"));         /* cut short */
    assert_false(txq__utf8_valid("\x80"));             /* stray */
    assert_false(txq__utf8_valid("\xff"));
    assert_false(txq__utf8_valid("a\xc3(b")); /* bad 2nd */
}

static void
test_argument_checks(void **state)
{
    txq_client *c = txq_client_new(NULL);
    char buf[80], big[200];

    (void)state;
    assert_non_null(c);
    assert_int_equal(txq__check_text(c, "f", NULL, 0), TXQ_OK);
    assert_int_equal(txq__check_text(c, "f", "tab\tok", 0), TXQ_OK);
    assert_int_equal(txq__check_text(c, "f", "new\nline", 0), TXQ_EINVAL);
    assert_non_null(strstr(txq_errmsg(c), "control character (byte 0x0a)"));
    assert_int_equal(txq__check_text(c, "f", "new\nline", 1), TXQ_OK);
    assert_int_equal(txq__check_text(c, "f", "del\x7f", 0), TXQ_EINVAL);
    assert_int_equal(txq__check_text(c, "field", "\xff", 1), TXQ_EINVAL);
    assert_string_equal(txq_errmsg(c), "field is not valid UTF-8");
    assert_int_equal(txq__check_secs(c, "d", 1.5, 0, 10), TXQ_OK);
    assert_int_equal(txq__check_secs(c, "d", NAN, 0, 10), TXQ_EINVAL);
    assert_int_equal(txq__check_secs(c, "d", INFINITY, 0, 10), TXQ_EINVAL);
    assert_int_equal(txq__check_secs(c, "d", -0.1, 0, 10), TXQ_EINVAL);
    assert_int_equal(txq__check_secs(c, "d", 10.5, 0, 10), TXQ_EINVAL);
    assert_int_equal(txq__check_queue_name(c, "queue name", "B.ad"),
                     TXQ_EINVAL);
    assert_non_null(strstr(txq_errmsg(c), "invalid queue name \"B.ad\""));
    assert_int_equal(txq__check_queue_name(c, "queue name", "Billing-Events"),
                     TXQ_OK);
    assert_int_equal(txq__check_queue_name(c, "queue name", NULL), TXQ_EINVAL);
    assert_int_equal(txq__check_topic_name(c, "a.b"), TXQ_OK);
    assert_int_equal(txq__check_topic_name(c, "a/b"), TXQ_EINVAL);
    /* What an error echoes of an untrusted input: printable, cut short. */
    assert_string_equal(txq__show(buf, sizeof buf, "a\nb\xff"), "a?b?");
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    txq__show(buf, sizeof buf, big);
    assert_int_equal(strlen(buf), 63);
    assert_string_equal(buf + 60, "...");
    txq_client_free(c);
}

static void
test_bad_schema_reported_by_first_call(void **state)
{
    txq_client *c = txq_client_new(TXQ_OPTIONS(.schema = "Bad-Schema"));

    (void)state;
    assert_non_null(c);
    /* No connection needed to find out. */
    assert_int_equal(txq__enter(c, NULL), TXQ_EINVAL);
    assert_non_null(strstr(txq_errmsg(c), "invalid schema name"));
    txq_client_free(c);
}

static void
test_splice(void **state)
{
    char *s;

    (void)state;
    s = txq__splice_schema("select @extschema@.f(), @extschema@.t", "\"q\"");
    assert_string_equal(s, "select \"q\".f(), \"q\".t");
    free(s);
    s = txq__splice_schema("no placeholder", "\"q\"");
    assert_string_equal(s, "no placeholder");
    free(s);
    s = txq__splice_schema("@extschema@", "\"a_long_schema_name\"");
    assert_string_equal(s, "\"a_long_schema_name\"");
    free(s);
    s = txq__splice_schema("", "\"q\"");
    assert_string_equal(s, "");
    free(s);
    s = txq__splice_schema("@extschema@@extschema@", "x");
    assert_string_equal(s, "xx");
    free(s);
}

static void
test_statement_table(void **state)
{
    txq_client *c = txq_client_new(TXQ_OPTIONS(.schema = "my_schema"));

    (void)state;
    assert_non_null(c);
    assert_string_equal(txq__statements[TXQ__Q_RECEIVE].name, "RECEIVE");
    assert_true(txq__statements[TXQ__Q_RECEIVE].hot);
    assert_true(txq__statements[TXQ__Q_SEND].hot);
    assert_false(txq__statements[TXQ__Q_MIG_SETUP].hot);
    assert_false(txq__statements[TXQ__Q_SCHEMA_PROBE].hot);
    for (int q = 0; q < TXQ__Q_COUNT; q++) {
        char want[64];

        /* Spliced: the schema in, no placeholder left. */
        assert_null(strstr(c->sql[q], "@extschema@"));
        if (strstr(txq__statements[q].text, "@extschema@") != NULL)
            assert_non_null(strstr(c->sql[q], "\"my_schema\"."));
        /* txq_<8 hex digits>_<name in lower case>, distinct. */
        assert_memory_equal(c->stmt[q], "txq_", 4);
        assert_int_equal(c->stmt[q][12], '_');
        snprintf(want, sizeof want, "%s", txq__statements[q].name);
        for (char *p = want; *p; p++)
            *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
        assert_string_equal(c->stmt[q] + 13, want);
        for (int o = 0; o < q; o++)
            assert_string_not_equal(c->stmt[q], c->stmt[o]);
    }
    txq_client_free(c);
}

static void
test_classify(void **state)
{
    (void)state;
    assert_int_equal(txq__classify(NULL, NULL), TXQ_EDB);
    assert_int_equal(txq__classify("", NULL), TXQ_EDB);
    assert_int_equal(txq__classify("4000", NULL), TXQ_EDB);
    assert_int_equal(txq__classify("08006", NULL), TXQ_ECONN);
    assert_int_equal(txq__classify("08P01", NULL), TXQ_ECONN);
    assert_int_equal(txq__classify("40001", NULL), TXQ_ECONFLICT);
    assert_int_equal(txq__classify("40P01", NULL), TXQ_ECONFLICT);
    assert_int_equal(txq__classify("40002", NULL), TXQ_EDB);
    assert_int_equal(txq__classify("22023", NULL), TXQ_EINVAL);
    assert_int_equal(txq__classify("22P02", NULL), TXQ_EINVAL);
    assert_int_equal(txq__classify("54000", NULL), TXQ_ETOOBIG);
    assert_int_equal(txq__classify("TQ001", NULL), TXQ_EDB);
    assert_int_equal(txq__classify("TQ002", NULL), TXQ_ENOTFOUND);
    assert_int_equal(txq__classify("TQ003", NULL), TXQ_ESTATE);
    assert_int_equal(txq__classify("55000", NULL), TXQ_ESTATE);
    assert_int_equal(txq__classify("TQ004", NULL), TXQ_ENOROUTE);
    assert_int_equal(txq__classify("TQ005", NULL), TXQ_EINVAL);
    assert_int_equal(txq__classify("42501", NULL), TXQ_EPERM);
    assert_int_equal(txq__classify("42710", NULL), TXQ_EEXIST);
    assert_int_equal(txq__classify("3F000", NULL), TXQ_ESCHEMA);
    assert_int_equal(txq__classify("42883", NULL), TXQ_ESCHEMA);
    assert_int_equal(txq__classify("42P01", NULL), TXQ_ESCHEMA);
    assert_int_equal(txq__classify("XX000", NULL), TXQ_EDB);
}

/* === receive rows made by hand === */

#define N_COLS 12

static const Oid types[N_COLS] = {20, 25, 23, 25,   17,   25,
                                  25, 23, 25, 1184, 1184, 16};

/* An empty binary receive-shaped result of ncols columns. */
static PGresult *
result_new(int ncols)
{
    PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc a[N_COLS];
    static char name[] = "c";

    assert_non_null(r);
    memset(a, 0, sizeof a);
    for (int i = 0; i < ncols; i++) {
        a[i].name = name;
        a[i].format = 1;
        a[i].typid = types[i];
        a[i].typlen = -1;
        a[i].atttypmod = -1;
    }
    assert_true(PQsetResultAttrs(r, ncols, a));
    return r;
}

static void
set_be(PGresult *r, int row, int col, uint64_t v, int width)
{
    char b[8];

    for (int i = 0; i < width; i++)
        b[i] = (char)(v >> (8 * (width - 1 - i)));
    assert_true(PQsetvalue(r, row, col, b, width));
}

static void
set_text(PGresult *r, int row, int col, const char *s)
{
    char buf[64];

    if (s == NULL) {
        assert_true(PQsetvalue(r, row, col, NULL, -1));
        return;
    }
    assert_true(strlen(s) < sizeof buf);
    memcpy(buf, s, strlen(s) + 1);
    assert_true(PQsetvalue(r, row, col, buf, (int)strlen(s)));
}

/* A row: id, queue, attempts, headers, body, correlation_id, reply_to,
 * priority, group, enqueued_at, visible_until, sealed. */
static void
add_row(PGresult *r, int row, int64_t id, const char *body, int priority)
{
    set_be(r, row, 0, (uint64_t)id, 8);
    set_text(r, row, 1, "jobs");
    set_be(r, row, 2, 3, 4);
    set_text(r, row, 3, "{\"k\": 1}");
    set_text(r, row, 4, body);
    set_text(r, row, 5, NULL);
    set_text(r, row, 6, "replies");
    set_be(r, row, 7, (uint64_t)(uint32_t)priority, 4);
    set_text(r, row, 8, NULL);
    /* 2000-01-01 00:00:01.5 UTC, and infinity */
    set_be(r, row, 9, 1500000, 8);
    set_be(r, row, 10, (uint64_t)INT64_MAX, 8);
    set_be(r, row, 11, 0, 1);
}

static void
test_decode_rows(void **state)
{
    txq_client *c = txq_client_new(NULL);
    PGresult *r = result_new(N_COLS);
    txq_msg **msgs = NULL;
    size_t n = 0, len = 0;

    (void)state;
    assert_int_equal(txq__msgs_from_result(c, r, &msgs, &n), TXQ_EMPTY);
    add_row(r, 0, 42, "hello", -5);
    add_row(r, 1, INT64_C(1) << 40, "", 7);
    assert_int_equal(txq__msgs_from_result(c, r, &msgs, &n), TXQ_OK);
    assert_int_equal(n, 2);
    assert_int_equal(txq_msg_id(msgs[0]), 42);
    assert_string_equal(txq_msg_queue(msgs[0]), "jobs");
    assert_int_equal(txq_msg_attempt(msgs[0]), 3);
    assert_string_equal(txq_msg_headers(msgs[0]), "{\"k\": 1}");
    assert_memory_equal(txq_msg_body(msgs[0], &len), "hello", 6);
    assert_int_equal(len, 5);
    assert_null(txq_msg_correlation_id(msgs[0]));
    assert_string_equal(txq_msg_reply_to(msgs[0]), "replies");
    assert_int_equal(txq_msg_priority(msgs[0]), -5);
    assert_null(txq_msg_group(msgs[0]));
    assert_true(txq_msg_enqueued_at(msgs[0]) == 946684801.5);
    assert_true(isinf(txq_msg_visible_until(msgs[0])));
    assert_int_equal(txq_msg_id(msgs[1]), INT64_C(1) << 40);
    assert_non_null(txq_msg_body(msgs[1], &len));
    assert_int_equal(len, 0);
    assert_int_equal(txq_msg_priority(msgs[1]), 7);
    txq_msgs_free(msgs, n);
    PQclear(r);
    txq_client_free(c);
}

static void
test_decode_bad_shapes(void **state)
{
    txq_client *c = txq_client_new(NULL);
    PGresult *r;
    txq_msg **msgs = NULL, *m = NULL;
    size_t n = 0;

    (void)state;
    /* A column short. */
    r = result_new(N_COLS - 1);
    assert_int_equal(txq__msgs_from_result(c, r, &msgs, &n), TXQ_EDB);
    assert_non_null(strstr(txq_errmsg(c), "11 columns"));
    PQclear(r);
    /* A NULL id in the second row: nothing returned, nothing leaked. */
    r = result_new(N_COLS);
    add_row(r, 0, 1, "a", 0);
    add_row(r, 1, 2, "b", 0);
    set_text(r, 1, 0, NULL);
    assert_int_equal(txq__msgs_from_result(c, r, &msgs, &n), TXQ_EDB);
    assert_non_null(strstr(txq_errmsg(c), "row 2"));
    assert_null(msgs);
    assert_int_equal(n, 0);
    /* An attempt of the wrong width. */
    add_row(r, 1, 2, "b", 0);
    set_be(r, 1, 2, 3, 8);
    assert_int_equal(txq__msg_from_row(c, r, 1, &m), TXQ_EDB);
    assert_null(m);
    PQclear(r);
    txq_client_free(c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_table),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_argument_checks),
        cmocka_unit_test(test_bad_schema_reported_by_first_call),
        cmocka_unit_test(test_splice),
        cmocka_unit_test(test_statement_table),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_decode_rows),
        cmocka_unit_test(test_decode_bad_shapes),
    };

    return cmocka_run_group_tests_name("lib", tests, NULL, NULL);
}
