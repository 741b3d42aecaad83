/*
 * query.c - parameters and round trips: every statement except the
 * migration texts goes through txq__query, parameterised. The hot
 * statements (send, receive, ack, fail, ...) are named prepared statements,
 * prepared once per connection, so each call is one Bind/Execute without a
 * Parse; the rest are unnamed PQexecParams calls. Behind a transaction
 * pooler (txq__pooled) every statement is unnamed: each transaction may
 * run on another server connection, which holds none of them.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "txq_int.h"

void
txq__params_init(struct txq__params *p)
{
    p->n = 0;
}

/* The next slot, as a text parameter of unspecified type. */
static int
next_slot(struct txq__params *p)
{
    int i = p->n++;

    assert(i < TXQ__MAX_PARAMS);
    p->types[i] = 0;
    p->values[i] = NULL;
    p->lengths[i] = 0;
    p->formats[i] = 0;
    return i;
}

void
txq__param_text(struct txq__params *p, const char *s)
{
    int i = next_slot(p);

    p->values[i] = s;
}

void
txq__param_int64(struct txq__params *p, int64_t v)
{
    int i = next_slot(p);

    snprintf(p->buf[i], sizeof p->buf[i], "%" PRId64, v);
    p->values[i] = p->buf[i];
}

void
txq__param_bool(struct txq__params *p, int v)
{
    int i = next_slot(p);

    p->values[i] = v ? "true" : "false";
}

void
txq__param_secs(struct txq__params *p, double v, int zero_is_null)
{
    int i = next_slot(p);
    int64_t us;

    if (zero_is_null && v == 0)
        return;
    /* Integer microseconds, printed by hand: %f would follow LC_NUMERIC,
     * which the host program may have set to use a decimal comma. */
    us = (int64_t)(v * 1e6 + 0.5);
    snprintf(p->buf[i], sizeof p->buf[i], "%" PRId64 ".%06" PRId64,
             us / 1000000, us % 1000000);
    p->values[i] = p->buf[i];
}

void
txq__param_binary(struct txq__params *p, const void *data, size_t len, Oid oid)
{
    int i = next_slot(p);

    /* A NULL value pointer would mean SQL NULL; an empty body is not. */
    p->values[i] = data != NULL ? (const char *)data : "";
    p->lengths[i] = (int)len;
    p->formats[i] = 1;
    p->types[i] = oid;
}

void
txq__stmt_name(char *buf, size_t size, const char *sql, const char *name)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    size_t i;

    for (const unsigned char *s = (const unsigned char *)sql; *s; s++)
        h = (h ^ *s) * 16777619u;
    snprintf(buf, size, "txq_%08" PRIx32 "_", h);
    /* The statement's name in lower case: no case folding to think of
     * when one reads pg_prepared_statements or runs DEALLOCATE. */
    for (i = strlen(buf); *name != '\0' && i + 1 < size; name++, i++)
        buf[i] =
            (char)(*name >= 'A' && *name <= 'Z' ? *name - 'A' + 'a' : *name);
    buf[i] = '\0';
}

/*
 * Learn which of the handle's statements pg holds (prepared by this or
 * another handle, or before a connection switch) into e, pg's entry.
 * Returns: 1, or 0 when the connection cannot answer (e.g. in a failed
 * transaction).
 */
static int
load_prepared(txq_client *c, PGconn *pg, struct txq__conn *e)
{
    PGresult *r;
    int ok = 0;

    e->prepared_known = 0;
    e->prepared = 0;
    r = PQexecParams(pg,
                     "select name from pg_catalog.pg_prepared_statements"
                     " where pg_catalog.starts_with(name, 'txq_')",
                     0, NULL, NULL, NULL, NULL, 0);
    if (r != NULL && PQresultStatus(r) == PGRES_TUPLES_OK) {
        for (int row = 0; row < PQntuples(r); row++) {
            const char *name = PQgetvalue(r, row, 0);

            for (int q = 0; q < TXQ__Q_COUNT; q++) {
                if (strcmp(name, c->stmt[q]) == 0)
                    e->prepared |= UINT64_C(1) << q;
            }
        }
        e->prepared_known = 1;
        ok = 1;
    }
    PQclear(r);
    return ok;
}

/* Forget what pg holds: asked again before the next prepared call. */
static void
forget_prepared(txq_client *c, const PGconn *pg)
{
    struct txq__conn *e = txq__conn_find(c, pg);

    if (e != NULL) {
        e->prepared_known = 0;
        e->prepared = 0;
    }
}

int
txq__prepare(txq_client *c,
             PGconn *pg,
             enum txq__q q,
             const struct txq__params *p,
             txq_err *rc)
{
    uint64_t bit = UINT64_C(1) << q;
    struct txq__conn *e;
    PGresult *r;
    int ok;

    *rc = TXQ_OK;
    if (!txq__statements[q].hot || txq__pooled(c, pg))
        return 0;
    e = txq__conn_get(c, pg);
    if (e->prepared_known && (e->prepared & bit))
        return 1;
    if (PQpipelineStatus(pg) != PQ_PIPELINE_OFF)
        return 0; /* cannot ask or prepare now: send the text */
    /* Not known to exist here: ask first (another handle on this
     * connection may have prepared it), because a second PREPARE of a
     * name fails and would abort the caller's transaction. Once per
     * statement and connection. */
    if (!load_prepared(c, pg, e))
        return 0;
    if (e->prepared & bit)
        return 1;
    r = PQprepare(pg, c->stmt[q], c->sql[q], p != NULL ? p->n : 0,
                  p != NULL ? p->types : NULL);
    ok = r != NULL && PQresultStatus(r) == PGRES_COMMAND_OK;
    if (ok) {
        e->prepared |= bit;
    } else {
        *rc = r == NULL && PQstatus(pg) != CONNECTION_BAD
                  ? txq__set_error(c, TXQ_ENOMEM, "out of memory")
                  : txq__set_pg_error(c, pg, r);
    }
    PQclear(r);
    return ok ? 1 : -1;
}

/* Whether r failed because its prepared statement is gone (DEALLOCATE,
 * DISCARD ALL, a pooler that switched backends). */
static int
stmt_gone(const PGresult *r)
{
    const char *st = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

    return st != NULL && strcmp(st, "26000") == 0;
}

txq_err
txq__query(txq_client *c,
           PGconn *pg,
           enum txq__q q,
           const struct txq__params *p,
           int binary,
           PGresult **res)
{
    PGTransactionStatusType ts = PQtransactionStatus(pg);
    PGresult *r;
    ExecStatusType st;
    txq_err rc;
    int prep, tries = 0;

    *res = NULL;
    q = txq__variant(c, pg, q);
again:
    prep = txq__prepare(c, pg, q, p, &rc);
    if (prep < 0)
        return rc;
    if (prep)
        r = PQexecPrepared(pg, c->stmt[q], p != NULL ? p->n : 0,
                           p != NULL ? p->values : NULL,
                           p != NULL ? p->lengths : NULL,
                           p != NULL ? p->formats : NULL, binary ? 1 : 0);
    else
        r = PQexecParams(
            pg, c->sql[q], p != NULL ? p->n : 0, p != NULL ? p->types : NULL,
            p != NULL ? p->values : NULL, p != NULL ? p->lengths : NULL,
            p != NULL ? p->formats : NULL, binary ? 1 : 0);
    if (prep && stmt_gone(r)) {
        /* Forget what this connection holds. Outside a transaction nothing
         * was lost: prepare again and retry once. */
        forget_prepared(c, pg);
        if (ts == PQTRANS_IDLE && tries++ == 0) {
            PQclear(r);
            goto again;
        }
    }
    if (r == NULL) {
        /* libpq could not even build a result: out of memory, or a dead
         * connection. */
        if (PQstatus(pg) == CONNECTION_BAD)
            return txq__set_pg_error(c, pg, NULL);
        return txq__set_error(c, TXQ_ENOMEM, "out of memory");
    }
    st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        rc = txq__set_pg_error(c, pg, r);
        PQclear(r);
        return rc;
    }
    *res = r;
    return TXQ_OK;
}

txq_err
txq__send_query(txq_client *c,
                PGconn *pg,
                enum txq__q q,
                const struct txq__params *p,
                int binary)
{
    txq_err rc;
    int prep, sent;

    q = txq__variant(c, pg, q);
    prep = txq__prepare(c, pg, q, p, &rc);
    if (prep < 0)
        return rc;
    if (prep)
        sent = PQsendQueryPrepared(pg, c->stmt[q], p->n, p->values, p->lengths,
                                   p->formats, binary ? 1 : 0);
    else
        sent = PQsendQueryParams(pg, c->sql[q], p->n, p->types, p->values,
                                 p->lengths, p->formats, binary ? 1 : 0);
    /* Refused by libpq (a command of the caller's still in progress, a
     * lost connection): nothing went out. */
    return sent ? TXQ_OK : txq__set_pg_error(c, pg, NULL);
}

txq_err
txq__collect(txq_client *c, PGconn *pg, PGresult **res)
{
    PGresult *r, *first = NULL;
    ExecStatusType st;
    txq_err rc;

    *res = NULL;
    while ((r = PQgetResult(pg)) != NULL) {
        if (first == NULL)
            first = r;
        else
            PQclear(r);
    }
    if (first == NULL) {
        if (PQstatus(pg) == CONNECTION_BAD)
            return txq__set_pg_error(c, pg, NULL);
        return txq__set_error(c, TXQ_EDB, "no result for the statement");
    }
    if (stmt_gone(first))
        forget_prepared(c, pg); /* prepared again by the next call */
    st = PQresultStatus(first);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        rc = txq__set_pg_error(c, pg, first);
        PQclear(first);
        return rc;
    }
    *res = first;
    return TXQ_OK;
}

txq_err
txq__query_scalar(txq_client *c,
                  PGconn *pg,
                  enum txq__q q,
                  const struct txq__params *p,
                  char *buf,
                  size_t size,
                  int *isnull)
{
    PGresult *r = NULL;
    txq_err rc;

    if (size > 0)
        buf[0] = '\0';
    if (isnull != NULL)
        *isnull = 1;
    rc = txq__query(c, pg, q, p, 0, &r);
    if (rc != TXQ_OK)
        goto out;
    if (PQntuples(r) != 1 || PQnfields(r) != 1) {
        rc = txq__set_error(c, TXQ_EDB,
                            "unexpected result: %d rows of %d columns",
                            PQntuples(r), PQnfields(r));
        goto out;
    }
    if (!PQgetisnull(r, 0, 0)) {
        snprintf(buf, size, "%s", PQgetvalue(r, 0, 0));
        if (isnull != NULL)
            *isnull = 0;
    }
out:
    PQclear(r);
    return rc;
}

int
txq__parse_int64(const char *s, int64_t *v)
{
    char *end;
    long long x;

    if (s == NULL || s[0] == '\0')
        return 0;
    errno = 0;
    x = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return 0;
    *v = (int64_t)x;
    return 1;
}
