/*
 * test_grants.c - per-queue grants: the role matrix. Two queues (X, Y) and
 * five roles (producer, consumer, operator and monitor of X, and a role
 * with no grant); every operation of the SQL API and of libtxq on each
 * queue as each role. A cell succeeds exactly when the role holds the
 * privilege the operation needs on that queue; every other cell is
 * refused with 42501 and a message naming the role, the queue and the
 * privilege (the role with no grant at all cannot reach the schema:
 * PostgreSQL's own 42501, or through the search path no such function or
 * view). Every cell starts from fresh messages: a ready
 * one, one claimed (held by its attempt) and a dead letter.
 */
#include <stdlib.h>
#include <string.h>

#include "tt.h"

enum need { SEND, RECEIVE, OPERATE, MONITOR };
static const char *const need_name[] = {"send", "receive", "operate",
                                        "monitor"};

#define NROLES 5
static const struct {
    const char *tag;
    int queue_x; /* the grant is on X (else no grant at all) */
    enum need priv;
} roles[NROLES] = {
    {"prod", 1, SEND},    {"cons", 1, RECEIVE}, {"oper", 1, OPERATE},
    {"moni", 1, MONITOR}, {"none", 0, SEND},
};

/* What each cell starts from, made by the superuser. */
struct fresh {
    long long ready, held, dead;
    int held_attempt;
};

struct matrix {
    tt_fixture *f;
    char role[NROLES][64];
    PGconn *as[NROLES]; /* a session that SET ROLE to each */
    int cells, granted;
};

static int
allowed(int r, const char *queue, enum need need)
{
    if (!roles[r].queue_x || strcmp(queue, "qx") != 0)
        return 0;
    return roles[r].priv == need ||
           (roles[r].priv == OPERATE && need == MONITOR);
}

static void
prepare(tt_fixture *f, const char *q, struct fresh *x)
{
    PGresult *r;

    tt_exec(f->pg, "select purge('%s', 'next cell')", q);
    tt_exec(f->pg, "select send('%s', 'dead')", q);
    tt_exec(f->pg,
            "select fail(id, 'broken', attempts, true) "
            "from receive('%s', 1)",
            q);
    x->dead = tt_scalar(f->pg,
                        "select max(d.id) from dead_letter_messages d join "
                        "queues q using (queue_id) where q.name = '%s'",
                        q);
    tt_exec(f->pg,
            "select send('%s', 'held', i_correlation_id => 'c1', "
            "i_reply_to => '%s')",
            q, q);
    r = tt_query(f->pg, "select id, attempts from receive('%s', 1)", q);
    assert_int_equal(PQntuples(r), 1);
    x->held = atoll(PQgetvalue(r, 0, 0));
    x->held_attempt = atoi(PQgetvalue(r, 0, 1));
    PQclear(r);
    x->ready = tt_send(f, f->pg, q, "ready");
}

/* The template with {q}, {ready}, {held}, {att} and {dead} filled in. */
static void
fill(char *out,
     size_t size,
     const char *tpl,
     const char *q,
     const struct fresh *x)
{
    size_t o = 0;

    while (*tpl != '\0' && o + 32 < size) {
        char v[40] = "";
        const char *end = *tpl == '{' ? strchr(tpl, '}') : NULL;

        if (end == NULL) {
            out[o++] = *tpl++;
            continue;
        }
        if (strncmp(tpl, "{q}", 3) == 0)
            snprintf(v, sizeof v, "%s", q);
        else if (strncmp(tpl, "{ready}", 7) == 0)
            snprintf(v, sizeof v, "%lld", x->ready);
        else if (strncmp(tpl, "{held}", 6) == 0)
            snprintf(v, sizeof v, "%lld", x->held);
        else if (strncmp(tpl, "{att}", 5) == 0)
            snprintf(v, sizeof v, "%d", x->held_attempt);
        else if (strncmp(tpl, "{dead}", 6) == 0)
            snprintf(v, sizeof v, "%lld", x->dead);
        else
            fail_msg("bad template %s", tpl);
        o += (size_t)snprintf(out + o, size - o, "%s", v);
        tpl = end + 1;
    }
    out[o] = '\0';
}

/* A refusal: 42501, and (but for the role with no grant, which PostgreSQL
 * stops at the schema) a message naming role, queue and privilege. */
static void
check_refusal(const struct matrix *m,
              int r,
              const char *q,
              enum need need,
              const char *state,
              const char *msg,
              const char *what)
{
    /* Without USAGE on the schema its names are not found at all. */
    if (!roles[r].queue_x &&
        (strcmp(state, "42883") == 0 || strcmp(state, "42P01") == 0))
        return;
    if (strcmp(state, "42501") != 0)
        fail_msg("%s as %s on %s: want 42501, got %s: %s", what, roles[r].tag,
                 q, state, msg);
    if (!roles[r].queue_x)
        return;
    if (strstr(msg, m->role[r]) == NULL || strstr(msg, q) == NULL ||
        strstr(msg, need_name[need]) == NULL)
        fail_msg("%s as %s on %s: the refusal does not name role, queue "
                 "and %s: %s",
                 what, roles[r].tag, q, need_name[need], msg);
}

/* SQL operations. CALL: success is no error. ROWS: a view; success is a
 * count (first column) or an update count above 0, refusal is 0 rows or
 * 42501. */
enum kind { CALL, ROWS };
static const struct {
    const char *name;
    enum need need;
    enum kind kind;
    const char *sql;
} sql_ops[] = {
    {"send", SEND, CALL, "select send('{q}', 'b')"},
    {"send_batch", SEND, CALL,
     "select send_batch('{q}', array['a', 'b']::bytea[])"},
    {"publish", SEND, CALL, "select publish('t_{q}', 'b')"},
    {"reply", SEND, CALL, "select reply('{q}', 'corr-1', 'b')"},
    {"receive", RECEIVE, CALL, "select count(*) from receive('{q}', 10)"},
    {"take", RECEIVE, CALL, "select count(*) from take('{q}', 10)"},
    {"pop", RECEIVE, CALL, "select count(*) from pop('{q}', 10)"},
    {"wait_begin", RECEIVE, CALL, "select wait_begin('{q}')"},
    {"ack", RECEIVE, CALL, "select ack(array[{held}], array[{att}])"},
    {"ack_receive", RECEIVE, CALL,
     "select count(*) from ack_receive(array[{held}], array[{att}], '{q}', "
     "1)"},
    {"fail", RECEIVE, CALL, "select fail({held}, 'e', {att})"},
    {"set_visibility", RECEIVE, CALL,
     "select set_visibility({held}, '1 minute', {att})"},
    {"ack without attempt", OPERATE, CALL, "select ack(array[{ready}])"},
    {"fail without attempt", OPERATE, CALL, "select fail({held}, 'e')"},
    {"set_visibility without attempt", OPERATE, CALL,
     "select set_visibility({held}, '1 minute')"},
    {"cancel", OPERATE, CALL, "select cancel(array[{ready}], 'why')"},
    {"purge", OPERATE, CALL, "select purge('{q}', 'why')"},
    {"requeue", OPERATE, CALL, "select requeue({dead})"},
    {"requeue_all", OPERATE, CALL, "select requeue_all('{q}')"},
    {"discard", OPERATE, CALL, "select discard({dead}, 'why')"},
    {"alter_queue", OPERATE, CALL,
     "select alter_queue('{q}', i_max_attempts => 7)"},
    {"dead_letters", OPERATE, ROWS,
     "select count(*) from dead_letters where id = {dead}"},
    {"dead_letters update", OPERATE, ROWS,
     "update dead_letters set body = 'edited' where id = {dead}"},
    {"grants", OPERATE, ROWS,
     "select count(*) from grants where queue = '{q}'"},
    {"peek", MONITOR, CALL, "select count(*) from peek('{q}')"},
    {"queue_stats", MONITOR, ROWS,
     "select count(*) from queue_stats where queue = '{q}'"},
};

static void
sql_cell(struct matrix *m, int r, const char *q, size_t op)
{
    struct fresh x;
    char sql[512];
    PGresult *res;
    ExecStatusType st;
    int ok, want;
    const char *state;

    prepare(m->f, q, &x);
    fill(sql, sizeof sql, sql_ops[op].sql, q, &x);
    res = PQexec(m->as[r], sql);
    st = PQresultStatus(res);
    want = allowed(r, q, sql_ops[op].need);
    ok = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
    if (ok && sql_ops[op].kind == ROWS)
        ok = st == PGRES_TUPLES_OK ? atoll(PQgetvalue(res, 0, 0)) > 0
                                   : atoll(PQcmdTuples(res)) > 0;
    if (ok != want)
        fail_msg("SQL %s as %s on %s: want %s, got %s: %s", sql_ops[op].name,
                 roles[r].tag, q, want ? "success" : "refusal",
                 ok ? "success" : "refusal", PQresultErrorMessage(res));
    if (!ok && (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)) {
        state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        check_refusal(m, r, q, sql_ops[op].need, state ? state : "",
                      PQresultErrorMessage(res), sql_ops[op].name);
    }
    PQclear(res);
    m->cells++;
    m->granted += want;
}

/* libtxq operations: each returns the call's result; fresh as above. */
static txq_err
lib_op(tt_fixture *f,
       txq_client *c,
       PGconn *pg,
       int op,
       const char *q,
       const struct fresh *x,
       enum need *need,
       const char **name)
{
    static const char *const names[] = {
        "txq_send",    "txq_send_batch",     "txq_publish", "txq_reply",
        "txq_claim",   "txq_receive",        "txq_pop",     "txq_ack",
        "txq_fail",    "txq_set_visibility", "txq_requeue", "txq_requeue_all",
        "txq_discard", "txq_queue_alter"};
    static const enum need needs[] = {
        SEND,    SEND,    SEND,    SEND,    RECEIVE, RECEIVE, RECEIVE,
        RECEIVE, RECEIVE, RECEIVE, OPERATE, OPERATE, OPERATE, OPERATE};
    const void *bodies[2] = {"a", "b"};
    size_t lens[2] = {1, 1};
    int64_t ids[2];
    size_t n = 0;
    txq_msg **msgs = NULL;
    txq_msg *held = NULL;
    char topic[16];
    txq_err rc = TXQ_OK;
    txq_queue_opts qo = {.size = sizeof(txq_queue_opts), .max_attempts = 7};

    if (op >= (int)(sizeof names / sizeof names[0]))
        return (txq_err)-1;
    *need = needs[op];
    *name = names[op];
    /* The held message as a txq_msg: released and claimed again by the
     * superuser (the ready one acked first), so it carries id and
     * attempt. */
    if (op == 3 || (op >= 7 && op <= 9)) {
        txq_msg **h = NULL;
        size_t hn = 0;

        tt_exec(f->pg, "select set_visibility(%lld, '0', %d)", x->held,
                x->held_attempt);
        tt_exec(f->pg, "select ack(array[%lld])", x->ready);
        assert_txq_ok(f->c, txq_claim(f->c, f->pg, q, 1, NULL, &h, &hn));
        assert_int_equal(hn, 1);
        held = h[0];
        free(h);
    }
    switch (op) {
    case 0:
        rc = txq_send(c, pg, q, "b", 1, NULL, NULL);
        break;
    case 1:
        rc = txq_send_batch(c, pg, q, bodies, lens, 2, NULL, ids);
        break;
    case 2:
        snprintf(topic, sizeof topic, "t_%s", q);
        rc = txq_publish(c, pg, topic, "b", 1, NULL, ids, 2, &n);
        break;
    case 3:
        rc = txq_reply(c, pg, held, "r", 1, NULL, NULL);
        break;
    case 4:
        rc = txq_claim(c, pg, q, 10, NULL, &msgs, &n);
        break;
    case 5:
        tt_exec(pg, "begin");
        rc = txq_receive(c, pg, q, 10, NULL, &msgs, &n);
        tt_rollback(pg);
        break;
    case 6:
        tt_exec(pg, "begin");
        rc = txq_pop(c, pg, q, 10, &msgs, &n);
        tt_rollback(pg);
        break;
    case 7:
        rc = txq_ack(c, pg, held);
        break;
    case 8:
        rc = txq_fail(c, pg, held, "e", NULL, NULL);
        break;
    case 9:
        rc = txq_set_visibility(c, pg, held, 60);
        break;
    case 10:
        rc = txq_requeue(c, pg, x->dead);
        break;
    case 11:
        rc = txq_requeue_all(c, pg, q, NULL);
        break;
    case 12:
        rc = txq_discard(c, pg, x->dead, "why");
        break;
    case 13:
        rc = txq_queue_alter(c, pg, q, &qo);
        break;
    }
    if (rc == TXQ_EMPTY)
        rc = TXQ_OK;
    txq_msgs_free(msgs, n);
    txq_msg_free(held);
    return rc;
}

static void
lib_cell(struct matrix *m, int r, const char *q, int op)
{
    struct fresh x;
    enum need need;
    const char *name;
    txq_client *c = txq_client_new(TXQ_OPTIONS(.schema = m->f->schema));
    txq_err rc;
    int want;

    assert_non_null(c);
    prepare(m->f, q, &x);
    rc = lib_op(m->f, c, m->as[r], op, q, &x, &need, &name);
    want = allowed(r, q, need);
    if ((rc == TXQ_OK) != want)
        fail_msg("%s as %s on %s: want %s, got %s: %s", name, roles[r].tag, q,
                 want ? "success" : "refusal", txq_strerror(rc), txq_errmsg(c));
    if (rc != TXQ_OK) {
        assert_int_equal(rc, TXQ_EPERM);
        check_refusal(m, r, q, need, txq_sqlstate(c), txq_errmsg(c), name);
    }
    txq_client_free(c);
    m->cells++;
    m->granted += want;
}

static void
matrix_setup(struct matrix *m, tt_fixture *f)
{
    memset(m, 0, sizeof *m);
    m->f = f;
    tt_queue(f, "qx", NULL);
    tt_queue(f, "qy", NULL);
    tt_exec(f->pg, "select create_topic('t_qx'), create_topic('t_qy')");
    tt_exec(f->pg, "select subscribe('t_qx', 'qx'), subscribe('t_qy', 'qy')");
    for (int r = 0; r < NROLES; r++) {
        tt_role(f, m->role[r], sizeof m->role[r], roles[r].tag, "pg_monitor");
        tt_exec(f->pg, "revoke pg_monitor from %s", m->role[r]);
        if (roles[r].queue_x)
            tt_exec(f->pg, "select %s.grant('qx', '%s', array['%s'])",
                    f->schema, m->role[r], need_name[roles[r].priv]);
        m->as[r] = tt_connect(f->schema);
        tt_exec(m->as[r], "set role %s", m->role[r]);
    }
}

static void
matrix_teardown(struct matrix *m)
{
    for (int r = 0; r < NROLES; r++) {
        PQfinish(m->as[r]);
        tt_exec(m->f->pg, "drop owned by %s", m->role[r]);
        tt_exec(m->f->pg, "drop role %s", m->role[r]);
    }
}

static void
test_sql_matrix(void **state)
{
    tt_fixture *f = *state;
    struct matrix m;
    const char *queues[2] = {"qx", "qy"};

    matrix_setup(&m, f);
    for (int r = 0; r < NROLES; r++)
        for (int q = 0; q < 2; q++)
            for (size_t op = 0; op < sizeof sql_ops / sizeof sql_ops[0]; op++)
                sql_cell(&m, r, queues[q], op);
    print_message("SQL role matrix: %d cells, %d granted, %d refused\n",
                  m.cells, m.granted, m.cells - m.granted);
    assert_int_equal(m.cells,
                     NROLES * 2 * (int)(sizeof sql_ops / sizeof sql_ops[0]));
    matrix_teardown(&m);
}

static void
test_libtxq_matrix(void **state)
{
    tt_fixture *f = *state;
    struct matrix m;
    const char *queues[2] = {"qx", "qy"};
    int nops = 14;

    matrix_setup(&m, f);
    for (int r = 0; r < NROLES; r++)
        for (int q = 0; q < 2; q++)
            for (int op = 0; op < nops; op++)
                lib_cell(&m, r, queues[q], op);
    print_message("libtxq role matrix: %d cells, %d granted, %d refused\n",
                  m.cells, m.granted, m.cells - m.granted);
    matrix_teardown(&m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sql_matrix, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_libtxq_matrix, tt_setup,
                                        tt_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
