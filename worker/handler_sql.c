/*
 * handler_sql.c - sql:schema.fn handlers: schema.fn(m txq.message) runs
 * inside the consume transaction, as txq.run_sql_handler(fn, message) would
 * run it, without its per-call cost (name resolution and an EXECUTE plan on
 * every message). Once per connection the server resolves the name
 * (to_regprocedure, the name travelling as a parameter) and returns the
 * function as its regproc text, quoted by PostgreSQL; only that text is
 * spliced into the call, which is prepared once (PQprepare); behind a
 * transaction pooler (txq_pooled), where the next transaction may run on
 * another server connection, it is sent unnamed with each message. The
 * message row is built from parameters. A raised error is a failure to retry;
 * SQLSTATE TQ001 a permanent one. A non-null result of a request becomes
 * the reply (txq.reply, same transaction): bytea as is, void none, any
 * other type its text in UTF-8.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handler.h"
#include "policy.h"

struct sql_handler {
    char *fn;
    char *schema;     /* plain (valid) name, for the type parameter */
    char *msgtype;    /* "schema.message" */
    PGconn *prepared; /* the connection the call is prepared on */
    txq_client *c;    /* the consumer's client (may be NULL): pooled? */
    char *call;       /* the call's text, sent unnamed when unnamed */
    int unnamed;
};

/* The prepared call's name, on the child's own connection. */
#define SQL_HANDLER_STMT "txq_worker_sql_handler"

/* The message row, from parameters $1-$11, and the schema twice. */
#define SQL_HANDLER_ROW                                                  \
    "row($1::bigint, $2::text, $3::int, $4::jsonb, $5::bytea, $6::text," \
    " $7::text, $8::smallint, $9::text, null::text,"                     \
    " pg_catalog.to_timestamp($10::float8),"                             \
    " pg_catalog.to_timestamp($11::float8))::\"%s\".message"

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

/* Drop what handler_sql_prepare prepared on pg (a check's connection). */
void
handler_sql_unprepare(PGconn *pg)
{
    PQclear(PQexec(pg, "deallocate " SQL_HANDLER_STMT));
}

void
handler_sql_forget(void *arg)
{
    ((struct sql_handler *)arg)->prepared = NULL;
}

void
handler_sql_close(void *arg)
{
    struct sql_handler *h = arg;

    if (h == NULL)
        return;
    free(h->fn);
    free(h->schema);
    free(h->msgtype);
    free(h->call);
    free(h);
}

void *
handler_sql_open(const char *name,
                 const handler_env *env,
                 char *err,
                 size_t errsize)
{
    struct sql_handler *h = calloc(1, sizeof *h);

    /* The schema was checked against [a-z_][a-z0-9_]*: quoting it needs
     * no escaping. */
    if (h == NULL || (h->fn = strdup(name)) == NULL ||
        (h->schema = strdup(env->schema)) == NULL)
        goto nomem;
    h->c = env->c;
    if ((h->msgtype = malloc(strlen(env->schema) + 16)) == NULL)
        goto nomem;
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
    /* A call whose result is the reply: evaluated once (offset 0 and
     * limit 1 keep the planner from copying the handler call into each
     * use of its result; limit 1: a set-returning handler's first row, as
     * run_sql_handler's EXECUTE ... INTO), then reply() for a request
     * with a non-null result. */
    static const char call_reply[] =
        "select case when s.r is not null and (s.m).reply_to is not null"
        " and (s.m).correlation_id is not null then"
        " \"%s\".reply((s.m).reply_to, (s.m).correlation_id, s.r) end"
        " from (select %s as r, x.m from (select " SQL_HANDLER_ROW
        " as m offset 0) x limit 1) s";
    static const char call_void[] = "select %s(" SQL_HANDLER_ROW ")";
    struct sql_handler *h = arg;
    const char *vals[2] = {h->fn, h->msgtype};
    PGresult *r = PQexecParams(
        pg,
        "select s.f::pg_catalog.oid::pg_catalog.regproc::pg_catalog.text,"
        " case when p.prorettype operator(pg_catalog.=)"
        " 'pg_catalog.bytea'::pg_catalog.regtype then 'b'"
        " when p.prorettype operator(pg_catalog.=)"
        " 'pg_catalog.void'::pg_catalog.regtype then 'v' else 't' end"
        " from (select pg_catalog.to_regprocedure(pg_catalog.format("
        "'%s(%s)', $1::text, $2::pg_catalog.regtype)) as f) s"
        " left join pg_catalog.pg_proc p on p.oid operator(pg_catalog.=) s.f",
        2, NULL, vals, NULL, NULL, 0);
    char *expr = NULL, *call = NULL;
    size_t len;
    int rc = -1;

    if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errsize, "checking sql handler %s: %s", h->fn,
                 r ? PQresultErrorMessage(r) : PQerrorMessage(pg));
        goto out;
    }
    if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0)) {
        snprintf(err, errsize, "sql handler function %s(%s) does not exist",
                 h->fn, h->msgtype);
        goto out;
    }
    /* The function as PostgreSQL prints its regproc: resolved, and quoted
     * (quote_ident) wherever needed; never the name as configured. */
    {
        const char *fn = PQgetvalue(r, 0, 0);
        char kind = PQgetvalue(r, 0, 1)[0];

        len = 2 * strlen(fn) + 64;
        if ((expr = malloc(len)) == NULL)
            goto nomem;
        if (kind == 'b')
            snprintf(expr, len, "%s(x.m)", fn);
        else
            snprintf(expr, len,
                     "pg_catalog.convert_to((%s(x.m))::text,"
                     " 'UTF8')",
                     fn);
        len = sizeof call_reply + strlen(expr) + 3 * strlen(h->schema);
        if ((call = malloc(len)) == NULL)
            goto nomem;
        if (kind == 'v')
            snprintf(call, len, call_void, fn, h->schema);
        else
            snprintf(call, len, call_reply, h->schema, expr, h->schema);
    }
    PQclear(r);
    r = NULL;
    free(h->call);
    h->call = call;
    call = NULL;
    h->unnamed = 0;
    if (h->c != NULL && txq_pooled(h->c, pg, &h->unnamed) != TXQ_OK) {
        snprintf(err, errsize, "checking the connection: %s", txq_errmsg(h->c));
        goto out;
    }
    if (h->unnamed) {
        h->prepared = pg;
        rc = 0;
        goto out;
    }
    r = PQprepare(pg, SQL_HANDLER_STMT, h->call, 11, NULL);
    if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK)
        snprintf(err, errsize, "preparing sql handler %s: %s", h->fn,
                 r ? PQresultErrorMessage(r) : PQerrorMessage(pg));
    else {
        h->prepared = pg;
        rc = 0;
    }
    goto out;
nomem:
    snprintf(err, errsize, "out of memory");
out:
    PQclear(r);
    free(expr);
    free(call);
    return rc;
}

txq_handler_result
handler_sql_run(
    PGconn *pg, const txq_msg *m, void *arg, char *err, size_t errsize)
{
    struct sql_handler *h = arg;
    char id[24], attempt[16], prio[16], enq[40], vis[40];
    const char *vals[11];
    int lens[11] = {0}, fmts[11] = {0};
    size_t blen = 0;
    const void *body = txq_msg_body(m, &blen);
    PGresult *r;
    txq_handler_result res = TXQ_HANDLER_OK;

    snprintf(id, sizeof id, "%lld", (long long)txq_msg_id(m));
    snprintf(attempt, sizeof attempt, "%d", txq_msg_attempt(m));
    snprintf(prio, sizeof prio, "%d", txq_msg_priority(m));
    snprintf(enq, sizeof enq, "%.6f", txq_msg_enqueued_at(m));
    snprintf(vis, sizeof vis, "%.6f", txq_msg_visible_until(m));
    vals[0] = id;
    vals[1] = txq_msg_queue(m);
    vals[2] = attempt;
    vals[3] = txq_msg_headers(m) != NULL ? txq_msg_headers(m) : "{}";
    vals[4] = body;
    lens[4] = (int)blen;
    fmts[4] = 1;
    vals[5] = txq_msg_correlation_id(m);
    vals[6] = txq_msg_reply_to(m);
    vals[7] = prio;
    vals[8] = txq_msg_group(m);
    vals[9] = enq;
    vals[10] = vis;
    if (blen > INT32_MAX) {
        snprintf(err, errsize, "body too large for a sql handler");
        return TXQ_HANDLER_PERMANENT;
    }
    if (h->prepared != pg) {
        h->prepared = NULL;
        if (handler_sql_prepare(h, pg, err, errsize) != 0)
            return TXQ_HANDLER_RETRY;
    }
    /* Queued, not run: the consumer sends the ack and COMMIT behind it in
     * one round trip, and makes its failure the message's (see
     * txq_handler_fn). */
    if (PQenterPipelineMode(pg) &&
        (h->unnamed
             ? PQsendQueryParams(pg, h->call, 11, NULL, vals, lens, fmts, 0)
             : PQsendQueryPrepared(pg, SQL_HANDLER_STMT, 11, vals, lens, fmts,
                                   0))) {
        snprintf(err, errsize, "%s: ", h->fn); /* the error's prefix */
        return TXQ_HANDLER_OK;
    }
    if (PQpipelineStatus(pg) != PQ_PIPELINE_OFF) {
        snprintf(err, errsize, "%s: could not queue the call: %s", h->fn,
                 PQerrorMessage(pg));
        return TXQ_HANDLER_RETRY;
    }
    r = h->unnamed
            ? PQexecParams(pg, h->call, 11, NULL, vals, lens, fmts, 0)
            : PQexecPrepared(pg, SQL_HANDLER_STMT, 11, vals, lens, fmts, 0);
    if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) {
        const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        const char *msg =
            r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;

        /* The statement is gone (DEALLOCATE, DISCARD ALL, a pooler that
         * switched backends): this attempt fails, the next prepares it
         * again. */
        if (st != NULL && strcmp(st, "26000") == 0)
            h->prepared = NULL;

        res = policy_sql_result(st);
        snprintf(err, errsize, "%s: %s [%s]", h->fn,
                 msg != NULL ? msg : PQerrorMessage(pg), st ? st : "");
    }
    PQclear(r);
    return res;
}
