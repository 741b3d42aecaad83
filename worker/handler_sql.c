/*
 * handler_sql.c - sql:schema.fn handlers: txq.run_sql_handler(fn, message)
 * calls schema.fn(m txq.message) inside the consume transaction. The
 * function name travels as a parameter and is resolved by the server
 * (to_regprocedure), never spliced into SQL text; the message row is built
 * from parameters. A raised error is a failure to retry; SQLSTATE TQ001 a
 * permanent one. A non-null result of a request becomes the reply.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler.h"
#include "policy.h"

struct sql_handler {
    char *fn;
    char *schema;  /* plain (valid) name, for the type parameter */
    char *call;    /* the statement, with the quoted schema */
    char *msgtype; /* "schema.message" */
};

static int
ident_char(char ch, int first)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
           (!first && ((ch >= '0' && ch <= '9') || ch == '$'));
}

int
handler_sql_check(const char *name, char *err, size_t errsize)
{
    const char *p = name;
    int parts = 0;

    for (;;) {
        size_t n = 0;

        if (!ident_char(*p, 1))
            break;
        while (ident_char(p[n], n == 0))
            n++;
        if (n > 63)
            break;
        p += n;
        parts++;
        if (*p == '\0')
            return 0;
        if (*p != '.' || parts == 2)
            break;
        p++;
    }
    snprintf(err, errsize,
             "sql handler \"%.60s\": expected [schema.]function, plain "
             "identifiers only",
             name);
    return -1;
}

void
handler_sql_close(void *arg)
{
    struct sql_handler *h = arg;

    if (h == NULL)
        return;
    free(h->fn);
    free(h->schema);
    free(h->call);
    free(h->msgtype);
    free(h);
}

void *
handler_sql_open(const char *name,
                 const handler_env *env,
                 char *err,
                 size_t errsize)
{
    static const char fmt[] =
        "select \"%s\".run_sql_handler($1, row($2::bigint, $3::text,"
        " $4::int, $5::jsonb, $6::bytea, $7::text, $8::text, $9::smallint,"
        " $10::text, null::text, pg_catalog.to_timestamp($11::float8),"
        " pg_catalog.to_timestamp($12::float8))::\"%s\".message)";
    struct sql_handler *h = calloc(1, sizeof *h);
    size_t len;

    /* The schema was checked against [a-z_][a-z0-9_]*: quoting it needs
     * no escaping. */
    if (h == NULL || (h->fn = strdup(name)) == NULL ||
        (h->schema = strdup(env->schema)) == NULL)
        goto nomem;
    len = sizeof fmt + 2 * strlen(env->schema);
    if ((h->call = malloc(len)) == NULL ||
        (h->msgtype = malloc(strlen(env->schema) + 16)) == NULL)
        goto nomem;
    snprintf(h->call, len, fmt, env->schema, env->schema);
    snprintf(h->msgtype, strlen(env->schema) + 16, "%s.message", env->schema);
    return h;
nomem:
    snprintf(err, errsize, "out of memory");
    handler_sql_close(h);
    return NULL;
}

int
handler_sql_prepare(void *arg, PGconn *pg, char *err, size_t errsize)
{
    struct sql_handler *h = arg;
    const char *vals[2] = {h->fn, h->msgtype};
    PGresult *r = PQexecParams(
        pg,
        "select pg_catalog.to_regprocedure(pg_catalog.format('%s(%s)',"
        " $1::text, $2::regtype)) is not null",
        2, NULL, vals, NULL, NULL, 0);
    int rc = -1;

    if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK)
        snprintf(err, errsize, "checking sql handler %s: %s", h->fn,
                 r ? PQresultErrorMessage(r) : PQerrorMessage(pg));
    else if (strcmp(PQgetvalue(r, 0, 0), "t") != 0)
        snprintf(err, errsize, "sql handler function %s(%s) does not exist",
                 h->fn, h->msgtype);
    else
        rc = 0;
    PQclear(r);
    return rc;
}

txq_handler_result
handler_sql_run(
    PGconn *pg, const txq_msg *m, void *arg, char *err, size_t errsize)
{
    struct sql_handler *h = arg;
    char id[24], attempt[16], prio[16], enq[40], vis[40];
    const char *vals[12];
    int lens[12] = {0}, fmts[12] = {0};
    size_t blen = 0;
    const void *body = txq_msg_body(m, &blen);
    PGresult *r;
    txq_handler_result res = TXQ_HANDLER_OK;

    snprintf(id, sizeof id, "%lld", (long long)txq_msg_id(m));
    snprintf(attempt, sizeof attempt, "%d", txq_msg_attempt(m));
    snprintf(prio, sizeof prio, "%d", txq_msg_priority(m));
    snprintf(enq, sizeof enq, "%.6f", txq_msg_enqueued_at(m));
    snprintf(vis, sizeof vis, "%.6f", txq_msg_visible_until(m));
    vals[0] = h->fn;
    vals[1] = id;
    vals[2] = txq_msg_queue(m);
    vals[3] = attempt;
    vals[4] = txq_msg_headers(m) != NULL ? txq_msg_headers(m) : "{}";
    vals[5] = body;
    lens[5] = (int)blen;
    fmts[5] = 1;
    vals[6] = txq_msg_correlation_id(m);
    vals[7] = txq_msg_reply_to(m);
    vals[8] = prio;
    vals[9] = txq_msg_group(m);
    vals[10] = enq;
    vals[11] = vis;
    if (blen > INT32_MAX) {
        snprintf(err, errsize, "body too large for a sql handler");
        return TXQ_HANDLER_PERMANENT;
    }
    r = PQexecParams(pg, h->call, 12, NULL, vals, lens, fmts, 0);
    if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) {
        const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        const char *msg =
            r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;

        res = policy_sql_result(st);
        snprintf(err, errsize, "%s: %s [%s]", h->fn,
                 msg != NULL ? msg : PQerrorMessage(pg), st ? st : "");
    }
    PQclear(r);
    return res;
}
