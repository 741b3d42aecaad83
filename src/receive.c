/*
 * receive.c - txq_receive (in the caller's transaction) and txq_claim (in
 * autocommit, so the attempt is durable before any handler runs). Rows come
 * back in binary, so a body of any size arrives without hex doubling.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "txq_int.h"

#define MAX_BATCH 100000
#define MAX_VT    43200.0 /* 12 hours */
#define MIN_VT    0.001
#define MAX_WAIT  3600.0

txq_err
txq__msgs_from_result(txq_client *c,
                      const PGresult *r,
                      txq_msg ***out,
                      size_t *n)
{
    txq_msg **msgs = NULL;
    size_t rows, i = 0;
    txq_err rc, first = TXQ_OK;
    char errmsg[TXQ__ERRMSG_SIZE];

    rc = txq__check_msg_result(c, r);
    if (rc != TXQ_OK)
        return rc;
    rows = (size_t)PQntuples(r);
    if (rows == 0)
        return TXQ_EMPTY;
    msgs = calloc(rows, sizeof *msgs);
    if (msgs == NULL)
        return txq__set_error(c, TXQ_ENOMEM, "out of memory");
    for (i = 0; i < rows; i++) {
        rc = txq__msg_from_row(c, r, (int)i, &msgs[i]);
        if (rc == TXQ_EDECRYPT) {
            /* Kept, without its body; the first one is reported. */
            if (first == TXQ_OK)
                memcpy(errmsg, c->errmsg, sizeof errmsg);
            first = rc;
            continue;
        }
        if (rc != TXQ_OK) {
            txq_msgs_free(msgs, msgs[i] != NULL ? i + 1 : i);
            return rc;
        }
    }
    *out = msgs;
    *n = rows;
    if (first != TXQ_OK)
        txq__copy_message(c, errmsg);
    return first;
}

/* The messages a receive-shaped statement q returns: txq.receive
 * (TXQ__Q_RECEIVE, with the visibility timeout), txq.take (TXQ__Q_TAKE:
 * held by the caller's transaction) or txq.pop (TXQ__Q_POP: taken and
 * acked). */
static txq_err
query_msgs(txq_client *c,
           PGconn *pg,
           enum txq__q q,
           const char *queue,
           size_t max,
           double vt_secs,
           txq_msg ***out,
           size_t *n)
{
    struct txq__params p;
    PGresult *r = NULL;
    txq_err rc;

    *out = NULL;
    *n = 0;
    txq__params_init(&p);
    txq__param_text(&p, queue);
    txq__param_int64(&p, (int64_t)max);
    if (q == TXQ__Q_RECEIVE)
        txq__param_secs(&p, vt_secs, 1);
    rc = txq__query(c, pg, q, &p, 1, &r);
    if (rc == TXQ_OK)
        rc = txq__msgs_from_result(c, r, out, n);
    PQclear(r);
    return rc;
}

txq_err
txq__receive_once(txq_client *c,
                  PGconn *pg,
                  const char *queue,
                  size_t max,
                  double vt_secs,
                  txq_msg ***out,
                  size_t *n)
{
    return query_msgs(c, pg, TXQ__Q_RECEIVE, queue, max, vt_secs, out, n);
}

/*
 * The results of a pipeline up to its Sync: the first result of each query
 * into res[] (at most size; *nq: how many queries answered). Returns:
 * TXQ_OK, TXQ_ECONN when the connection failed, or TXQ_EDB when more than
 * size queries were queued (error set).
 */
static txq_err
pipeline_results(txq_client *c, PGconn *pg, PGresult **res, int size, int *nq)
{
    int got = 0; /* this query already has its first result */

    *nq = 0;
    for (;;) {
        PGresult *r = PQgetResult(pg);

        if (r == NULL) {
            /* The end of one query's results. */
            if (PQstatus(pg) == CONNECTION_BAD || !got)
                return txq__set_pg_error(c, pg, NULL);
            got = 0;
            continue;
        }
        if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            return TXQ_OK;
        }
        if (got) {
            PQclear(r);
            continue;
        }
        got = 1;
        if (*nq == size) {
            PQclear(r);
            return txq__set_error(c, TXQ_EDB, "too many queued statements");
        }
        res[(*nq)++] = r;
    }
}

txq_err
txq__ack_claim_commit(txq_client *c,
                      PGconn *pg,
                      const txq_msg *m,
                      const char *queue,
                      size_t max,
                      double vt_secs,
                      const char *const *after,
                      int *after_ok,
                      txq_msg ***out,
                      size_t *n,
                      PGresult **pending_err)
{
    struct txq__params p;
    char ids[32], attempts[16];
    PGresult *res[TXQ__MAX_PENDING + 2 + TXQ__MAX_AFTER] = {NULL};
    enum txq__q q;
    txq_err rc;
    int prep, sent, nafter = 0, nres = 0, base = 0;
    int pending = PQpipelineStatus(pg) != PQ_PIPELINE_OFF;

    *out = NULL;
    *n = 0;
    *after_ok = 0;
    *pending_err = NULL;
    while (after != NULL && after[nafter] != NULL) {
        if (++nafter > TXQ__MAX_AFTER)
            return txq__set_error(c, TXQ_EINVAL, "too many statements");
    }
    if ((rc = txq__enter(c, pg)) || (rc = txq__ensure_schema(c, pg, 0)))
        return rc;
    if (max > MAX_BATCH)
        return txq__set_error(c, TXQ_EINVAL,
                              "max must be between 0 and %d (got %zu)",
                              MAX_BATCH, max);
    snprintf(ids, sizeof ids, "{%" PRId64 "}", m->id);
    snprintf(attempts, sizeof attempts, "{%d}", m->attempts);
    txq__params_init(&p);
    txq__param_text(&p, ids);
    txq__param_text(&p, attempts);
    txq__param_text(&p, queue);
    txq__param_int64(&p, (int64_t)max);
    txq__param_secs(&p, vt_secs, 1);
    q = txq__variant(c, pg, TXQ__Q_ACK_RECEIVE);
    prep = txq__prepare(c, pg, q, &p, &rc);
    if (prep < 0)
        return rc;
    /* One round trip: the ack and claim, then COMMIT right behind them.
     * An error in the first (TQ003: the claim lapsed), or in a statement
     * the handler left queued before them, makes the server skip the
     * COMMIT; the transaction stays open, failed. */
    if (!pending && !PQenterPipelineMode(pg))
        return txq__set_pg_error(c, pg, NULL);
    sent = prep ? PQsendQueryPrepared(pg, c->stmt[q], p.n, p.values, p.lengths,
                                      p.formats, 1)
                : PQsendQueryParams(pg, c->sql[q], p.n, p.types, p.values,
                                    p.lengths, p.formats, 1);
    sent =
        sent && PQsendQueryParams(pg, "COMMIT", 0, NULL, NULL, NULL, NULL, 0);
    for (int i = 0; i < nafter; i++)
        sent = sent &&
               PQsendQueryParams(pg, after[i], 0, NULL, NULL, NULL, NULL, 0);
    sent = sent && PQpipelineSync(pg);
    rc = sent ? pipeline_results(c, pg, res, (int)(sizeof res / sizeof *res),
                                 &nres)
              : txq__set_pg_error(c, pg, NULL);
    if (!PQexitPipelineMode(pg) && rc == TXQ_OK)
        rc = txq__set_pg_error(c, pg, NULL);
    if (rc != TXQ_OK)
        goto out;
    /* The handler's statements answer first. */
    base = nres - (2 + nafter);
    if (base < 0 || (!pending && base != 0)) {
        rc = txq__set_error(c, TXQ_EDB, "unexpected pipeline results");
        goto out;
    }
    for (int i = 0; i < base; i++) {
        if (PQresultStatus(res[i]) == PGRES_FATAL_ERROR) {
            rc = txq__set_pg_error(c, pg, res[i]);
            *pending_err = res[i];
            res[i] = NULL;
            goto out;
        }
    }
    if (PQresultStatus(res[base]) != PGRES_TUPLES_OK) {
        rc = txq__set_pg_error(c, pg, res[base]);
        goto out;
    }
    if (PQresultStatus(res[base + 1]) != PGRES_COMMAND_OK) {
        rc = txq__set_pg_error(c, pg, res[base + 1]);
        goto out;
    }
    if (strcmp(PQcmdStatus(res[base + 1]), "COMMIT") != 0) {
        rc = txq__set_error(c, TXQ_EDB, "the transaction was rolled back");
        goto out;
    }
    /* Committed: the ack, and the claim of what came back. */
    rc = txq__msgs_from_result(c, res[base], out, n);
    /* A message that could not be opened is handed out marked as such
     * (the consumer fails it). */
    if (rc == TXQ_EMPTY || rc == TXQ_EDECRYPT)
        rc = TXQ_OK;
    *after_ok = 1;
    for (int i = base + 2; i < nres; i++) {
        if (PQresultStatus(res[i]) != PGRES_COMMAND_OK)
            *after_ok = 0;
    }
out:
    for (int i = 0; i < nres; i++)
        PQclear(res[i]);
    return rc;
}

txq_err
txq__prepare_ack_claim(txq_client *c, PGconn *pg)
{
    struct txq__params p;
    txq_err rc = TXQ_OK;

    /* The parameters' types, as txq__ack_claim_commit sends them. */
    txq__params_init(&p);
    txq__param_text(&p, "{}");
    txq__param_text(&p, "{}");
    txq__param_text(&p, "");
    txq__param_int64(&p, 0);
    txq__param_secs(&p, 0, 1);
    (void)txq__prepare(c, pg, TXQ__Q_ACK_RECEIVE, &p, &rc);
    return rc;
}

/* The checks of queue, max and opts (may be NULL) that txq_receive,
 * txq_claim and txq_pop share. */
static txq_err
check_take(txq_client *c,
           const char *queue,
           size_t max,
           const txq_recv_opts *opts)
{
    txq_err rc;

    if ((rc = txq__check_queue_name(c, "queue name", queue)))
        return rc;
    if (max == 0 || max > MAX_BATCH)
        return txq__set_error(c, TXQ_EINVAL,
                              "max must be between 1 and %d (got %zu)",
                              MAX_BATCH, max);
    if (opts != NULL && opts->visibility_timeout != 0 &&
        (rc = txq__check_secs(c, "visibility_timeout", opts->visibility_timeout,
                              MIN_VT, MAX_VT)))
        return rc;
    if (opts != NULL &&
        (rc = txq__check_secs(c, "wait", opts->wait, 0, MAX_WAIT)))
        return rc;
    return TXQ_OK;
}

/* The argument checks of txq_receive, txq_claim and txq_pop; they also
 * empty the out-parameters first, so every failure leaves them NULL and
 * 0. opts (may be NULL) is loaded into *o, which the caller uses. */
static txq_err
check_args(txq_client *c,
           PGconn *pg,
           const char *queue,
           size_t max,
           const txq_recv_opts *opts,
           txq_recv_opts *o,
           txq_msg ***out,
           size_t *n)
{
    txq_err rc;

    if (out != NULL)
        *out = NULL;
    if (n != NULL)
        *n = 0;
    if (c == NULL)
        return TXQ_EINVAL;
    if ((rc = txq__enter(c, pg)) ||
        (rc = TXQ__OPTS_LOAD(c, txq_recv_opts, opts, o)))
        return rc;
    if (out == NULL || n == NULL)
        return txq__set_error(c, TXQ_EINVAL, "%s is NULL",
                              out == NULL ? "out" : "n");
    return check_take(c, queue, max, o);
}

txq_err
txq_receive(txq_client *c,
            PGconn *pg,
            const char *queue,
            size_t max,
            const txq_recv_opts *opts,
            txq_msg ***out,
            size_t *n)
{
    txq_recv_opts o;
    txq_err rc;

    if ((rc = check_args(c, pg, queue, max, opts, &o, out, n)))
        return rc;
    if (o.wait != 0)
        return txq__set_error(c, TXQ_EINVAL,
                              "wait is for txq_claim only: txq_receive runs "
                              "in the caller's transaction and cannot wait");
    if ((rc = txq__ensure_schema(c, pg, 0)))
        return rc;
    if (PQtransactionStatus(pg) == PQTRANS_INTRANS)
        return query_msgs(c, pg, TXQ__Q_TAKE, queue, max, 0, out, n);
    return txq__receive_once(c, pg, queue, max, o.visibility_timeout, out, n);
}

/* txq_pop's checks after its arguments': a transaction, the schema. */
static txq_err
pop_state(txq_client *c, PGconn *pg)
{
    if (PQtransactionStatus(pg) != PQTRANS_INTRANS)
        return txq__set_error(c, TXQ_ESTATE,
                              "txq_pop must run inside a transaction (BEGIN "
                              "first): outside one the messages would be "
                              "gone before the caller saw them");
    return txq__ensure_schema(c, pg, 0);
}

txq_err
txq__pop_check(txq_client *c, PGconn *pg, const char *queue, size_t max)
{
    txq_err rc;

    if ((rc = txq__enter(c, pg)) || (rc = check_take(c, queue, max, NULL)))
        return rc;
    return pop_state(c, pg);
}

enum txq__q
txq__pop_q(const txq_client *c)
{
    return c->cur != NULL && c->cur->pop_direct ? TXQ__Q_POP_DIRECT
                                                : TXQ__Q_POP;
}

txq_err
txq_pop(txq_client *c,
        PGconn *pg,
        const char *queue,
        size_t max,
        txq_msg ***out,
        size_t *n)
{
    txq_recv_opts o;
    enum txq__q q;
    txq_err rc;

    if ((rc = check_args(c, pg, queue, max, NULL, &o, out, n)) ||
        (rc = pop_state(c, pg)))
        return rc;
    q = txq__pop_q(c);
    rc = query_msgs(c, pg, q, queue, max, 0, out, n);
    /* A refused direct pop aborted the caller's transaction: pop() from
     * the next call on. */
    (void)txq__direct_refused(c, q, rc);
    return rc;
}

txq_err
txq_claim(txq_client *c,
          PGconn *pg,
          const char *queue,
          size_t max,
          const txq_recv_opts *opts,
          txq_msg ***out,
          size_t *n)
{
    txq_recv_opts o;
    txq_err rc;

    if ((rc = check_args(c, pg, queue, max, opts, &o, out, n)))
        return rc;
    if (PQtransactionStatus(pg) != PQTRANS_IDLE)
        return txq__set_error(c, TXQ_ESTATE,
                              "txq_claim must run outside a transaction: "
                              "the claim commits on its own");
    if ((rc = txq__ensure_schema(c, pg, 0)))
        return rc;
    return txq__wait_receive(c, pg, queue, max, o.visibility_timeout, o.wait,
                             out, n);
}
