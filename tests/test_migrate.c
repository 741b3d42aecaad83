/*
 * test_migrate.c - txq_migrate and txq_schema_check: first run, re-run,
 * missing and newer schemas, an upgrade from version 1, the transaction
 * guard, concurrent migrations, and the least-privilege roles the
 * migration creates.
 *
 * Needs TXQ_TEST_DSN (ctest's pg_start fixture provides it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tt.h"

/* A second schema next to the fixture's, dropped by the test. */
static void
side_schema(const tt_fixture *f, char *buf, size_t size, const char *suffix)
{
    snprintf(buf, size, "%s_%s", f->schema, suffix);
}

static void
test_migrate_twice_is_noop(void **state)
{
    tt_fixture *f = *state;
    char other[80];
    txq_client *c;
    int applied = -1;
    int64_t id = 0;

    /* The fixture's schema is migrated: once more applies nothing. */
    assert_txq_ok(f->c, txq_migrate(f->c, f->pg, &applied));
    assert_int_equal(applied, 0);
    assert_int_equal(tt_scalar(f->pg, "select schema_version()"),
                     TXQ_SCHEMA_VERSION);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from schema_migrations"),
                     TXQ_SCHEMA_VERSION);
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from schema_migrations "
                               "where version = %d",
                               TXQ_SCHEMA_VERSION),
                     1);
    assert_txq_ok(f->c, txq_schema_check(f->c, f->pg));

    /* The functions still work after the re-run. */
    tt_queue(f, "jobs", NULL);
    assert_txq_ok(f->c, txq_send(f->c, f->pg, "jobs", "x", 1, NULL, &id));
    assert_true(id > 0);
    assert_int_equal(tt_depth(f), 1);

    /* A fresh schema: every migration once, then none. */
    side_schema(f, other, sizeof(other), "fresh");
    tt_exec(f->pg, "create schema %s", other);
    c = txq_client_new(TXQ_OPTIONS(.schema = other));
    assert_non_null(c);
    applied = -1;
    assert_txq_ok(c, txq_migrate(c, f->pg, &applied));
    assert_int_equal(applied, TXQ_SCHEMA_VERSION);
    applied = -1;
    assert_txq_ok(c, txq_migrate(c, f->pg, &applied));
    assert_int_equal(applied, 0);
    assert_txq_ok(c, txq_schema_check(c, f->pg));
    assert_int_equal(
        tt_scalar(f->pg, "select count(*) from %s.schema_migrations", other),
        TXQ_SCHEMA_VERSION);
    /* migrate commits: the schema is visible from another session. */
    {
        PGconn *pg2 = tt_connect(other);

        assert_int_equal(tt_scalar(pg2, "select schema_version()"),
                         TXQ_SCHEMA_VERSION);
        PQfinish(pg2);
    }
    txq_client_free(c);
    tt_exec(f->pg, "drop schema %s cascade", other);
}

static void
test_missing_schema(void **state)
{
    tt_fixture *f = *state;
    char other[80];
    txq_client *c;
    int64_t id = 0;

    side_schema(f, other, sizeof(other), "absent");
    c = txq_client_new(TXQ_OPTIONS(.schema = other));
    assert_non_null(c);
    assert_txq_rc(c, txq_schema_check(c, f->pg), TXQ_ESCHEMA);
    assert_true(strlen(txq_errmsg(c)) > 0);
    assert_txq_rc(c, txq_send(c, f->pg, "jobs", "x", 1, NULL, &id),
                  TXQ_ESCHEMA);
    assert_true(strlen(txq_errmsg(c)) > 0);
    /* Nothing was created on the way. */
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from pg_namespace "
                               "where nspname = '%s'",
                               other),
                     0);
    txq_client_free(c);
}

static void
test_bad_schema_name(void **state)
{
    tt_fixture *f = *state;
    txq_client *c = txq_client_new(TXQ_OPTIONS(.schema = "Bad;drop"));
    int64_t id = 0;

    assert_non_null(c);
    assert_txq_rc(c, txq_send(c, f->pg, "jobs", "x", 1, NULL, &id), TXQ_EINVAL);
    assert_txq_rc(c, txq_migrate(c, f->pg, NULL), TXQ_EINVAL);
    txq_client_free(c);
}

static void
test_newer_schema(void **state)
{
    tt_fixture *f = *state;
    PGconn *pg2;
    txq_client *c;
    int64_t id = 0;

    tt_queue(f, "jobs", NULL);
    tt_exec(f->pg, "insert into schema_migrations (version, name) "
                   "values (999, 'from_the_future')");

    /* A fresh client and connection: the check runs once per connection. */
    pg2 = tt_connect(NULL);
    c = txq_client_new(TXQ_OPTIONS(.schema = f->schema));
    assert_non_null(c);
    assert_txq_rc(c, txq_schema_check(c, pg2), TXQ_ESCHEMA);
    assert_non_null(strstr(txq_errmsg(c), "999"));
    assert_txq_rc(c, txq_send(c, pg2, "jobs", "x", 1, NULL, &id), TXQ_ESCHEMA);
    /* A library older than the schema must not touch it. */
    assert_txq_rc(c, txq_migrate(c, pg2, NULL), TXQ_ESCHEMA);
    assert_int_equal(tt_depth(f), 0);
    txq_client_free(c);
    PQfinish(pg2);
}

/* A txq_consumer member receives and acks, a txq_producer member sends,
 * directly, as before the upgrade. */
static void
consumer_receives_after_upgrade(tt_fixture *f)
{
    char role[64];
    PGconn *pg = tt_role_session(f, role, sizeof role, "txq_consumer");
    txq_msg **m = NULL;
    size_t n = 0;

    assert_txq_ok(f->c, txq_claim(f->c, pg, "jobs", 1, NULL, &m, &n));
    assert_int_equal(n, 1);
    assert_txq_ok(f->c, txq_ack(f->c, pg, m[0]));
    txq_msgs_free(m, n);
    tt_exec(pg, "reset role");
    tt_exec(pg, "revoke txq_consumer from %s", role);
    tt_exec(pg, "grant txq_producer to %s", role);
    tt_exec(pg, "set role %s", role);
    assert_txq_ok(f->c, txq_schema_check(f->c, pg));
    assert_txq_ok(f->c, txq_send(f->c, pg, "jobs", "p", 1, NULL, NULL));
    tt_end_role_session(f, pg, role);
}

/* A schema at version 1 with queues, messages and a waiting session:
 * the library refuses it until txq_migrate applies 0002, which flags the
 * queue that has a waiter row and only that one, and 0003, which turns
 * that row into a pending registration (so the next send wakes it), gives
 * every queue its wake-up counters and drops the waiters table, 0004
 * (shared bodies), 0005, which moves the messages into the rotating
 * partitions (the messages stay, ids and all), 0006 (the audit log's
 * acting role), 0007 (grants) and 0008 (encrypted queues). */
static void
test_upgrade_from_version_1(void **state)
{
    tt_fixture *f = *state;
    PGconn *w = tt_connect(f->schema), *pg2;
    txq_client *c;
    int applied = -1;
    int64_t id = 0;

    tt_queue(f, "jobs", NULL);
    tt_queue(f, "idle", NULL);
    tt_send(f, f->pg, "jobs", "kept");
    tt_exec(w, "listen txq_wake");
    /* Back to what 0001 alone made: a waiter row, no flag, no counters. */
    tt_exec(f->pg, "create unlogged table waiters (queue_id int not null, "
                   "backend_pid int not null, since timestamptz not null "
                   "default now(), constraint waiters_pkey primary key "
                   "(queue_id, backend_pid))");
    tt_exec(f->pg,
            "insert into waiters select queue_id, %d from queues "
            "where name = 'jobs'",
            tt_pid(w));
    tt_exec(f->pg, "alter table queues drop column waiting, "
                   "drop column waits_seq, drop column wakes_seq");
    /* 0008: with the policy and the view that read it (made again by
     * the definitions that migrate applies). */
    tt_exec(f->pg, "alter table queues drop column encrypt cascade");
    tt_exec(f->pg, "drop table id_reservations");
    tt_exec(f->pg, "alter table audit_log drop column acting_role, "
                   "drop column application_name");
    /* 0009 and 0010: with what reads them (made again by migrate). */
    tt_exec(f->pg, "alter table queues drop column paused cascade");
    tt_exec(f->pg, "drop table cron_schedules cascade");
    tt_exec(f->pg, "drop type cron_spec cascade");
    /* 0011: the dead-letter queue setting and the move tasks. */
    tt_exec(f->pg, "alter table queues drop column dead_letter_queue_id "
                   "cascade");
    tt_exec(f->pg, "drop table move_tasks cascade");
    /* 0012: the receive wait, tags, AddPermission's labels */
    tt_exec(f->pg, "alter table queues drop column receive_wait");
    tt_exec(f->pg, "drop table queue_tags, sqs_permissions");
    /* 0013: back to 0001's queue name check (SQS's names come after). */
    tt_exec(f->pg, "alter table queues drop constraint queues_fifo_suffix_ok, "
                   "drop constraint queues_name_ok, add constraint "
                   "queues_name_ok check (name ~ '^[a-z][a-z0-9_]{0,62}$')");
    /* 0014: which queues may name a queue as their dead-letter queue. */
    tt_exec(f->pg, "alter table queues drop column dead_letter_sources");
    /* messages as one table again, with 0001's indexes and its rows. */
    tt_exec(f->pg, "alter table messages rename to messages_p");
    tt_exec(f->pg, "alter table messages_p rename constraint messages_pkey "
                   "to messages_p_pkey");
    tt_exec(f->pg, "drop index messages_ready_idx, messages_group_idx, "
                   "messages_expires_idx");
    tt_exec(f->pg, "alter sequence messages_id_seq rename to messages_p_seq");
    tt_exec(f->pg, "create table messages (like messages_p including "
                   "defaults including identity)");
    tt_exec(f->pg, "alter table messages drop column part, "
                   "drop column body_id, alter column body set not null, "
                   "add constraint messages_pkey primary key (id)");
    tt_exec(f->pg, "insert into messages overriding system value "
                   "select id, queue_id, priority, visible_at, attempts, "
                   "enqueued_at, expires_at, group_key, dedup_id, "
                   "correlation_id, reply_to, last_error, claimed_at, "
                   "claimed_by, headers, body from messages_p");
    tt_exec(f->pg, "select setval('messages_id_seq', last_value) "
                   "from messages_p_seq");
    tt_exec(f->pg, "drop table messages_p, rotations cascade");
    tt_exec(f->pg, "drop sequence messages_gen");
    tt_exec(f->pg, "create index messages_ready_idx on messages "
                   "(queue_id, priority desc, visible_at, id)");
    tt_exec(f->pg, "create index messages_group_idx on messages "
                   "(queue_id, group_key, id) where group_key is not null");
    tt_exec(f->pg, "create index messages_expires_idx on messages "
                   "(queue_id, expires_at) where expires_at is not null");
    tt_exec(f->pg, "drop table bodies");
    tt_exec(f->pg,
            "do $$ declare s regclass; begin for s in select c.oid "
            "from pg_class c where c.relkind = 'S' and "
            "c.relnamespace = current_schema()::regnamespace and c.relname "
            "~ '^queue_[0-9]+_wa' loop "
            "execute 'drop sequence ' || s; end loop; end $$");
    tt_exec(f->pg, "drop table queue_grants cascade");
    tt_exec(f->pg, "delete from schema_migrations where version > 1");

    pg2 = tt_connect(NULL);
    c = txq_client_new(TXQ_OPTIONS(.schema = f->schema));
    assert_non_null(c);
    assert_txq_rc(c, txq_send(c, pg2, "jobs", "x", 1, NULL, &id), TXQ_ESCHEMA);
    assert_non_null(strstr(txq_errmsg(c), "run txq migrate"));
    assert_int_equal(tt_depth(f), 1);
    assert_txq_ok(c, txq_migrate(c, pg2, &applied));
    assert_int_equal(applied, TXQ_SCHEMA_VERSION - 1);
    assert_int_equal(tt_scalar(f->pg, "select schema_version()"),
                     TXQ_SCHEMA_VERSION);
    /* 0006: the audit rows of before name no acting role; new ones do. */
    assert_int_equal(tt_scalar(f->pg, "select count(*) from audit_log where "
                                      "queue = 'jobs' and acting_role is "
                                      "null"),
                     1);
    tt_exec(f->pg, "select create_queue('after')");
    /* 0013: SQS's names, and ".fifo" for a fifo queue only. */
    tt_exec(f->pg, "select create_queue('Billing-Events')");
    tt_exec(f->pg, "select create_queue('orders.fifo', 'fifo')");
    assert_int_equal(tt_scalar(f->pg, "select count(*) from pg_constraint "
                                      "where conname in ('queues_name_ok', "
                                      "'queues_fifo_suffix_ok') and "
                                      "conrelid = 'queues'::regclass"),
                     2);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from audit_log where "
                                      "queue = 'after' and acting_role = "
                                      "session_user"),
                     1);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from messages "
                                      "where part = 0 and body = 'kept'"),
                     1);
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from pg_class where relname = "
                               "'waiters' and relnamespace = "
                               "current_schema()::regnamespace"),
                     0);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues where "
                                      "_wake_pending(queues) = 1 and "
                                      "name = 'jobs'"),
                     1);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues where "
                                      "_wake_pending(queues) = 0 and "
                                      "name = 'idle'"),
                     1);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues "
                                      "where waiting and name = 'jobs'"),
                     1);
    assert_int_equal(tt_scalar(f->pg, "select count(*) from queues "
                                      "where waiting and name = 'idle'"),
                     0);
    assert_txq_ok(c, txq_send(c, pg2, "jobs", "x", 1, NULL, &id));
    assert_int_equal(tt_wakes(w, "jobs"), 1);
    assert_int_equal(tt_depth(f), 2);
    /* 0007: the roles keep their access, as grants on every queue. */
    assert_int_equal(tt_scalar(f->pg, "select count(*) from grants where "
                                      "queue = '*'"),
                     7);
    consumer_receives_after_upgrade(f);
    txq_client_free(c);
    PQfinish(pg2);
    PQfinish(w);
}

static void
test_migrate_in_transaction(void **state)
{
    tt_fixture *f = *state;
    char other[80];
    txq_client *c;

    side_schema(f, other, sizeof(other), "intx");
    tt_exec(f->pg, "create schema %s", other);
    c = txq_client_new(TXQ_OPTIONS(.schema = other));
    assert_non_null(c);
    tt_exec(f->pg, "begin");
    assert_txq_rc(c, txq_migrate(c, f->pg, NULL), TXQ_ESTATE);
    /* It did not commit or roll back the caller's transaction. */
    assert_int_equal(PQtransactionStatus(f->pg), PQTRANS_INTRANS);
    tt_exec(f->pg, "rollback");
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from pg_tables "
                               "where schemaname = '%s'",
                               other),
                     0);
    txq_client_free(c);
    tt_exec(f->pg, "drop schema %s cascade", other);
}

/* Child: migrate the schema in arg; exit with the number applied, or 100 +
 * the error code. */
static int
child_migrate(void *arg)
{
    const char *schema = arg;
    PGconn *pg = tt_child_connect(NULL);
    txq_client *c;
    int applied = -1;
    txq_err rc;

    if (pg == NULL)
        return 99;
    c = txq_client_new(TXQ_OPTIONS(.schema = schema));
    if (c == NULL) {
        PQfinish(pg);
        return 98;
    }
    rc = txq_migrate(c, pg, &applied);
    if (rc != TXQ_OK)
        fprintf(stderr, "child migrate: %s\n", txq_errmsg(c));
    txq_client_free(c);
    PQfinish(pg);
    return rc == TXQ_OK ? applied : 100 + (int)rc;
}

static void
test_concurrent_migrations(void **state)
{
    tt_fixture *f = *state;
    char other[80];
    int pids[4];
    int i, total = 0;

    side_schema(f, other, sizeof(other), "race");
    tt_exec(f->pg, "create schema %s", other);
    for (i = 0; i < 4; i++)
        pids[i] = tt_fork(child_migrate, other);
    for (i = 0; i < 4; i++) {
        int st = tt_wait(pids[i]);

        if (st >= 100)
            fail_msg("concurrent migrate %d failed with status %d", i, st);
        total += st;
    }
    /* Each migration was applied by exactly one of them. */
    assert_int_equal(total, TXQ_SCHEMA_VERSION);
    assert_int_equal(
        tt_scalar(f->pg, "select count(*) from %s.schema_migrations", other),
        TXQ_SCHEMA_VERSION);
    assert_int_equal(tt_scalar(f->pg,
                               "select count(distinct version) from "
                               "%s.schema_migrations",
                               other),
                     TXQ_SCHEMA_VERSION);
    assert_int_equal(
        tt_scalar(f->pg, "select (%s.create_queue('q')).queue_id", other), 1);
    tt_exec(f->pg, "drop schema %s cascade", other);
}

/* Re-running migrate on a live queue (another session's transaction has
 * read, sent and claimed, and is still open) must not wait for it:
 * definitions and privileges are re-applied without a lock that conflicts
 * with readers and writers of the tables. */
static void
test_migrate_beside_open_transaction(void **state)
{
    tt_fixture *f = *state;
    PGconn *other = tt_connect(f->schema);
    int applied = -1;

    tt_queue(f, "jobs", NULL);
    tt_send(f, f->pg, "jobs", "x");
    tt_exec(other, "begin");
    assert_int_equal(tt_scalar(other, "select count(*) from messages"), 1);
    assert_true(tt_scalar(other, "select send('jobs', 'y')") > 0);
    assert_int_equal(tt_scalar(other, "select count(*) from receive('jobs')"),
                     1);
    tt_exec(f->pg, "set lock_timeout = '2s'");
    assert_txq_ok(f->c, txq_migrate(f->c, f->pg, &applied));
    assert_int_equal(applied, 0);
    tt_exec(f->pg, "reset lock_timeout");
    tt_exec(other, "commit");
    PQfinish(other);
}

static void
test_roles_exist(void **state)
{
    tt_fixture *f = *state;
    char buf[1024];

    assert_int_equal(tt_scalar(f->pg, "select count(*) from pg_roles "
                                      "where rolname in ('txq_producer', "
                                      "'txq_consumer', 'txq_operator', "
                                      "'txq_admin') and not rolcanlogin"),
                     4);
    /* admin holds the other three. */
    assert_int_equal(
        tt_scalar(f->pg, "select count(*) from pg_auth_members m "
                         "join pg_roles r on r.oid = m.roleid "
                         "join pg_roles a on a.oid = m.member "
                         "where a.rolname = 'txq_admin' and r.rolname in "
                         "('txq_producer', 'txq_consumer', 'txq_operator')"),
        3);
    /* No role has table access to the hot table or its partitions... */
    assert_int_equal(tt_scalar(f->pg,
                               "select count(*) from "
                               "information_schema.role_table_grants "
                               "where table_schema = '%s' and table_name "
                               "like 'messages%%' and grantee like 'txq_%%'",
                               f->schema),
                     0);
    /* ...and of its columns exactly what the direct send needs, to
     * txq_producer only: INSERT of what a send sets, SELECT of the id. */
    assert_string_equal(
        tt_text(f->pg, buf, sizeof buf,
                "select string_agg(grantee || ' ' || privilege_type || ' ' "
                "|| column_name, ', ' order by grantee, privilege_type, "
                "column_name) from information_schema.column_privileges "
                "where table_schema = '%s' and table_name like 'messages%%' "
                "and grantee like 'txq_%%'",
                f->schema),
        "txq_producer INSERT body, txq_producer INSERT correlation_id, "
        "txq_producer INSERT enqueued_at, txq_producer INSERT expires_at, "
        "txq_producer INSERT headers, txq_producer INSERT priority, "
        "txq_producer INSERT queue_id, txq_producer INSERT reply_to, "
        "txq_producer INSERT visible_at, txq_producer SELECT id");
}

/* Open a session as a fresh login role granted only `grant`. */
static PGconn *
session_as(tt_fixture *f, char *role, size_t size, const char *grant)
{
    PGconn *pg;

    snprintf(role, size, "txq_t_role_%d_%s", (int)getpid(), grant);
    tt_exec(f->pg, "drop role if exists %s", role);
    tt_exec(f->pg, "create role %s login", role);
    tt_exec(f->pg, "grant %s to %s", grant, role);
    pg = tt_connect(f->schema);
    tt_exec(pg, "set role %s", role);
    return pg;
}

static void
test_producer_role(void **state)
{
    tt_fixture *f = *state;
    char role[80];
    PGconn *pg;
    txq_msg **msgs = NULL;
    size_t n = 0;
    int64_t id = 0;

    tt_queue(f, "jobs", NULL);
    pg = session_as(f, role, sizeof(role), "txq_producer");

    /* A producer sends, through the C API and the SQL API. */
    assert_txq_ok(f->c, txq_send(f->c, pg, "jobs", "p1", 2, NULL, &id));
    assert_true(id > 0);
    assert_true(tt_scalar(pg, "select send('jobs', 'p2')") > id);
    assert_int_equal(tt_depth(f), 2);

    /* It cannot consume, read the table or run operator calls. */
    assert_txq_rc(f->c, txq_receive(f->c, pg, "jobs", 1, NULL, &msgs, &n),
                  TXQ_EPERM);
    assert_string_equal(txq_sqlstate(f->c), "42501");
    assert_null(msgs);
    assert_string_equal(tt_fails(pg, NULL, 0, "select * from receive('jobs')"),
                        "42501");
    /* Its direct-send grant (test_send_direct.c) shows it no message but
     * the ones its own transaction sends, and no column but the id. */
    assert_int_equal(tt_scalar(pg, "select count(*) from messages"), 0);
    assert_string_equal(tt_fails(pg, NULL, 0, "select body from messages"),
                        "42501");
    assert_string_equal(
        tt_fails(pg, NULL, 0, "select count(*) from dead_letters"), "42501");
    assert_string_equal(
        tt_fails(pg, NULL, 0, "select ack(array[%lld])", (long long)id),
        "42501");
    assert_string_equal(tt_fails(pg, NULL, 0, "select create_queue('x')"),
                        "42501");
    assert_string_equal(tt_fails(pg, NULL, 0, "select maintain()"), "42501");
    assert_int_equal(tt_depth(f), 2);
    PQfinish(pg);

    /* A consumer receives but cannot create queues or read dead letters. */
    {
        char crole[80];
        PGconn *cpg = session_as(f, crole, sizeof(crole), "txq_consumer");

        assert_int_equal(
            tt_scalar(cpg, "select count(*) from receive('jobs', 10)"), 2);
        assert_string_equal(tt_fails(cpg, NULL, 0, "select create_queue('y')"),
                            "42501");
        assert_string_equal(
            tt_fails(cpg, NULL, 0, "select count(*) from dead_letters"),
            "42501");
        PQfinish(cpg);
        tt_exec(f->pg, "drop role %s", crole);
    }
    tt_exec(f->pg, "drop role %s", role);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrate_twice_is_noop, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_missing_schema, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_bad_schema_name, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_from_version_1, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_migrate_in_transaction, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_migrations, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_migrate_beside_open_transaction,
                                        tt_setup, tt_teardown),
        cmocka_unit_test_setup_teardown(test_roles_exist, tt_setup,
                                        tt_teardown),
        cmocka_unit_test_setup_teardown(test_producer_role, tt_setup,
                                        tt_teardown),
    };

    tt_dsn();
    return cmocka_run_group_tests_name("migrate", tests, NULL, NULL);
}
