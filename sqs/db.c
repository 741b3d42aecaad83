/*
 * db.c - txq-sqs's database side: a bounded pool of connections (requests
 * wait for a free one, up to a limit), transactions that act as the
 * request's role, SQLSTATEs mapped to SQS's errors, and one LISTEN
 * connection whose txq_wake notifications wake the long polls waiting on
 * a queue. A long poll holds no pooled connection while it sleeps.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-events.h>

#include "log.h"
#include "sqs.h"

/* === the pool === */

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_cv = PTHREAD_COND_INITIALIZER;
static PGconn **pool_free; /* free connections (NULL: not yet opened) */
static size_t pool_nfree;
static sqs_server *server;

/* === wake-ups === */

struct wake {
    char *queue;
    uint64_t gen;
    struct wake *next;
};

static pthread_mutex_t wake_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cv;
static struct wake *wakes;
static uint64_t wake_epoch; /* bumped for every queue at once */
static pthread_t listener;
static int listener_started;
static volatile int stopping;
/* The LISTEN connection is up: /readyz and txq_sqs_db_connected. */
static atomic_int listening;

double
sqs_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Every request's transaction is short and never waits for its client:
 * one left open by a bug must not pin the vacuum horizon for long. */
static void
session_setup(PGconn *pg)
{
    PQclear(PQexec(pg, "set idle_in_transaction_session_timeout = '60s'"));
}

/* What a pooled connection has prepared: bit i for sql_cache[i], and
 * PREP_ROLE for the role's set_config. Kept as the connection's instance
 * data by a libpq event procedure, so that a reset connection (which has
 * lost its prepared statements) starts again with none. */
#define PREP_ROLE (UINT64_C(1) << 63)
struct conn_data {
    uint64_t prepared;
};

static int
conn_event(PGEventId id, void *info, void *pass)
{
    (void)pass;
    if (id == PGEVT_REGISTER) {
        PGconn *pg = ((PGEventRegister *)info)->conn;
        struct conn_data *d = calloc(1, sizeof *d);

        return d != NULL && PQsetInstanceData(pg, conn_event, d);
    }
    if (id == PGEVT_CONNRESET) {
        struct conn_data *d =
            PQinstanceData(((PGEventConnReset *)info)->conn, conn_event);

        if (d != NULL)
            d->prepared = 0;
    } else if (id == PGEVT_CONNDESTROY) {
        free(PQinstanceData(((PGEventConnDestroy *)info)->conn, conn_event));
    }
    return 1;
}

static PGconn *
connect_db(void)
{
    const char *keys[] = {"dbname", "fallback_application_name", NULL};
    const char *vals[] = {server->db, "txq-sqs", NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);

    if (pg != NULL && PQstatus(pg) != CONNECTION_OK) {
        char msg[256];

        snprintf(msg, sizeof msg, "%s", PQerrorMessage(pg));
        msg[strcspn(msg, "\n")] = '\0';
        wlog(WLOG_ERROR, "cannot connect to the database", "err=%s", msg);
        PQfinish(pg);
        return NULL;
    }
    if (pg != NULL && !PQregisterEventProc(pg, conn_event, "txq-sqs", NULL)) {
        wlog(WLOG_ERROR, "out of memory for a connection", NULL);
        PQfinish(pg);
        return NULL;
    }
    session_setup(pg);
    return pg;
}

/* SQL templates with @s@ turned into the schema, built on first use. */
#define MAX_SQL 64
static struct {
    const char *tmpl;
    char *sql;
} sql_cache[MAX_SQL];
static pthread_mutex_t sql_mu = PTHREAD_MUTEX_INITIALIZER;

/* The SQL text of tmpl and (in *index) its slot in sql_cache. */
static const char *
sql_text(const char *tmpl, int *index)
{
    size_t i, n, sl = strlen(server->schema_ident);
    const char *p;
    char *out, *o;

    pthread_mutex_lock(&sql_mu);
    for (i = 0; i < MAX_SQL && sql_cache[i].tmpl != NULL; i++) {
        if (sql_cache[i].tmpl == tmpl) {
            pthread_mutex_unlock(&sql_mu);
            *index = (int)i;
            return sql_cache[i].sql;
        }
    }
    n = 1;
    for (p = tmpl; *p; p++)
        n += strncmp(p, "@s@", 3) == 0 ? sl : 1;
    out = malloc(n);
    if (out == NULL || i == MAX_SQL) {
        /* Every template is a literal of this program: fixed in number. */
        pthread_mutex_unlock(&sql_mu);
        wlog(WLOG_ERROR, "out of memory for SQL text", NULL);
        abort();
    }
    for (p = tmpl, o = out; *p;) {
        if (strncmp(p, "@s@", 3) == 0) {
            memcpy(o, server->schema_ident, sl);
            o += sl;
            p += 3;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    sql_cache[i].tmpl = tmpl;
    sql_cache[i].sql = out;
    pthread_mutex_unlock(&sql_mu);
    *index = (int)i;
    return out;
}

const char *
sqs_sql(const char *tmpl)
{
    int index;

    return sql_text(tmpl, &index);
}

/* An idle pooled connection has nothing to read unless its backend went
 * away (a terminated backend's FATAL, then end of file): reading what is
 * there, without waiting, finds that out before a request fails on it. */
static int
conn_alive(PGconn *pg)
{
    struct pollfd p = {.fd = PQsocket(pg), .events = POLLIN};

    for (int i = 0; i < 4 && PQstatus(pg) == CONNECTION_OK; i++) {
        if (poll(&p, 1, 0) <= 0)
            break;
        if (!PQconsumeInput(pg))
            break;          /* end of file: the status is now bad */
        (void)PQisBusy(pg); /* parse it: a FATAL goes to the notice log */
    }
    return PQstatus(pg) == CONNECTION_OK;
}

PGconn *
sqs_db_get(sqs_req *req)
{
    struct timespec until;
    PGconn *pg = NULL;

    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)server->pool_wait;
    pthread_mutex_lock(&pool_mu);
    while (pool_nfree == 0) {
        if (pthread_cond_timedwait(&pool_cv, &pool_mu, &until) == ETIMEDOUT &&
            pool_nfree == 0) {
            pthread_mutex_unlock(&pool_mu);
            sqs_fail(req, SQS_E_UNAVAILABLE,
                     "no database connection free within %g s: try again",
                     server->pool_wait);
            return NULL;
        }
    }
    pg = pool_free[--pool_nfree];
    pthread_mutex_unlock(&pool_mu);

    if (pg != NULL && !conn_alive(pg)) {
        wlog(WLOG_INFO, "reconnecting: the connection was closed", NULL);
        PQreset(pg);
        if (PQstatus(pg) == CONNECTION_OK)
            session_setup(pg);
    }
    if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
        PQfinish(pg);
        pg = connect_db();
    }
    if (pg == NULL) {
        sqs_db_put(NULL);
        sqs_fail(req, SQS_E_UNAVAILABLE, "the database is not reachable");
        return NULL;
    }
    return pg;
}

void
sqs_db_put(PGconn *pg)
{
    if (pg != NULL && PQtransactionStatus(pg) != PQTRANS_IDLE) {
        /* A request that failed half-way: never hand on its transaction. */
        PQclear(PQexec(pg, "rollback"));
        if (PQtransactionStatus(pg) != PQTRANS_IDLE) {
            PQfinish(pg);
            pg = NULL;
        }
    }
    pthread_mutex_lock(&pool_mu);
    pool_free[pool_nfree++] = pg;
    pthread_cond_signal(&pool_cv);
    pthread_mutex_unlock(&pool_mu);
}

enum sqs_code
sqs_pg_error(sqs_req *req, PGconn *pg, const PGresult *r)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;

    if (state == NULL)
        state = "";
    if (msg == NULL)
        msg = PQerrorMessage(pg);
    if (strcmp(state, "42501") == 0)
        return sqs_fail(req, SQS_E_ACCESS_DENIED, "%s", msg);
    if (strcmp(state, "TQ002") == 0)
        return sqs_fail(req, SQS_E_QUEUE_NOT_FOUND,
                        "The specified queue does not exist.");
    /* 55000: a move task already running, a queue still a DLQ, ... */
    if (strcmp(state, "22023") == 0 || strcmp(state, "54000") == 0 ||
        strcmp(state, "55000") == 0 || strcmp(state, "22021") == 0 ||
        strcmp(state, "22P05") == 0)
        return sqs_fail(req, SQS_E_INVALID_PARAM, "%s", msg);
    if (strcmp(state, "42710") == 0)
        return sqs_fail(req, SQS_E_QUEUE_EXISTS, "%s", msg);
    if (strcmp(state, "TQ003") == 0)
        return sqs_fail(req, SQS_E_NOT_INFLIGHT,
                        "The message referred to isn't in flight.");
    if (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
        PQstatus(pg) != CONNECTION_OK || strcmp(state, "40001") == 0 ||
        strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0) {
        wlog(WLOG_WARN, "database unavailable", "sqlstate=%s err=%s",
             state[0] ? state : NULL, msg);
        return sqs_fail(req, SQS_E_UNAVAILABLE,
                        "the database is unavailable: try again");
    }
    wlog(WLOG_ERROR, "database error", "action=%s sqlstate=%s err=%s",
         req->action, state[0] ? state : NULL, msg);
    return sqs_fail(req, SQS_E_INTERNAL,
                    "internal error (request %s; sqlstate %s)", req->request_id,
                    state[0] ? state : "none");
}

PGresult *
sqs_exec(sqs_req *req,
         PGconn *pg,
         const char *sql,
         int n,
         const char *const *values,
         const int *lengths,
         const int *binary)
{
    PGresult *r = PQexecParams(pg, sql, n, NULL, values, lengths, binary, 0);
    ExecStatusType st = PQresultStatus(r);

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    sqs_pg_error(req, pg, r);
    PQclear(r);
    return NULL;
}

int
sqs_tx_begin(sqs_req *req, PGconn *pg)
{
    const char *v[1] = {req->role};
    PGresult *r = sqs_exec(req, pg, "begin", 0, NULL, NULL, NULL);

    if (r == NULL)
        return -1;
    PQclear(r);
    /* SET LOCAL ROLE, as a parameter: the role is checked by the server
     * (the login must be a member) and ends with the transaction. */
    r = sqs_exec(req, pg, "select pg_catalog.set_config('role', $1, true)", 1,
                 v, NULL, NULL);
    if (r == NULL) {
        wlog(WLOG_ERROR, "cannot act as the access key's role",
             "role=%s key=%s err=%s", req->role, req->key_id, req->errmsg);
        PQclear(PQexec(pg, "rollback"));
        sqs_fail(req, SQS_E_ACCESS_DENIED,
                 "access key %s cannot act as its role", req->key_id);
        return -1;
    }
    PQclear(r);
    return 0;
}

int
sqs_tx_end(sqs_req *req, PGconn *pg, int ok)
{
    PGresult *r;

    if (!ok) {
        PQclear(PQexec(pg, "rollback"));
        return 0;
    }
    r = sqs_exec(req, pg, "commit", 0, NULL, NULL, NULL);
    if (r == NULL)
        return -1;
    PQclear(r);
    return 0;
}

/*
 * sqs_tx_exec: the role's set_config and the statement in one pipeline,
 * ended by one sync. Statements between syncs run in one implicit
 * transaction, which commits at the sync (or rolls back on an error), so
 * a request costs one round trip instead of four (BEGIN, set_config, the
 * statement, COMMIT). Both statements are prepared, in the same pipeline,
 * the first time a connection runs them: parsing and planning the
 * statement again on every request was a quarter of a SendMessageBatch.
 */
PGresult *
sqs_tx_exec(sqs_req *req,
            PGconn *pg,
            const char *tmpl,
            int n,
            const char *const *values,
            const int *lengths,
            const int *binary)
{
    static const char role_sql[] =
        "select pg_catalog.set_config('role', $1, true)";
    struct conn_data *d = PQinstanceData(pg, conn_event);
    const char *role[1] = {req->role};
    int index, cmd = 0, ncmd = 0, role_cmd, stmt_cmd, prep_cmd[2] = {-1, -1};
    int nulls = 0, sent = 1;
    uint64_t bit[2];
    const char *sql = sql_text(tmpl, &index);
    char name[32];
    PGresult *r, *out = NULL, *err = NULL;
    int err_cmd = -1;

    snprintf(name, sizeof name, "txq_sqs_%d", index);
    bit[0] = PREP_ROLE;
    bit[1] = index < 63 ? UINT64_C(1) << index : 0;
    if (!PQenterPipelineMode(pg))
        sent = 0;
    if (sent && d != NULL && !(d->prepared & bit[0])) {
        prep_cmd[0] = ncmd++;
        sent = PQsendPrepare(pg, "txq_sqs_role", role_sql, 1, NULL);
    }
    if (sent && d != NULL && bit[1] != 0 && !(d->prepared & bit[1])) {
        prep_cmd[1] = ncmd++;
        sent = PQsendPrepare(pg, name, sql, n, NULL);
    }
    role_cmd = ncmd++;
    stmt_cmd = ncmd++;
    if (sent)
        sent = d != NULL ? PQsendQueryPrepared(pg, "txq_sqs_role", 1, role,
                                               NULL, NULL, 0)
                         : PQsendQueryParams(pg, role_sql, 1, NULL, role, NULL,
                                             NULL, 0);
    if (sent)
        sent =
            d != NULL && bit[1] != 0
                ? PQsendQueryPrepared(pg, name, n, values, lengths, binary, 0)
                : PQsendQueryParams(pg, sql, n, NULL, values, lengths, binary,
                                    0);
    if (sent)
        sent = PQpipelineSync(pg);
    /* Each command's results end with a NULL; the sync's own result ends
     * the pipeline. An error aborts the commands after it (their results
     * say so) and the transaction; a failed COMMIT at the sync comes as
     * an error result of its own. */
    while (sent) {
        ExecStatusType st;

        r = PQgetResult(pg);
        if (r == NULL) {
            if (PQstatus(pg) != CONNECTION_OK || ++nulls > ncmd + 1)
                break;
            cmd++;
            continue;
        }
        st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        if (st == PGRES_FATAL_ERROR || st == PGRES_NONFATAL_ERROR) {
            if (err == NULL) {
                err = r;
                err_cmd = cmd;
                continue;
            }
        } else if (st != PGRES_PIPELINE_ABORTED && cmd == stmt_cmd &&
                   out == NULL) {
            out = r;
            continue;
        } else if (st == PGRES_COMMAND_OK && d != NULL) {
            for (int k = 0; k < 2; k++)
                if (cmd == prep_cmd[k])
                    d->prepared |= bit[k];
        }
        PQclear(r);
    }
    if (PQpipelineStatus(pg) != PQ_PIPELINE_OFF && !PQexitPipelineMode(pg))
        PQreset(pg); /* results left unread: never hand them on */
    if (err == NULL && out != NULL)
        return out;
    PQclear(out);
    if (err_cmd == role_cmd) {
        wlog(WLOG_ERROR, "cannot act as the access key's role",
             "role=%s key=%s err=%s", req->role, req->key_id,
             PQresultErrorField(err, PG_DIAG_MESSAGE_PRIMARY));
        sqs_fail(req, SQS_E_ACCESS_DENIED,
                 "access key %s cannot act as its role", req->key_id);
    } else {
        sqs_pg_error(req, pg, err);
    }
    PQclear(err);
    return NULL;
}

/* === wake-ups === */

/* The entry of queue, made when missing (wake_mu held); NULL on OOM. */
static struct wake *
wake_entry(const char *queue)
{
    struct wake *w;

    for (w = wakes; w != NULL; w = w->next)
        if (strcmp(w->queue, queue) == 0)
            return w;
    w = calloc(1, sizeof *w);
    if (w == NULL || (w->queue = strdup(queue)) == NULL) {
        free(w);
        return NULL;
    }
    w->next = wakes;
    wakes = w;
    return w;
}

uint64_t
sqs_wake_gen(const char *queue)
{
    struct wake *w;
    uint64_t g;

    pthread_mutex_lock(&wake_mu);
    w = wake_entry(queue);
    g = (w ? w->gen : 0) + wake_epoch;
    pthread_mutex_unlock(&wake_mu);
    return g;
}

int
sqs_wake_wait(const char *queue, uint64_t gen, double deadline)
{
    int woken = 0;

    pthread_mutex_lock(&wake_mu);
    for (;;) {
        struct wake *w = wake_entry(queue);
        double left = deadline - sqs_now();
        struct timespec ts;

        if (w != NULL && w->gen + wake_epoch != gen) {
            woken = 1;
            break;
        }
        if (left <= 0 || server->draining)
            break;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += (time_t)left;
        ts.tv_nsec += (long)((left - (double)(time_t)left) * 1e9);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&wake_cv, &wake_mu, &ts);
    }
    pthread_mutex_unlock(&wake_mu);
    return woken;
}

void
sqs_wake_all(void)
{
    pthread_mutex_lock(&wake_mu);
    wake_epoch++;
    pthread_cond_broadcast(&wake_cv);
    pthread_mutex_unlock(&wake_mu);
}

static void
wake_queue(const char *queue)
{
    struct wake *w;

    pthread_mutex_lock(&wake_mu);
    w = wake_entry(queue);
    if (w != NULL)
        w->gen++;
    else
        wake_epoch++;
    pthread_cond_broadcast(&wake_cv);
    pthread_mutex_unlock(&wake_mu);
}

/* The LISTEN connection: reconnects with backoff; each (re)connect wakes
 * every long poll, since notifications may have been missed meanwhile. */
static void *
listen_main(void *arg)
{
    PGconn *pg = NULL;
    double backoff = 0.1;

    (void)arg;
    while (!stopping) {
        struct pollfd pfd;
        PGnotify *nf;
        int n;

        if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
            PGresult *r;

            atomic_store(&listening, 0);
            PQfinish(pg);
            pg = connect_db();
            if (pg != NULL) {
                r = PQexec(pg, "listen txq_wake");
                if (PQresultStatus(r) != PGRES_COMMAND_OK) {
                    PQfinish(pg);
                    pg = NULL;
                }
                PQclear(r);
            }
            if (pg == NULL) {
                /* tv_nsec stays under a second: nanosleep refuses more
                 * (EINVAL, no pause at all). */
                struct timespec ts = {
                    (time_t)backoff,
                    (long)((backoff - (double)(time_t)backoff) * 1e9)};

                nanosleep(&ts, NULL);
                backoff = backoff * 2 > 2 ? 2 : backoff * 2;
                continue;
            }
            backoff = 0.1;
            atomic_store(&listening, 1);
            wlog(WLOG_DEBUG, "listening for wake-ups", "channel=txq_wake");
            sqs_wake_all();
        }
        pfd.fd = PQsocket(pg);
        pfd.events = POLLIN;
        pfd.revents = 0;
        n = poll(&pfd, 1, 500);
        if (n < 0 && errno != EINTR) {
            PQfinish(pg);
            pg = NULL;
            continue;
        }
        if (n <= 0)
            continue;
        if (!PQconsumeInput(pg)) {
            wlog(WLOG_WARN, "wake-up connection lost: reconnecting", NULL);
            atomic_store(&listening, 0);
            PQfinish(pg);
            pg = NULL;
            continue;
        }
        while ((nf = PQnotifies(pg)) != NULL) {
            if (strcmp(nf->relname, "txq_wake") == 0 && nf->extra != NULL)
                wake_queue(nf->extra);
            PQfreemem(nf);
        }
    }
    atomic_store(&listening, 0);
    PQfinish(pg);
    return NULL;
}

void
sqs_db_stats(int *size, int *in_use, int *up)
{
    pthread_mutex_lock(&pool_mu);
    *size = server != NULL ? server->pool_size : 0;
    *in_use = pool_free != NULL ? *size - (int)pool_nfree : 0;
    pthread_mutex_unlock(&pool_mu);
    *up = atomic_load(&listening);
}

int
sqs_db_start(sqs_server *srv)
{
    pthread_condattr_t ca;
    PGconn *pg;

    server = srv;
    pool_free = calloc((size_t)srv->pool_size, sizeof *pool_free);
    if (pool_free == NULL)
        return -1;
    pool_nfree = (size_t)srv->pool_size;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&wake_cv, &ca);
    pthread_condattr_destroy(&ca);

    /* One connection at start: a wrong conninfo fails now, not later. */
    pg = connect_db();
    if (pg == NULL)
        return -1;
    if (srv->schema_ident == NULL) {
        char *id = PQescapeIdentifier(pg, srv->schema, strlen(srv->schema));

        if (id == NULL || (srv->schema_ident = strdup(id)) == NULL) {
            PQfreemem(id);
            PQfinish(pg);
            return -1;
        }
        PQfreemem(id);
    }
    pool_free[--pool_nfree] = pg;
    pool_nfree = (size_t)srv->pool_size;

    if (pthread_create(&listener, NULL, listen_main, NULL) != 0)
        return -1;
    listener_started = 1;
    return 0;
}

void
sqs_db_stop(void)
{
    size_t i;

    stopping = 1;
    if (listener_started)
        pthread_join(listener, NULL);
    listener_started = 0;
    pthread_mutex_lock(&pool_mu);
    for (i = 0; i < pool_nfree; i++)
        PQfinish(pool_free[i]);
    pool_nfree = 0;
    free(pool_free);
    pool_free = NULL;
    pthread_mutex_unlock(&pool_mu);
    while (wakes != NULL) {
        struct wake *w = wakes;

        wakes = w->next;
        free(w->queue);
        free(w);
    }
    for (i = 0; i < MAX_SQL && sql_cache[i].tmpl != NULL; i++)
        free(sql_cache[i].sql);
    free(server->schema_ident);
    server->schema_ident = NULL;
}
