/*
 * check.c - what makes a start hopeless, found before any consumer runs:
 * the schema not at this build's version, a configured queue that does not
 * exist or that the worker's role may not receive from, a handler that
 * cannot work (its SQL function missing, its program not found), an
 * encrypted queue without the keys to open it or with an sql: handler
 * (the server never holds the keys), a key file that cannot be read. The
 * supervisor runs it on its first connection and exits on a failure
 * instead of retrying forever; --check-config runs it too. Also whether
 * the role may run maintain(), which the worker skips when it may not.
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

/*
 * Ask txq.privileges() whether pg's role holds privilege on queue ('*':
 * every queue); the role's name into role. The queue is looked up by the
 * function (TQ002 when there is none): a role that may not read
 * txq.queues asks too. Returns 1 or 0, or -1 with the failed result in
 * *res (the caller clears it).
 */
static int
holds(const char *schema,
      PGconn *pg,
      const char *queue,
      const char *privilege,
      char *role,
      size_t rolesize,
      PGresult **res)
{
    char sql[200];
    const char *vals[2] = {queue, privilege};
    PGresult *r;
    int yes;

    /* The schema name matches [a-z_][a-z0-9_]*: quoted, it needs no
     * escaping. The rest are parameters. */
    snprintf(sql, sizeof sql,
             "select $2::pg_catalog.text operator(pg_catalog.=) any (p), "
             "current_user::pg_catalog.text "
             "from \"%s\".privileges($1::pg_catalog.text) p",
             schema);
    r = PQexecParams(pg, sql, 2, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        *res = r;
        return -1;
    }
    yes = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    snprintf(role, rolesize, "%s", PQgetvalue(r, 0, 1));
    PQclear(r);
    return yes;
}

static const char *
sqlstate_of(const PGresult *r)
{
    const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

    return s != NULL ? s : "";
}

/* The problem with queue q's receive privilege, if any, into msg ("" when
 * none). Returns -1 when privileges() itself is missing (the schema's
 * functions predate this build: one message for every queue). */
static int
check_receive(const worker_cfg *cfg,
              PGconn *pg,
              const queue_cfg *q,
              char *msg,
              size_t msgsize)
{
    char role[128];
    PGresult *r = NULL;
    int held =
        holds(cfg->schema, pg, q->name, "receive", role, sizeof role, &r);
    const char *state = sqlstate_of(r);

    msg[0] = '\0';
    if (held < 0 && strcmp(state, "42883") == 0) {
        snprintf(msg, msgsize,
                 "schema %s has no function privileges(text): its "
                 "definitions are older than this build (txq migrate)",
                 cfg->schema);
        PQclear(r);
        return -1;
    }
    if (held < 0 && strcmp(state, "TQ002") == 0)
        snprintf(msg, msgsize,
                 "queue %s does not exist in schema %s (txq queue create %s)",
                 q->name, cfg->schema, q->name);
    else if (held < 0 && strcmp(state, "42501") != 0)
        snprintf(msg, msgsize, "queue %s: %s", q->name,
                 r ? PQresultErrorMessage(r) : PQerrorMessage(pg));
    else if (held <= 0)
        /* 42501: not even EXECUTE on privileges(): the role holds no
         * grant of this schema at all. */
        snprintf(msg, msgsize,
                 "role %s lacks receive on queue %s, which it is to consume "
                 "(txq grant %s %s receive)",
                 held == 0 ? role : PQuser(pg), q->name, q->name,
                 held == 0 ? role : PQuser(pg));
    PQclear(r);
    return 0;
}

/* Whether queue is encrypted: 1 or 0, -1 when it could not be asked. */
static int
encrypted(const char *schema, PGconn *pg, const char *queue)
{
    char sql[160];
    const char *vals[1] = {queue};
    PGresult *r;
    int yes = -1;

    snprintf(sql, sizeof sql, "select \"%s\"._encrypted($1::pg_catalog.text)",
             schema);
    r = PQexecParams(pg, sql, 1, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        yes = strcmp(PQgetvalue(r, 0, 0), "t") == 0;
    PQclear(r);
    return yes;
}

/* The problems of encrypted queues and of the key file into err. */
static void
check_keys(const worker_cfg *cfg, PGconn *pg, char *err, size_t errsize)
{
    char msg[1200];
    txq_keyring *kr = NULL;
    size_t i;

    if (cfg->key_file[0] != '\0') {
        if (txq_keyring_load(cfg->key_file, &kr, msg, sizeof msg) != TXQ_OK)
            add_problem(err, errsize, msg);
        txq_keyring_free(kr);
    }
    for (i = 0; i < cfg->nqueues; i++) {
        const queue_cfg *q = &cfg->queues[i];

        if (encrypted(cfg->schema, pg, q->name) != 1)
            continue;
        if (strncmp(q->handler, "sql:", 4) == 0) {
            snprintf(msg, sizeof msg,
                     "queue %s is encrypted: an sql: handler would run in "
                     "the server, which never holds the keys; use an so: or "
                     "exec: handler",
                     q->name);
            add_problem(err, errsize, msg);
        } else if (cfg->key_file[0] == '\0') {
            snprintf(msg, sizeof msg,
                     "queue %s is encrypted: give the worker its keys "
                     "(key_file, --key-file)",
                     q->name);
            add_problem(err, errsize, msg);
        }
    }
}

int
worker_check_db(
    const worker_cfg *cfg, PGconn *pg, int load, char *err, size_t errsize)
{
    txq_options copts = TXQ_OPTIONS_INIT;
    txq_client *c;
    char msg[1024];
    size_t i;

    err[0] = '\0';
    copts.schema = cfg->schema;
    if ((c = txq_client_new(&copts)) == NULL) {
        snprintf(err, errsize, "out of memory");
        return -1;
    }
    txq_client_set_pooler(c, config_pooler(cfg->pooler));
    if (txq_schema_check(c, pg) != TXQ_OK) {
        snprintf(err, errsize, "%s", txq_errmsg(c));
        txq_client_free(c);
        return -1;
    }
    for (i = 0; i < cfg->nqueues; i++) {
        const queue_cfg *q = &cfg->queues[i];
        handler_env env = {c, cfg->schema, q->name, 1, cfg->pass_env};

        if (check_receive(cfg, pg, q, msg, sizeof msg) < 0) {
            add_problem(err, errsize, msg);
            break;
        }
        if (msg[0] != '\0') {
            add_problem(err, errsize, msg);
        } else if (handler_verify(q->handler, &env, pg, load, msg,
                                  sizeof msg) != 0) {
            char full[1200];

            snprintf(full, sizeof full, "queue %s: %s", q->name, msg);
            add_problem(err, errsize, full);
        }
    }
    if (err[0] == '\0')
        check_keys(cfg, pg, err, errsize);
    txq_client_free(c);
    return err[0] == '\0' ? 0 : -1;
}

int
worker_may_maintain(const worker_cfg *cfg,
                    PGconn *pg,
                    char *role,
                    size_t rolesize)
{
    PGresult *r = NULL;
    int held = holds(cfg->schema, pg, "*", "operate", role, rolesize, &r);

    if (held < 0 && strcmp(sqlstate_of(r), "42501") == 0) {
        snprintf(role, rolesize, "%s", PQuser(pg));
        held = 0;
    }
    PQclear(r);
    return held;
}
