/*
 * migrate.c - txq_migrate: create or upgrade the schema from the migrations
 * and definitions embedded in the library, each step in its own transaction
 * under an advisory lock, so concurrent migrators queue up instead of
 * racing. The texts are the library's own and hold many statements, so
 * this is the one place that uses the simple protocol (PQexec).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "txq_int.h"

/* Run text (one or more statements) with PQexec. */
static txq_err
exec_simple(txq_client *c, PGconn *pg, const char *text)
{
    PGresult *r = PQexec(pg, text);
    ExecStatusType st = PQresultStatus(r);
    txq_err rc = TXQ_OK;

    if (r == NULL)
        rc = PQstatus(pg) == CONNECTION_BAD
                 ? txq__set_pg_error(c, pg, NULL)
                 : txq__set_error(c, TXQ_ENOMEM, "out of memory");
    else if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        rc = txq__set_pg_error(c, pg, r);
    PQclear(r);
    return rc;
}

/* Run statement q of the handle and ignore its rows. */
static txq_err
exec_q(txq_client *c, PGconn *pg, enum txq__q q, const struct txq__params *p)
{
    PGresult *r = NULL;
    txq_err rc = txq__query(c, pg, q, p, 0, &r);

    PQclear(r);
    return rc;
}

/* Undo an open transaction after a failed step; the error already set is
 * the one to report. */
static void
rollback(PGconn *pg)
{
    PGTransactionStatusType ts = PQtransactionStatus(pg);

    if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR)
        PQclear(PQexec(pg, "rollback"));
}

/* Prefix the handle's message with what was being applied. */
static void
prefix_error(txq_client *c, const char *what)
{
    char msg[2 * TXQ__ERRMSG_SIZE];

    snprintf(msg, sizeof msg, "%.100s: %s", what, c->errmsg);
    txq__copy_message(c, msg);
}

/* BEGIN, quiet notices, take the migration lock of this schema. */
static txq_err
begin_locked(txq_client *c, PGconn *pg)
{
    struct txq__params p;
    txq_err rc;

    rc = exec_simple(c, pg, "begin");
    if (rc != TXQ_OK)
        return rc;
    rc = exec_q(c, pg, TXQ__Q_QUIET, NULL);
    if (rc != TXQ_OK)
        return rc;
    txq__params_init(&p);
    txq__param_text(&p, c->schema);
    return exec_q(c, pg, TXQ__Q_MIG_LOCK, &p);
}

/* *out = a count or version from statement q. */
static txq_err
query_int(txq_client *c,
          PGconn *pg,
          enum txq__q q,
          const struct txq__params *p,
          int64_t *out)
{
    char buf[32];
    txq_err rc = txq__query_scalar(c, pg, q, p, buf, sizeof buf, NULL);

    if (rc == TXQ_OK && !txq__parse_int64(buf, out))
        rc = txq__set_error(c, TXQ_EDB, "unexpected integer \"%s\"", buf);
    return rc;
}

static txq_err
too_new(txq_client *c, int64_t have, int newest)
{
    return txq__set_error(c, TXQ_ESCHEMA,
                          "txq schema \"%s\" is at version %" PRId64
                          ", newer than this library's %d: upgrade libtxq",
                          c->schema, have, newest);
}

/* Apply migration m unless it is recorded; *done = 1 if it was applied. */
static txq_err
apply_migration(txq_client *c,
                PGconn *pg,
                const struct txq__sql_file *m,
                int newest,
                int *done)
{
    struct txq__params p;
    int64_t have = 0, recorded = 0;
    char *text = NULL;
    txq_err rc;

    *done = 0;
    rc = begin_locked(c, pg);
    if (rc != TXQ_OK)
        goto fail;
    /* Re-check under the lock: another migrator may have run meanwhile. */
    rc = query_int(c, pg, TXQ__Q_MIG_VERSION, NULL, &have);
    if (rc != TXQ_OK)
        goto fail;
    if (have > newest) {
        rc = too_new(c, have, newest);
        goto fail;
    }
    txq__params_init(&p);
    txq__param_int64(&p, m->version);
    rc = query_int(c, pg, TXQ__Q_MIG_RECORDED, &p, &recorded);
    if (rc != TXQ_OK)
        goto fail;
    if (recorded == 0) {
        text = txq__splice_schema(m->text, c->qschema);
        if (text == NULL) {
            rc = txq__set_error(c, TXQ_ENOMEM, "out of memory");
            goto fail;
        }
        rc = exec_simple(c, pg, text);
        if (rc != TXQ_OK) {
            prefix_error(c, m->name);
            goto fail;
        }
        txq__params_init(&p);
        txq__param_int64(&p, m->version);
        txq__param_text(&p, m->name);
        rc = exec_q(c, pg, TXQ__Q_MIG_RECORD, &p);
        if (rc != TXQ_OK)
            goto fail;
    }
    rc = exec_simple(c, pg, "commit");
    if (rc != TXQ_OK)
        goto fail;
    *done = recorded == 0;
    free(text);
    return TXQ_OK;
fail:
    rollback(pg);
    free(text);
    return rc;
}

/* Re-apply every function and view, in one transaction. */
static txq_err
apply_definitions(txq_client *c, PGconn *pg)
{
    char *text = NULL;
    txq_err rc;

    rc = begin_locked(c, pg);
    if (rc != TXQ_OK)
        goto fail;
    /* Functions refer to each other; their order in the files must not
     * matter. */
    rc = exec_q(c, pg, TXQ__Q_NO_BODY_CHECK, NULL);
    if (rc != TXQ_OK)
        goto fail;
    for (int i = 0; i < txq__n_definitions; i++) {
        text = txq__splice_schema(txq__definitions[i].text, c->qschema);
        if (text == NULL) {
            rc = txq__set_error(c, TXQ_ENOMEM, "out of memory");
            goto fail;
        }
        rc = exec_simple(c, pg, text);
        if (rc != TXQ_OK) {
            prefix_error(c, txq__definitions[i].name);
            goto fail;
        }
        free(text);
        text = NULL;
    }
    rc = exec_simple(c, pg, "commit");
    if (rc != TXQ_OK)
        goto fail;
    return TXQ_OK;
fail:
    rollback(pg);
    free(text);
    return rc;
}

txq_err
txq_migrate(txq_client *c, PGconn *pg, int *applied)
{
    int newest = txq__n_migrations > 0
                     ? txq__migrations[txq__n_migrations - 1].version
                     : 0;
    int count = 0;
    int64_t have = 0;
    txq_err rc;

    if (applied != NULL)
        *applied = 0;
    if (c == NULL)
        return TXQ_EINVAL;
    rc = txq__enter(c, pg);
    if (rc != TXQ_OK)
        return rc;
    if (PQtransactionStatus(pg) != PQTRANS_IDLE)
        return txq__set_error(c, TXQ_ESTATE,
                              "txq_migrate must run outside a transaction: "
                              "it commits each step");
    txq__conns_unchecked(c);

    /* The schema and its version table. */
    rc = begin_locked(c, pg);
    if (rc == TXQ_OK)
        rc = exec_simple(c, pg, c->sql[TXQ__Q_MIG_SETUP]);
    if (rc == TXQ_OK)
        rc = query_int(c, pg, TXQ__Q_MIG_VERSION, NULL, &have);
    if (rc == TXQ_OK)
        rc = exec_simple(c, pg, "commit");
    if (rc != TXQ_OK) {
        rollback(pg);
        return rc;
    }
    if (have > newest)
        return too_new(c, have, newest);

    for (int i = 0; i < txq__n_migrations; i++) {
        int done = 0;
        rc = apply_migration(c, pg, &txq__migrations[i], newest, &done);
        if (rc != TXQ_OK)
            goto out;
        count += done;
    }
    rc = apply_definitions(c, pg);
    if (rc != TXQ_OK)
        goto out;
    /* Verified again at the next call: that check also learns what this
     * role may do (send_direct), which the migration may have changed. */
    txq__conns_unchecked(c);
out:
    if (applied != NULL)
        *applied = count;
    return rc;
}
