/*
 * test_grants_admin.c - managing per-queue grants: grant() and revoke()
 * (bad input changes nothing, only an admin may, audited), what the four
 * txq_* roles keep ('*' grants of each schema, revocable), grants that end
 * at their schema, '*' covering queues made later, the direct send held to
 * the grants, and txq migrate by a database owner who is not superuser.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tt.h"

/* A fresh login role, a member of member (or of nothing: NULL); its
 * session SET ROLE to it. */
static PGconn *
new_role(
    tt_fixture *f, char *role, size_t size, const char *tag, const char *member)
{
    PGconn *pg;

    snprintf(role, size, "txq_t_%s_%d", tag, (int)getpid());
    tt_exec(f->pg, "drop role if exists %s", role);
    tt_exec(f->pg, "create role %s login", role);
    if (member != NULL)
        tt_exec(f->pg, "grant %s to %s", member, role);
    pg = tt_connect(f->schema);
    tt_exec(pg, "set track_functions = 'all'"); /* tt_fn_calls */
    /* A failed assertion leaves a transaction open: end it soon, so the
     * teardown's drop schema does not wait for it. */
    tt_exec(pg, "set idle_in_transaction_session_timeout = '3s'");
    tt_exec(pg, "set role %s", role);
    return pg;
}

static void
drop_role(tt_fixture *f, PGconn *pg, const char *role)
{
    PQfinish(pg);
    tt_exec(f->pg, "drop owned by %s", role);
    tt_exec(f->pg, "drop role %s", role);
}

static long long
grant_rows(tt_fixture *f)
{
    return tt_scalar(f->pg, "select count(*) from queue_grants");
}

static void
test_grant_revoke_and_bad_input(void **state)
{
    tt_fixture *f = *state;
    char role[64], msg[512];
    PGconn *pg;
    long long before;
    const char *s = f->schema;

    tt_queue(f, "qx", NULL);
    pg = new_role(f, role, sizeof role, "g", NULL);
    before = grant_rows(f);

    /* Each bad call names its problem and changes nothing. */
    assert_string_equal(tt_fails(f->pg, msg, sizeof msg,
                                 "select %s.grant('qx', 'no_such_role_x', "
                                 "array['send'])",
                                 s),
                        "42704");
    assert_non_null(strstr(msg, "no_such_role_x"));
    assert_string_equal(tt_fails(f->pg, msg, sizeof msg,
                                 "select %s.grant('qx', '%s', "
                                 "array['send', 'delete'])",
                                 s, role),
                        "22023");
    assert_non_null(strstr(msg, "unknown privilege \"delete\""));
    assert_string_equal(tt_fails(f->pg, msg, sizeof msg,
                                 "select %s.grant('qx', '%s', '{}')", s, role),
                        "22023");
    assert_string_equal(tt_fails(f->pg, msg, sizeof msg,
                                 "select %s.grant('qx', '%s', null)", s, role),
                        "22023");
    assert_string_equal(tt_fails(f->pg, msg, sizeof msg,
                                 "select %s.grant('qx', '%s', "
                                 "array['admin'])",
                                 s, role),
                        "22023");
    assert_non_null(strstr(msg, "admin is granted on every queue"));
    assert_string_equal(tt_fails(f->pg, msg, sizeof msg,
                                 "select %s.grant('nope', '%s', "
                                 "array['send'])",
                                 s, role),
                        "TQ002");
    assert_string_equal(tt_fails(f->pg, msg, sizeof msg,
                                 "select %s.grant('qx', '%s'' or 1=1 --', "
                                 "array['send'])",
                                 s, role),
                        "42704");
    assert_int_equal(grant_rows(f), before);

    /* Granted: it sends to qx, sees the row, the grant is audited; twice
     * adds nothing. */
    assert_int_equal(tt_scalar(f->pg,
                               "select %s.grant('qx', '%s', "
                               "array['send', 'monitor'])",
                               s, role),
                     2);
    assert_int_equal(
        tt_scalar(f->pg, "select %s.grant('qx', '%s', array['send'])", s, role),
        0);
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from grants where queue = "
                               "'qx' and role = '%s'",
                               role),
                     2);
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from audit_log where action "
                               "= 'grant' and queue = 'qx' and detail like "
                               "'%%%s%%'",
                               role),
                     2);
    assert_true(tt_scalar(pg, "select send('qx', 'b')") > 0);
    assert_int_equal(tt_scalar(pg, "select count(*) from peek('qx')"), 1);

    /* Not an admin: it may not grant, not even to itself. */
    assert_string_equal(tt_fails(pg, msg, sizeof msg,
                                 "select %s.grant('qx', '%s', "
                                 "array['receive'])",
                                 s, role),
                        "42501");
    assert_non_null(strstr(msg, "\"admin\""));
    assert_string_equal(tt_fails(pg, NULL, 0, "select create_queue('mine')"),
                        "42501");

    /* Revoked one privilege, then the rest: with nothing left it loses
     * the schema (USAGE, EXECUTE) too. */
    assert_int_equal(tt_scalar(f->pg,
                               "select %s.revoke('qx', '%s', "
                               "array['monitor'])",
                               s, role),
                     1);
    assert_string_equal(
        tt_fails(pg, msg, sizeof msg, "select count(*) from peek('qx')"),
        "42501");
    assert_non_null(strstr(msg, "lacks \"monitor\" on queue \"qx\""));
    assert_int_equal(tt_scalar(f->pg, "select %s.revoke('qx', '%s')", s, role),
                     1);
    assert_string_equal(tt_fails(pg, NULL, 0, "select %s.send('qx', 'b')", s),
                        "42501");
    assert_int_equal(
        tt_scalar(f->pg,
                  "select count(*) from audit_log where action = 'revoke'"),
        2);
    assert_int_equal(grant_rows(f), before);
    drop_role(f, pg, role);
}

/* The four roles keep what they had, as '*' grants of this schema, until
 * an admin revokes them; '*' covers queues made later. */
static void
test_default_roles_are_star_grants(void **state)
{
    tt_fixture *f = *state;
    char role[64], arole[64], msg[512];
    PGconn *pg, *admin;

    tt_queue(f, "qx", NULL);
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from grants where queue = "
                               "'*' and role like 'txq\\_%%'"),
                     7);
    pg = new_role(f, role, sizeof role, "c", "txq_consumer");
    admin = new_role(f, arole, sizeof arole, "a", "txq_admin");
    tt_send(f, f->pg, "qx", "a");
    assert_int_equal(tt_scalar(pg, "select count(*) from receive('qx')"), 1);

    assert_int_equal(tt_scalar(admin,
                               "select %s.revoke('*', 'txq_consumer', "
                               "array['receive'])",
                               f->schema),
                     1);
    tt_send(f, f->pg, "qx", "b");
    assert_string_equal(
        tt_fails(pg, msg, sizeof msg, "select count(*) from receive('qx')"),
        "42501");
    assert_non_null(strstr(msg, role));
    assert_non_null(strstr(msg, "lacks \"receive\" on queue \"qx\""));
    /* Still a producer of every queue: send was not revoked. */
    assert_true(tt_scalar(pg, "select send('qx', 'c')") > 0);

    /* Given back on '*': covers a queue created after the grant. */
    tt_exec(admin, "select %s.grant('*', 'txq_consumer', array['receive'])",
            f->schema);
    tt_exec(admin, "select create_queue('later')");
    tt_send(f, f->pg, "later", "d");
    assert_int_equal(tt_scalar(pg, "select count(*) from receive('later')"), 1);

    /* An admin that revokes admin from txq_admin is one no more. */
    tt_exec(admin, "select %s.revoke('*', 'txq_admin')", f->schema);
    assert_string_equal(
        tt_fails(admin, msg, sizeof msg, "select create_queue('again')"),
        "42501");
    assert_non_null(strstr(msg, "lacks \"admin\" on every queue"));
    drop_role(f, pg, role);
    drop_role(f, admin, arole);
}

/* A grant of one schema gives nothing in another of the same cluster,
 * and a dropped queue takes its grants with it. */
static void
test_grants_end_at_their_schema(void **state)
{
    tt_fixture *f = *state;
    char role[64], other[80], msg[512];
    PGconn *pg;
    txq_client *c2;

    snprintf(other, sizeof other, "%s_b", f->schema);
    tt_exec(f->pg, "drop schema if exists %s cascade", other);
    c2 = txq_client_new(TXQ_OPTIONS(.schema = other));
    assert_non_null(c2);
    assert_txq_ok(c2, txq_migrate(c2, f->pg, NULL));
    assert_txq_ok(c2, txq_queue_create(c2, f->pg, "qx", NULL));
    assert_txq_ok(c2, txq_queue_create(c2, f->pg, "qz", NULL));
    tt_queue(f, "qx", NULL);

    pg = new_role(f, role, sizeof role, "s", NULL);
    tt_exec(f->pg, "select %s.grant('*', '%s', array['send', 'receive'])",
            f->schema, role);
    tt_exec(f->pg, "select %s.grant('qz', '%s', array['monitor'])", other,
            role);
    tt_exec(f->pg, "select %s.send('qx', 'b')", other);
    assert_true(tt_scalar(pg, "select send('qx', 'a')") > 0);
    assert_string_equal(tt_fails(pg, msg, sizeof msg,
                                 "select count(*) from %s.receive('qx')",
                                 other),
                        "42501");
    assert_non_null(strstr(msg, "lacks \"receive\" on queue \"qx\""));
    assert_string_equal(
        tt_fails(pg, NULL, 0, "select %s.send('qx', 'b')", other), "42501");
    assert_int_equal(
        tt_scalar(f->pg, "select count(*) from %s.messages", other), 1);

    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from %s.queue_grants where "
                               "role = '%s'::regrole",
                               other, role),
                     1);
    assert_txq_ok(c2, txq_queue_drop(c2, f->pg, "qz", 0));
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from %s.queue_grants where "
                               "role = '%s'::regrole",
                               other, role),
                     0);
    tt_exec(f->pg, "drop schema %s cascade", other);
    txq_client_free(c2);
    drop_role(f, pg, role);
}

/* libtxq's direct send (an INSERT as the caller, for txq_producer members)
 * is held to the grants: by its statement, which then leaves the send to
 * send() and its refusal, and by row security, for an INSERT of its own. */
static void
test_direct_send_held_to_grants(void **state)
{
    tt_fixture *f = *state;
    char role[64];
    PGconn *pg;
    int64_t id = 0;
    long long calls;

    tt_queue(f, "qx", NULL);
    tt_queue(f, "qy", NULL);
    tt_exec(f->pg, "select %s.revoke('*', 'txq_producer', array['send'])",
            f->schema);
    pg = new_role(f, role, sizeof role, "p", "txq_producer");
    tt_exec(f->pg, "select %s.grant('qx', '%s', array['send'])", f->schema,
            role);

    tt_exec(pg, "begin");
    calls = tt_fn_calls(pg, "send");
    assert_txq_ok(f->c, txq_send(f->c, pg, "qx", "a", 1, NULL, &id));
    assert_int_equal(tt_fn_calls(pg, "send") - calls, 0); /* direct */
    tt_exec(pg, "commit");
    assert_true(id > 0);

    assert_txq_rc(f->c, txq_send(f->c, pg, "qy", "b", 1, NULL, &id), TXQ_EPERM);
    assert_non_null(strstr(txq_errmsg(f->c), "lacks \"send\" on queue \"qy\""));
    /* The statement itself stepped aside (no policy violation): the
     * connection still sends directly. */
    tt_exec(pg, "begin");
    calls = tt_fn_calls(pg, "send");
    assert_txq_ok(f->c, txq_send(f->c, pg, "qx", "c", 1, NULL, &id));
    assert_int_equal(tt_fn_calls(pg, "send") - calls, 0);
    tt_exec(pg, "commit");
    assert_string_equal(
        tt_fails(pg, NULL, 0,
                 "insert into messages (queue_id, enqueued_at, visible_at, "
                 "headers, body) select queue_id, now(), now(), '{}', 'x' "
                 "from queues where name = 'qy'"),
        "42501");
    tt_exec(pg, "insert into messages (queue_id, enqueued_at, visible_at, "
                "headers, body) select queue_id, now(), now(), '{}', 'x' "
                "from queues where name = 'qx'");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from messages m join "
                                      "queues q using (queue_id) where "
                                      "q.name = 'qy'"),
                     0);
    assert_int_equal(tt_depth(f), 3);
    drop_role(f, pg, role);
}

/* A database owner who is not superuser runs txq migrate once the four
 * roles exist (here made by earlier migrations of the same cluster), with
 * CREATE on the database and nothing else; the roles then work. */
static void
test_migrate_by_non_superuser(void **state)
{
    tt_fixture *f = *state;
    char owner[64], schema[80], role[64];
    PGconn *own, *pg;
    txq_client *c;
    int applied = 0;

    snprintf(owner, sizeof owner, "txq_t_owner_%d", (int)getpid());
    snprintf(schema, sizeof schema, "%s_own", f->schema);
    tt_exec(f->pg, "drop role if exists %s", owner);
    tt_exec(f->pg, "create role %s login nosuperuser nocreaterole", owner);
    tt_exec(f->pg, "grant create on database %s to %s", PQdb(f->pg), owner);
    own = tt_connect(NULL);
    tt_exec(own, "set role %s", owner);
    c = txq_client_new(TXQ_OPTIONS(.schema = schema));
    assert_non_null(c);
    assert_txq_ok(c, txq_migrate(c, own, &applied));
    assert_int_equal(applied, TXQ_SCHEMA_VERSION);
    assert_txq_ok(c, txq_queue_create(c, own, "jobs", NULL));
    assert_txq_ok(c, txq_send(c, own, "jobs", "a", 1, NULL, NULL));

    pg = tt_role_session(f, role, sizeof role, "txq_consumer");
    assert_int_equal(
        tt_scalar(pg, "select count(*) from %s.receive('jobs')", schema), 1);
    tt_end_role_session(f, pg, role);

    PQfinish(own);
    txq_client_free(c);
    tt_exec(f->pg, "drop schema %s cascade", schema);
    tt_exec(f->pg, "revoke create on database %s from %s", PQdb(f->pg), owner);
    tt_exec(f->pg, "drop owned by %s", owner);
    tt_exec(f->pg, "drop role %s", owner);
}

/* An operator of one queue who is no member of txq_operator edits its dead
 * letters through the view (audited) and sees no other queue's. */
static void
test_queue_operator_edits_its_dead_letters(void **state)
{
    tt_fixture *f = *state;
    char role[64];
    PGconn *pg;

    tt_queue(f, "qx", NULL);
    tt_queue(f, "qy", NULL);
    tt_exec(f->pg, "select send('qx', 'a'), send('qy', 'b')");
    tt_exec(f->pg, "select fail(id, 'e', attempts, true) from "
                   "receive('qx', 1)");
    tt_exec(f->pg, "select fail(id, 'e', attempts, true) from "
                   "receive('qy', 1)");
    pg = new_role(f, role, sizeof role, "o", NULL);
    tt_exec(f->pg, "select %s.grant('qx', '%s', array['operate'])", f->schema,
            role);
    assert_int_equal(tt_scalar(pg, "select count(*) from dead_letters"), 1);
    tt_exec(pg, "update dead_letters set body = 'fixed'");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from dead_letters "
                                      "where body = 'fixed'"),
                     1);
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from audit_log where action "
                               "= 'edit' and acting_role = '%s'",
                               role),
                     1);
    assert_int_equal(tt_scalar(pg, "select count(*) from queue_stats"), 1);
    drop_role(f, pg, role);
}

/* txq_operator's direct table access is held to its grants: revoked on
 * '*' and granted on qx, it reads and edits qx's rows only. */
static void
test_operator_tables_follow_grants(void **state)
{
    tt_fixture *f = *state;
    char role[64];
    PGconn *pg;
    const char *tables[] = {"dead_letter_messages", "alerts", "audit_log",
                            "message_errors", "archive"};
    txq_queue_opts o = {.size = sizeof(txq_queue_opts),
                        .on_exhausted = TXQ_ON_EXHAUSTED_NOTIFY,
                        .max_attempts = 1,
                        .archive_for = 3600};

    tt_queue(f, "qx", &o);
    tt_queue(f, "qy", &o);
    for (int i = 0; i < 2; i++) {
        const char *q = i == 0 ? "qx" : "qy";

        tt_exec(f->pg, "select send('%s', 'a'), send('%s', 'b')", q, q);
        tt_exec(f->pg, "select fail(id, 'e', attempts) from receive('%s', 1)",
                q);
        tt_exec(f->pg,
                "select ack(array[id], array[attempts]) from "
                "receive('%s', 1)",
                q);
        tt_exec(f->pg, "select purge('%s', 'audited')", q);
    }
    pg = new_role(f, role, sizeof role, "ot", "txq_operator");
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        assert_int_equal(
            tt_scalar(pg, "select count(*) from %s", tables[t]) > 0, 1);
    tt_exec(f->pg, "select %s.revoke('*', 'txq_operator')", f->schema);
    tt_exec(f->pg, "select %s.grant('qx', '%s', array['operate'])", f->schema,
            role);
    assert_int_equal(tt_scalar(pg, "select count(*) from dead_letter_messages "
                                   "d join queues q using (queue_id) where "
                                   "q.name = 'qy'"),
                     0);
    assert_int_equal(tt_scalar(pg, "select count(*) from dead_letter_messages "
                                   "d join queues q using (queue_id) where "
                                   "q.name = 'qx'"),
                     1);
    assert_int_equal(
        tt_scalar(pg, "select count(*) from alerts where queue = 'qy'"), 0);
    assert_int_equal(
        tt_scalar(pg, "select count(*) from alerts where queue = 'qx'"), 1);
    assert_int_equal(
        tt_scalar(pg, "select count(*) from audit_log where queue = 'qy'"), 0);
    assert_true(
        tt_scalar(pg, "select count(*) from audit_log where queue = 'qx'") > 0);
    assert_int_equal(tt_scalar(pg, "select count(*) from archive a join queues "
                                   "q using (queue_id) where q.name = 'qy'"),
                     0);
    assert_int_equal(tt_scalar(pg, "select count(*) from archive a join queues "
                                   "q using (queue_id) where q.name = 'qx'"),
                     1);
    assert_int_equal(tt_scalar(pg, "select count(*) from message_errors"), 1);
    tt_exec(pg, "update dead_letter_messages set body = 'edited'");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from "
                                      "dead_letter_messages where body = "
                                      "'edited'"),
                     1);
    drop_role(f, pg, role);
}

/* Publishing needs send on every queue the message reaches: one refused
 * and no copy is written. */
static void
test_publish_needs_every_queue(void **state)
{
    tt_fixture *f = *state;
    char role[64], msg[512];
    PGconn *pg;

    tt_queue(f, "qx", NULL);
    tt_queue(f, "qy", NULL);
    tt_exec(f->pg, "select create_topic('t')");
    tt_exec(f->pg, "select subscribe('t', 'qx'), subscribe('t', 'qy')");
    pg = new_role(f, role, sizeof role, "pub", NULL);
    tt_exec(f->pg, "select %s.grant('qx', '%s', array['send'])", f->schema,
            role);
    assert_string_equal(
        tt_fails(pg, msg, sizeof msg, "select publish('t', 'b')"), "42501");
    assert_non_null(strstr(msg, "lacks \"send\" on queue \"qy\""));
    assert_int_equal(tt_depth(f), 0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from bodies"), 0);
    tt_exec(f->pg, "select %s.grant('qy', '%s', array['send'])", f->schema,
            role);
    assert_int_equal(tt_scalar(pg, "select cardinality(publish('t', 'b'))"), 2);
    assert_int_equal(tt_depth(f), 2);
    drop_role(f, pg, role);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_grant_revoke_and_bad_input,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_default_roles_are_star_grants,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_grants_end_at_their_schema,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_direct_send_held_to_grants,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_migrate_by_non_superuser, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(
            test_queue_operator_edits_its_dead_letters, tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_publish_needs_every_queue,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_operator_tables_follow_grants,
                                        tt_setup, tt_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
