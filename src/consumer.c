/*
 * consumer.c - the consume loop (txq_consumer_*), shared by embedding
 * services and txq-worker. Claims commit first (txq_claim), so each attempt
 * is durable before its handler runs; then each message is handled in a
 * transaction of its own together with its fenced ack, and a failure is
 * recorded by txq_fail in a separate transaction after the rollback.
 * On the happy path the claim of the next messages rides in the ack's
 * transaction (txq__ack_claim_commit: ack, claim and COMMIT in one round
 * trip), so a busy consumer pays one commit per message, not two, and each
 * attempt is still durable before its handler starts. Otherwise written
 * against the public API.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "txq_int.h"

#define ERRMSG_SIZE     256
#define IDLE_GRACE      5.0  /* idle_in_transaction beyond the budget */
#define VT_GRACE        10.0 /* claim length beyond the budget */
#define EXTEND_AFTER    1.0  /* re-extend a prefetched claim this old */
#define DEFAULT_TIMEOUT 30.0
#define DEFAULT_POLL    1.0
#define MAX_TIMEOUT     43000.0
#define MAX_PREFETCH    1000
#define AUTO_PREFETCH   16   /* automatic prefetch: at most this many */
#define AUTO_WINDOW     0.05 /* ...handled within about this (seconds) */

struct txq_consumer {
    txq_client *c;
    char *queue;
    txq_consumer_opts o;
    txq_handler_fn fn;
    void *arg;
    atomic_int stop;
    uint64_t handled;
    /* Automatic prefetch (opts.prefetch 0): seconds per message, a moving
     * average of handler, ack and commit together; 0 until measured. */
    double per_msg;
    int auto_prefetch;
    /* The last ack's round trip also opened the next message's transaction
     * (BEGIN and its statement_timeout), which is still open. */
    int begun;
    char errmsg[ERRMSG_SIZE];
    char sqlstate[6];
    char err[TXQ_HANDLER_ERRSIZE];
    /* Why txq_consumer_new could not read its opts (reported by
     * txq_consumer_run), or "". */
    char opts_err[ERRMSG_SIZE];
};

static double
mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static txq_err set_err(txq_consumer *k, txq_err rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static txq_err
set_err(txq_consumer *k, txq_err rc, const char *fmt, ...)
{
    va_list ap;
    size_t n;

    va_start(ap, fmt);
    vsnprintf(k->errmsg, sizeof k->errmsg, fmt, ap);
    va_end(ap);
    n = strlen(k->errmsg);
    while (n > 0 && (k->errmsg[n - 1] == '\n' || k->errmsg[n - 1] == ' '))
        k->errmsg[--n] = '\0';
    return rc;
}

/* Copy the client's error of a failed library call. */
static txq_err
from_client(txq_consumer *k, txq_err rc, const char *what)
{
    snprintf(k->sqlstate, sizeof k->sqlstate, "%s", txq_sqlstate(k->c));
    return set_err(k, rc, "%s: %s", what, txq_errmsg(k->c));
}

/*
 * Replace bytes that are not valid UTF-8, and control characters other
 * than tab and newline, with '?', in place: error texts go into text
 * columns, and a stray byte from a handler must not make txq_fail fail.
 */
static void
sanitize_utf8(char *s)
{
    unsigned char *p = (unsigned char *)s;

    while (*p) {
        int len = 0, i;
        unsigned int cp = 0;

        if (*p < 0x80) {
            if (*p < 0x20 && *p != '\t' && *p != '\n')
                *p = '?';
            else if (*p == 0x7f)
                *p = '?';
            p++;
            continue;
        }
        if ((*p & 0xe0) == 0xc0) {
            len = 2;
            cp = *p & 0x1fu;
        } else if ((*p & 0xf0) == 0xe0) {
            len = 3;
            cp = *p & 0x0fu;
        } else if ((*p & 0xf8) == 0xf0) {
            len = 4;
            cp = *p & 0x07u;
        }
        for (i = 1; i < len; i++) {
            if ((p[i] & 0xc0) != 0x80)
                break;
            cp = (cp << 6) | (p[i] & 0x3fu);
        }
        if (len == 0 || i < len || (len == 2 && cp < 0x80) ||
            (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            *p++ = '?';
            continue;
        }
        p += len;
    }
}

/* Whether a failed result or the connection means the session is gone. */
static int
conn_lost(PGconn *pg, const PGresult *r)
{
    const char *st;

    if (PQstatus(pg) == CONNECTION_BAD)
        return 1;
    st = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return st != NULL && strncmp(st, "08", 2) == 0;
}

/* Run one utility statement (no parameters, no rows). */
static txq_err
exec_cmd(txq_consumer *k, PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    txq_err rc = TXQ_OK;

    if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
        const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

        snprintf(k->sqlstate, sizeof k->sqlstate, "%s", st ? st : "");
        rc = set_err(k, conn_lost(pg, r) ? TXQ_ECONN : TXQ_EDB, "%s: %s", sql,
                     r ? PQresultErrorMessage(r) : PQerrorMessage(pg));
    } else if (strcmp(sql, "COMMIT") == 0 &&
               strcmp(PQcmdStatus(r), "COMMIT") != 0) {
        /* COMMIT of a failed transaction reports ROLLBACK. */
        rc = set_err(k, TXQ_EDB, "the transaction was rolled back");
    }
    PQclear(r);
    return rc;
}

/* Session settings: bound every statement and every open transaction. */
static txq_err
session_setup(txq_consumer *k, PGconn *pg)
{
    static const char sql[] =
        "select pg_catalog.set_config('statement_timeout', $1, false),"
        " pg_catalog.set_config('idle_in_transaction_session_timeout', $2,"
        " false),"
        " (select pg_catalog.set_config('client_connection_check_interval',"
        " '1000', false)"
        " where pg_catalog.current_setting('server_version_num')::int"
        " >= 140000)";
    char st[32], idle[32];
    const char *vals[2] = {st, idle};
    PGresult *r;
    txq_err rc = TXQ_OK;

    snprintf(st, sizeof st, "%.0f", k->o.timeout * 1000.0);
    snprintf(idle, sizeof idle, "%.0f", (k->o.timeout + IDLE_GRACE) * 1000.0);
    r = PQexecParams(pg, sql, 2, NULL, vals, NULL, NULL, 0);
    if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK)
        rc = set_err(k, conn_lost(pg, r) ? TXQ_ECONN : TXQ_EDB,
                     "session settings: %s",
                     r ? PQresultErrorMessage(r) : PQerrorMessage(pg));
    PQclear(r);
    return rc;
}

txq_consumer *
txq_consumer_new(txq_client *c,
                 const char *queue,
                 const txq_consumer_opts *opts,
                 txq_handler_fn fn,
                 void *arg)
{
    txq_consumer *k = calloc(1, sizeof *k);

    if (k == NULL)
        return NULL;
    if (queue != NULL && (k->queue = strdup(queue)) == NULL) {
        free(k);
        return NULL;
    }
    k->c = c;
    k->fn = fn;
    k->arg = arg;
    if (txq__opts_copy(&k->o, sizeof k->o, TXQ__MIN_txq_consumer_opts, opts,
                       "txq_consumer_opts", k->opts_err,
                       sizeof k->opts_err) != 0)
        memset(&k->o, 0, sizeof k->o);
    atomic_init(&k->stop, 0);
    return k;
}

void
txq_consumer_free(txq_consumer *k)
{
    if (k == NULL)
        return;
    free(k->queue);
    free(k);
}

void
txq_consumer_stop(txq_consumer *k)
{
    if (k != NULL)
        atomic_store(&k->stop, 1);
}

void
txq_consumer_reset(txq_consumer *k)
{
    if (k != NULL)
        atomic_store(&k->stop, 0);
}

int
txq_consumer_stopping(const txq_consumer *k)
{
    return k != NULL && atomic_load(&((txq_consumer *)(uintptr_t)k)->stop);
}

const char *
txq_consumer_errmsg(const txq_consumer *k)
{
    return k != NULL ? k->errmsg : "";
}

const char *
txq_consumer_sqlstate(const txq_consumer *k)
{
    return k != NULL ? k->sqlstate : "";
}

/* Validate the options and fill in the defaults. */
static txq_err
check_opts(txq_consumer *k)
{
    txq_consumer_opts *o = &k->o;

    if (k->opts_err[0] != '\0')
        return set_err(k, TXQ_EINVAL, "%s", k->opts_err);
    if (k->c == NULL || k->queue == NULL || k->fn == NULL)
        return set_err(k, TXQ_EINVAL, "%s is NULL",
                       k->c == NULL       ? "client"
                       : k->queue == NULL ? "queue"
                                          : "handler");
    k->auto_prefetch = o->prefetch == 0;
    if (o->prefetch > MAX_PREFETCH)
        return set_err(k, TXQ_EINVAL, "prefetch must be at most %d (got %zu)",
                       MAX_PREFETCH, o->prefetch);
    if (o->timeout == 0)
        o->timeout = DEFAULT_TIMEOUT;
    if (!(o->timeout >= 0.001 && o->timeout <= MAX_TIMEOUT))
        return set_err(k, TXQ_EINVAL,
                       "timeout must be between 0.001 and %.0f seconds",
                       MAX_TIMEOUT);
    if (o->visibility_timeout == 0)
        o->visibility_timeout = o->timeout + VT_GRACE;
    if (!(o->visibility_timeout >= 1 && o->visibility_timeout <= 43200))
        return set_err(k, TXQ_EINVAL,
                       "visibility_timeout must be between 1 and 43200 "
                       "seconds");
    if (o->poll_interval == 0)
        o->poll_interval = DEFAULT_POLL;
    if (!(o->poll_interval >= 0.001 && o->poll_interval <= 3600))
        return set_err(k, TXQ_EINVAL,
                       "poll_interval must be between 0.001 and 3600 "
                       "seconds");
    return TXQ_OK;
}

/* Roll back whatever is open; only a lost connection is an error. */
static txq_err
rollback(txq_consumer *k, PGconn *pg)
{
    PGTransactionStatusType st = PQtransactionStatus(pg);

    if (st == PQTRANS_IDLE)
        return TXQ_OK;
    if (exec_cmd(k, pg, "ROLLBACK") != TXQ_OK &&
        PQtransactionStatus(pg) != PQTRANS_IDLE)
        return TXQ_ECONN;
    return TXQ_OK;
}

/* Record a failure (in autocommit: a transaction of its own). */
static txq_err
record_failure(txq_consumer *k,
               PGconn *pg,
               const txq_msg *m,
               txq_consumer_event *ev)
{
    txq_fail_opts fo = TXQ_FAIL_OPTS_INIT;
    txq_outcome out = 0;
    txq_err rc;

    fo.permanent = ev->result == TXQ_HANDLER_PERMANENT;
    rc = txq_fail(k->c, pg, m, ev->error, &fo, &out);
    if (rc == TXQ_OK)
        ev->outcome = out;
    else
        ev->err = rc;
    return rc;
}

/* Make sure a failed handler leaves some text behind. */
static void
default_error(txq_consumer *k, const char *fallback)
{
    if (k->err[0] == '\0')
        snprintf(k->err, sizeof k->err, "%s", fallback);
}

/*
 * Pipelined handlers: a handler may leave its statements queued in
 * pipeline mode (PQenterPipelineMode, PQsendQuery..., no sync) and return
 * OK; the ack, COMMIT and the next BEGIN follow them in the same round
 * trip, so a SQL handler costs no round trip of its own.
 */

/* Sync and read out what a handler queued, leaving pipeline mode.
 * Returns 0 when the connection failed. */
static int
pipeline_drain(PGconn *pg)
{
    PGresult *r;

    if (!PQpipelineSync(pg))
        return 0;
    for (;;) {
        r = PQgetResult(pg);
        if (r == NULL) {
            if (PQstatus(pg) == CONNECTION_BAD)
                return 0;
            continue;
        }
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        PQclear(r);
    }
    return PQexitPipelineMode(pg);
}

/* A queued statement of the handler failed with r: a permanent failure for
 * SQLSTATE TQ001, else one to retry. The error: what the handler left in
 * err (a prefix such as its name), then r's message and SQLSTATE. */
static void
handler_failed(txq_consumer *k, const PGresult *r, txq_consumer_event *ev)
{
    const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    size_t len = strnlen(k->err, sizeof k->err - 1);

    ev->result = st != NULL && strcmp(st, "TQ001") == 0 ? TXQ_HANDLER_PERMANENT
                                                        : TXQ_HANDLER_RETRY;
    snprintf(k->err + len, sizeof k->err - len, "%s [%s]",
             msg != NULL ? msg : "the handler's statement failed",
             st != NULL ? st : "");
}

/* How many messages to claim next, with `busy` messages still in hand (not
 * yet counted as handled): 0 when stopping or max_messages is reached. */
static size_t
claim_size(txq_consumer *k, size_t busy)
{
    size_t want = k->o.prefetch;
    uint64_t done = k->handled + busy;

    if (k->auto_prefetch) {
        /* As many as the loop gets through in AUTO_WINDOW: a fast handler
         * claims several per round trip, a slow one one at a time, so no
         * claimed message waits long behind the others. */
        want = 1;
        if (k->per_msg > 0 && k->per_msg * AUTO_PREFETCH < AUTO_WINDOW)
            want = AUTO_PREFETCH;
        else if (k->per_msg > 0)
            want = (size_t)(AUTO_WINDOW / k->per_msg);
        if (want < 1)
            want = 1;
    }

    if (atomic_load(&k->stop))
        return 0;
    if (k->o.max_messages != 0) {
        if (done >= k->o.max_messages)
            return 0;
        if (k->o.max_messages - done < want)
            want = (size_t)(k->o.max_messages - done);
    }
    return want;
}

/*
 * Handle one claimed message: extend its claim when it waited behind
 * others, run the handler in a transaction with the ack, or record the
 * failure. With last (the last message in hand), a successful handler's
 * transaction also claims the next messages (*next / *nnext; the caller
 * frees them), unless the consumer is stopping or at max_messages.
 * Returns TXQ_ECONN when the connection is gone, else TXQ_OK (what
 * happened is in the event).
 */
static txq_err
handle_one(txq_consumer *k,
           PGconn *pg,
           const txq_msg *m,
           double claimed_at,
           int last,
           txq_msg ***next,
           size_t *nnext)
{
    txq_consumer_event ev;
    PGTransactionStatusType st;
    PGresult *r;
    char set_timeout[64], sql[96];
    const char *after[3] = {"BEGIN", set_timeout, NULL};
    double t0;
    int pending;
    txq_err rc = TXQ_OK;

    snprintf(set_timeout, sizeof set_timeout,
             "SET LOCAL statement_timeout = %.0f", k->o.timeout * 1000.0);
    memset(&ev, 0, sizeof ev);
    ev.size = sizeof ev;
    ev.msg = m;
    ev.result = TXQ_HANDLER_RETRY;
    ev.error = k->err;
    k->err[0] = '\0';

    if (mono_now() - claimed_at > EXTEND_AFTER) {
        rc = txq_set_visibility(k->c, pg, m, k->o.visibility_timeout);
        if (rc != TXQ_OK) {
            ev.err = rc;
            snprintf(k->err, sizeof k->err, "extending the claim: %s",
                     txq_errmsg(k->c));
            goto report;
        }
    }

    if (m->open_err != TXQ__OPEN_OK) {
        /* Its body could not be opened: never handed to the handler, it
         * fails for good (the queue's exhausted policy: dead letters). */
        k->begun = 0;
        ev.result = TXQ_HANDLER_PERMANENT;
        snprintf(k->err, sizeof k->err,
                 "TXQ_EDECRYPT: message %" PRId64 " of queue \"%s\": %s", m->id,
                 m->queue, txq__open_reason(m->open_err));
        goto failed;
    }

    if (k->begun && PQtransactionStatus(pg) == PQTRANS_INTRANS) {
        k->begun = 0; /* opened with the last ack */
    } else {
        k->begun = 0;
        if (rollback(k, pg) != TXQ_OK) {
            rc = TXQ_ECONN;
            goto lost;
        }
        /* One round trip for both (simple protocol). */
        snprintf(sql, sizeof sql, "BEGIN; %s", set_timeout);
        if ((rc = exec_cmd(k, pg, sql)) != TXQ_OK)
            goto lost;
    }

    t0 = mono_now();
    ev.result = k->fn(pg, m, k->arg, k->err, sizeof k->err);
    ev.seconds = mono_now() - t0;
    k->err[sizeof k->err - 1] = '\0';

    pending = PQpipelineStatus(pg) != PQ_PIPELINE_OFF;
    if (pending && ev.result != TXQ_HANDLER_OK) {
        /* Queued, then declared failed: run them out; the rollback below
         * undoes them. */
        if (!pipeline_drain(pg)) {
            rc = set_err(k, TXQ_ECONN, "connection lost in the handler: %s",
                         PQerrorMessage(pg));
            goto lost;
        }
        pending = 0;
    }
    /* A handler that left a query running: collect it. */
    while (!pending && PQtransactionStatus(pg) == PQTRANS_ACTIVE &&
           (r = PQgetResult(pg)) != NULL)
        PQclear(r);
    if (PQstatus(pg) == CONNECTION_BAD) {
        rc = set_err(k, TXQ_ECONN, "connection lost in the handler: %s",
                     PQerrorMessage(pg));
        goto lost;
    }
    st = pending ? PQTRANS_INTRANS : PQtransactionStatus(pg);
    if (ev.result == TXQ_HANDLER_OK && st == PQTRANS_INERROR) {
        ev.result = TXQ_HANDLER_RETRY;
        snprintf(k->err, sizeof k->err,
                 "the handler returned OK but its transaction failed: %s",
                 PQerrorMessage(pg));
    }
    if (ev.result != TXQ_HANDLER_OK && ev.result != TXQ_HANDLER_RETRY &&
        ev.result != TXQ_HANDLER_PERMANENT && ev.result != TXQ_HANDLER_IGNORE) {
        snprintf(k->err, sizeof k->err, "the handler returned %d",
                 (int)ev.result);
        ev.result = TXQ_HANDLER_RETRY;
    }

    if (ev.result == TXQ_HANDLER_OK) {
        /* Asked after the handler: it may have stopped the consumer. */
        size_t want = last ? claim_size(k, 1) : 0;

        /* In the handler's transaction; in autocommit if the handler ended
         * it (it must not, but the message is done either way). */
        if (pending || PQtransactionStatus(pg) == PQTRANS_INTRANS) {
            /* The ack, the claim of the next messages when this is the
             * last in hand, COMMIT, and the next message's BEGIN when one
             * follows: one round trip from this handler's end to the next
             * handler's start. */
            int more = want > 0 || !last;

            PGresult *failed = NULL;

            rc = txq__ack_claim_commit(
                k->c, pg, m, k->queue, want, k->o.visibility_timeout,
                more ? after : NULL, &k->begun, next, nnext, &failed);
            /* A pipelined handler's statements ran in that round trip:
             * its time ends there (with the ack's and COMMIT's). */
            if (pending)
                ev.seconds = mono_now() - t0;
            if (!more)
                k->begun = 0;
            if (failed != NULL) {
                /* The handler's own statement failed: its failure. */
                handler_failed(k, failed, &ev);
                PQclear(failed);
                goto failed;
            }
            if (rc != TXQ_OK)
                from_client(k, rc, "ack");
        } else {
            rc = txq_ack(k->c, pg, m);
            if (rc == TXQ_OK && PQtransactionStatus(pg) == PQTRANS_INTRANS)
                rc = exec_cmd(k, pg, "COMMIT");
            else if (rc != TXQ_OK)
                from_client(k, rc, "ack");
        }
        if (rc == TXQ_OK) {
            if (pending)
                k->err[0] = '\0'; /* a pipelined handler's error prefix */
            ev.acked = 1;
            goto report;
        }
        if (rollback(k, pg) != TXQ_OK || PQstatus(pg) == CONNECTION_BAD)
            goto lost;
        if (rc == TXQ_ESTATE) {
            /* The claim lapsed and another attempt holds the message: the
             * fence did its job; change nothing. */
            ev.err = rc;
            snprintf(k->err, sizeof k->err, "%s", k->errmsg);
            goto report;
        }
        ev.result = TXQ_HANDLER_RETRY;
        snprintf(k->err, sizeof k->err, "commit failed: %s", k->errmsg);
    }

failed:
    if (rollback(k, pg) != TXQ_OK)
        goto lost;
    if (ev.result == TXQ_HANDLER_IGNORE) {
        k->err[0] = '\0';
        rc = txq_ack(k->c, pg, m);
        if (rc == TXQ_OK)
            ev.acked = 1;
        else
            ev.err = rc;
    } else {
        default_error(k, "the handler failed (no error text)");
        sanitize_utf8(k->err);
        rc = record_failure(k, pg, m, &ev);
    }
    if (rc != TXQ_OK && (rc == TXQ_ECONN || PQstatus(pg) == CONNECTION_BAD)) {
        from_client(k, TXQ_ECONN, "recording the outcome");
        goto lost;
    }

report:
    sanitize_utf8(k->err);
    k->handled++;
    if (k->o.event_fn != NULL)
        k->o.event_fn(k->o.event_arg, &ev);
    return TXQ_OK;

lost:
    /* The session is gone (or unusable): its claim comes back through
     * txq.maintain() or when it lapses, with the attempt counted. */
    if (PQstatus(pg) != CONNECTION_BAD && rollback(k, pg) == TXQ_OK &&
        rc != TXQ_ECONN)
        return rc;
    return TXQ_ECONN;
}

txq_err
txq_consumer_run(txq_consumer *k, PGconn *pg)
{
    txq_recv_opts ro = TXQ_RECV_OPTS_INIT;
    txq_msg **msgs = NULL;
    size_t n = 0;
    int pooled = 0;
    txq_err rc;

    if (k == NULL)
        return TXQ_EINVAL;
    k->errmsg[0] = '\0';
    k->sqlstate[0] = '\0';
    if ((rc = check_opts(k)) != TXQ_OK)
        return rc;
    if (pg == NULL || PQstatus(pg) != CONNECTION_OK)
        return set_err(k, pg == NULL ? TXQ_EINVAL : TXQ_ECONN,
                       "no usable connection");
    if (PQtransactionStatus(pg) != PQTRANS_IDLE)
        return set_err(k, TXQ_ESTATE,
                       "txq_consumer_run needs a connection outside a "
                       "transaction");
    /* Behind a transaction pooler a session setting would stay on the
     * server connection that ran it, for its next clients: each handler's
     * transaction sets its own statement_timeout (SET LOCAL) instead. */
    if ((rc = txq_pooled(k->c, pg, &pooled)) != TXQ_OK)
        return from_client(k, rc, "claim");
    if (!pooled && (rc = session_setup(k, pg)) != TXQ_OK)
        return rc;
    /* A handler may queue its statements in pipeline mode, where the ack
     * statement can no longer be prepared: prepare it now, once (if this
     * fails, a pipelined ack runs unprepared). */
    (void)txq__prepare_ack_claim(k->c, pg);
    k->handled = 0;
    k->begun = 0;
    ro.visibility_timeout = k->o.visibility_timeout;
    ro.wait =
        k->o.wait_fn != NULL || k->o.exit_when_empty ? 0 : k->o.poll_interval;

    /* Messages claimed together with the last ack are handled even when
     * a stop came meanwhile: their attempts are already counted. */
    while (n > 0 || !atomic_load(&k->stop)) {
        txq_msg **next = NULL;
        size_t nnext = 0, i, want;
        double claimed_at;

        if (n == 0) {
            /* A transaction opened with the last ack found nothing to
             * handle: end it (txq_claim needs autocommit). */
            k->begun = 0;
            if (rollback(k, pg) != TXQ_OK)
                return set_err(k, TXQ_ECONN, "connection lost: %s",
                               PQerrorMessage(pg));
            want = claim_size(k, 0);
            if (want == 0)
                break;
            rc = txq_claim(k->c, pg, k->queue, want, &ro, &msgs, &n);
            if (rc == TXQ_EMPTY) {
                if (k->o.exit_when_empty)
                    break;
                if (k->o.wait_fn != NULL &&
                    k->o.wait_fn(k->o.wait_arg, k->o.poll_interval) != 0)
                    break;
                continue;
            }
            /* Messages that could not be opened come marked: each fails
             * in handle_one. */
            if (rc == TXQ_EDECRYPT)
                rc = TXQ_OK;
            if (rc != TXQ_OK) {
                if (rc == TXQ_EDB && PQstatus(pg) == CONNECTION_BAD)
                    rc = TXQ_ECONN;
                return from_client(k, rc, "claim");
            }
        }
        claimed_at = mono_now();
        rc = TXQ_OK;
        /* The last of the batch claims the next batch with its ack. */
        for (i = 0; i < n && rc == TXQ_OK; i++) {
            double t0 = mono_now();

            rc = handle_one(k, pg, msgs[i], claimed_at, i + 1 == n, &next,
                            &nnext);
            k->per_msg = k->per_msg == 0
                             ? mono_now() - t0
                             : 0.8 * k->per_msg + 0.2 * (mono_now() - t0);
        }
        txq_msgs_free(msgs, n);
        msgs = next;
        n = nnext;
        if (rc != TXQ_OK) {
            txq_msgs_free(msgs, n);
            return rc;
        }
    }
    k->begun = 0;
    if (rollback(k, pg) != TXQ_OK)
        return set_err(k, TXQ_ECONN, "connection lost: %s", PQerrorMessage(pg));
    return TXQ_OK;
}
