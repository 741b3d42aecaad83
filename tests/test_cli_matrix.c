/*
 * test_cli_matrix.c - the role matrix through the txq tool: two queues (qx,
 * qy), five login roles (producer, consumer, operator and monitor of qx,
 * and one with no grant), each command on each queue. A command that acts
 * succeeds (exit 0) exactly when the role holds the privilege on that
 * queue, else exits 1 with one line naming the role, the queue and the
 * privilege; a command that lists shows the queue's rows exactly then.
 * Every cell starts from a ready message and a dead letter, made by the
 * superuser.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tt.h"

enum need { SEND, RECEIVE, OPERATE, MONITOR };
static const char *const need_name[] = {"send", "receive", "operate",
                                        "monitor"};

#define NROLES 5
static const struct {
    const char *tag;
    int has; /* a grant on qx (else none at all) */
    enum need priv;
} roles[NROLES] = {
    {"cprod", 1, SEND},    {"ccons", 1, RECEIVE}, {"coper", 1, OPERATE},
    {"cmoni", 1, MONITOR}, {"cnone", 0, SEND},
};

/* ACT: success is exit 0 (and, for recv, a message printed); refusal is
 * exit 1 naming role, queue and privilege. LIST: success is the queue's
 * row or message in the output ({Q} or {dead} found), refusal its
 * absence or exit 1. */
enum kind { ACT, LIST };
#define MAXARGS 8
static const struct {
    const char *name;
    enum need need;
    enum kind kind;
    const char *args[MAXARGS];
} ops[] = {
    {"send", SEND, ACT, {"send", "{q}", "b"}},
    {"publish", SEND, ACT, {"publish", "t_{q}", "b"}},
    {"recv", RECEIVE, ACT, {"recv", "{q}", "--ack"}},
    {"peek", MONITOR, LIST, {"peek", "{q}"}},
    {"stats", MONITOR, LIST, {"stats", "--json"}},
    {"dead list", OPERATE, LIST, {"dead", "list", "--json"}},
    {"dead show", OPERATE, LIST, {"dead", "show", "{dead}"}},
    {"dead requeue", OPERATE, ACT, {"dead", "requeue", "{dead}"}},
    {"dead requeue --all", OPERATE, ACT, {"dead", "requeue", "--all", "{q}"}},
    {"dead discard",
     OPERATE,
     ACT,
     {"dead", "discard", "{dead}", "--reason", "why"}},
    {"queue alter",
     OPERATE,
     ACT,
     {"queue", "alter", "{q}", "--max-attempts", "7"}},
    {"grants", OPERATE, LIST, {"grants", "{q}"}},
};

static int
allowed(int r, const char *q, enum need need)
{
    if (!roles[r].has || strcmp(q, "qx") != 0)
        return 0;
    return roles[r].priv == need ||
           (roles[r].priv == OPERATE && need == MONITOR);
}

/* A ready message and a dead letter on q; the dead letter's id. */
static long long
prepare(tt_fixture *f, const char *q)
{
    tt_exec(f->pg, "select purge('%s', 'next cell')", q);
    tt_exec(f->pg, "select send('%s', 'dead')", q);
    tt_exec(f->pg,
            "select fail(id, 'broken', attempts, true) "
            "from receive('%s', 1)",
            q);
    tt_send(f, f->pg, q, "ready");
    return tt_scalar(f->pg,
                     "select max(d.id) from dead_letter_messages d join "
                     "queues q using (queue_id) where q.name = '%s'",
                     q);
}

static void
cell(tt_fixture *f,
     const char *role,
     const char *db,
     int r,
     const char *q,
     size_t op,
     int *granted)
{
    char qv[8], topic[16], dead[32], needle[600];
    const char *args[MAXARGS + 3] = {"--db", db};
    size_t n = 2;
    tt_run run;
    int ok, want = allowed(r, q, ops[op].need);

    snprintf(qv, sizeof qv, "%s", q);
    snprintf(topic, sizeof topic, "t_%s", q);
    snprintf(dead, sizeof dead, "%lld", prepare(f, q));
    for (size_t i = 0; i < MAXARGS && ops[op].args[i] != NULL; i++) {
        const char *a = ops[op].args[i];

        args[n++] = strcmp(a, "{q}") == 0      ? qv
                    : strcmp(a, "t_{q}") == 0  ? topic
                    : strcmp(a, "{dead}") == 0 ? dead
                                               : a;
    }
    args[n] = NULL;
    tt_txq(f, &run, NULL, 0, args);
    if (ops[op].kind == ACT) {
        ok = run.code == 0 &&
             (strcmp(ops[op].name, "recv") != 0 || run.out[0] != '\0');
    } else {
        if (strcmp(ops[op].name, "dead show") == 0)
            snprintf(needle, sizeof needle, "broken");
        else if (strcmp(ops[op].name, "grants") == 0)
            snprintf(needle, sizeof needle, "%s", role);
        else
            snprintf(needle, sizeof needle, "\"%s\"", q);
        ok = run.code == 0 && strstr(run.out, needle) != NULL;
    }
    if (ok != want)
        fail_msg("txq %s as %s on %s: want %s, got exit %d: %s%s", ops[op].name,
                 roles[r].tag, q, want ? "success" : "refusal", run.code,
                 run.out, run.err);
    if (!ok && ops[op].kind == ACT && roles[r].has &&
        (run.code != 1 || strstr(run.err, role) == NULL ||
         strstr(run.err, q) == NULL ||
         strstr(run.err, need_name[ops[op].need]) == NULL))
        fail_msg("txq %s as %s on %s: the refusal does not name role, queue "
                 "and %s: exit %d: %s",
                 ops[op].name, roles[r].tag, q, need_name[ops[op].need],
                 run.code, run.err);
    if (!ok && !roles[r].has && run.code == 0 && ops[op].kind == ACT)
        fail_msg("txq %s as %s: exit 0", ops[op].name, roles[r].tag);
    tt_run_free(&run);
    *granted += want;
}

static void
test_cli_matrix(void **state)
{
    tt_fixture *f = *state;
    char role[NROLES][64], db[NROLES][600];
    const char *queues[2] = {"qx", "qy"};
    int cells = 0, granted = 0;

    tt_queue(f, "qx", NULL);
    tt_queue(f, "qy", NULL);
    tt_exec(f->pg, "select create_topic('t_qx'), create_topic('t_qy')");
    tt_exec(f->pg, "select subscribe('t_qx', 'qx'), subscribe('t_qy', 'qy')");
    for (int r = 0; r < NROLES; r++) {
        tt_role(f, role[r], sizeof role[r], roles[r].tag, NULL);
        snprintf(db[r], sizeof db[r], "%s user=%s", tt_dsn(), role[r]);
        if (roles[r].has)
            tt_exec(f->pg, "select %s.grant('qx', '%s', array['%s'])",
                    f->schema, role[r], need_name[roles[r].priv]);
    }
    for (int r = 0; r < NROLES; r++)
        for (int q = 0; q < 2; q++)
            for (size_t op = 0; op < sizeof ops / sizeof ops[0]; op++) {
                cell(f, role[r], db[r], r, queues[q], op, &granted);
                cells++;
            }
    print_message("CLI role matrix: %d cells, %d granted, %d refused\n", cells,
                  granted, cells - granted);
    for (int r = 0; r < NROLES; r++) {
        tt_exec(f->pg, "drop owned by %s", role[r]);
        tt_exec(f->pg, "drop role %s", role[r]);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_cli_matrix, tt_setup, tt_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
