/*
 * query.c - parameters and round trips: every statement except the
 * migration texts goes through txq__query as an unnamed, parameterised
 * PQexecParams call.
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

txq_err
txq__query(txq_client *c,
           PGconn *pg,
           enum txq__q q,
           const struct txq__params *p,
           int binary,
           PGresult **res)
{
    PGresult *r;
    ExecStatusType st;

    *res = NULL;
    r = PQexecParams(pg, c->sql[q], p != NULL ? p->n : 0,
                     p != NULL ? p->types : NULL, p != NULL ? p->values : NULL,
                     p != NULL ? p->lengths : NULL,
                     p != NULL ? p->formats : NULL, binary ? 1 : 0);
    if (r == NULL) {
        /* libpq could not even build a result: out of memory, or a dead
         * connection. */
        if (PQstatus(pg) == CONNECTION_BAD)
            return txq__set_pg_error(c, pg, NULL);
        return txq__set_error(c, TXQ_ENOMEM, "out of memory");
    }
    st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
        txq_err rc = txq__set_pg_error(c, pg, r);
        PQclear(r);
        return rc;
    }
    *res = r;
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
