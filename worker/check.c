/*
 * check.c - what makes a start hopeless, found before any consumer runs:
 * the schema not at this build's version, a configured queue that does not
 * exist, a handler that cannot work (its SQL function missing, its program
 * not found). The supervisor runs it on its first connection and exits on
 * a failure instead of retrying forever; --check-config runs it too.
 */
#include <stdio.h>
#include <string.h>

#include "handler.h"
#include "worker.h"

/* Append "; what" to err (the first problem without the separator). */
static void
add_problem(char *err, size_t errsize, const char *what)
{
    size_t n = strnlen(err, errsize);

    if (n + 1 < errsize)
        snprintf(err + n, errsize - n, "%s%s", n > 0 ? "; " : "", what);
}

int
worker_check_db(
    const worker_cfg *cfg, PGconn *pg, int load, char *err, size_t errsize)
{
    txq_options copts = {0};
    txq_client *c;
    char sql[160], msg[1024];
    size_t i;

    err[0] = '\0';
    copts.schema = cfg->schema;
    if ((c = txq_client_new(&copts)) == NULL) {
        snprintf(err, errsize, "out of memory");
        return -1;
    }
    if (txq_schema_check(c, pg) != TXQ_OK) {
        snprintf(err, errsize, "%s", txq_errmsg(c));
        txq_client_free(c);
        return -1;
    }
    /* The schema name matches [a-z_][a-z0-9_]*: quoted, it needs no
     * escaping. Queue names are parameters. */
    snprintf(sql, sizeof sql,
             "select 1 from \"%s\".queues where name operator(pg_catalog.=) "
             "$1::pg_catalog.text",
             cfg->schema);
    for (i = 0; i < cfg->nqueues; i++) {
        const queue_cfg *q = &cfg->queues[i];
        const char *vals[1] = {q->name};
        PGresult *r = PQexecParams(pg, sql, 1, NULL, vals, NULL, NULL, 0);
        handler_env env = {c, cfg->schema, q->name, 1, cfg->pass_env};

        if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            snprintf(msg, sizeof msg, "queue %s: %s", q->name,
                     PQresultErrorMessage(r));
            add_problem(err, errsize, msg);
        } else if (PQntuples(r) == 0) {
            snprintf(msg, sizeof msg,
                     "queue %s does not exist in schema %s (txq queue "
                     "create %s)",
                     q->name, cfg->schema, q->name);
            add_problem(err, errsize, msg);
        } else if (handler_verify(q->handler, &env, pg, load, msg,
                                  sizeof msg) != 0) {
            char full[1200];

            snprintf(full, sizeof full, "queue %s: %s", q->name, msg);
            add_problem(err, errsize, full);
        }
        PQclear(r);
    }
    txq_client_free(c);
    return err[0] == '\0' ? 0 : -1;
}
