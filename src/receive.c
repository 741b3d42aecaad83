/*
 * receive.c - txq_receive (in the caller's transaction) and txq_claim (in
 * autocommit, so the attempt is durable before any handler runs). Rows come
 * back in binary, so a body of any size arrives without hex doubling.
 */
#include <stdlib.h>

#include "txq_int.h"

#define MAX_BATCH 100000
#define MAX_VT    43200.0 /* 12 hours */
#define MIN_VT    0.001
#define MAX_WAIT  3600.0

txq_err
txq__receive_once(txq_client *c,
                  PGconn *pg,
                  const char *queue,
                  size_t max,
                  double vt_secs,
                  txq_msg ***out,
                  size_t *n)
{
    struct txq__params p;
    PGresult *r = NULL;
    txq_msg **msgs = NULL;
    size_t rows = 0, i = 0;
    txq_err rc;

    *out = NULL;
    *n = 0;
    txq__params_init(&p);
    txq__param_text(&p, queue);
    txq__param_int64(&p, (int64_t)max);
    txq__param_secs(&p, vt_secs, 1);
    rc = txq__query(c, pg, TXQ__Q_RECEIVE, &p, 1, &r);
    if (rc != TXQ_OK)
        goto out;
    rc = txq__check_msg_result(c, r);
    if (rc != TXQ_OK)
        goto out;
    rows = (size_t)PQntuples(r);
    if (rows == 0) {
        rc = TXQ_EMPTY;
        goto out;
    }
    msgs = calloc(rows, sizeof *msgs);
    if (msgs == NULL) {
        rc = txq__set_error(c, TXQ_ENOMEM, "out of memory");
        goto out;
    }
    for (i = 0; i < rows; i++) {
        rc = txq__msg_from_row(c, r, (int)i, &msgs[i]);
        if (rc != TXQ_OK)
            goto out;
    }
    *out = msgs;
    *n = rows;
    msgs = NULL;
out:
    txq_msgs_free(msgs, i);
    PQclear(r);
    return rc;
}

/* The argument checks shared by txq_receive and txq_claim. */
static txq_err
check_args(txq_client *c,
           PGconn *pg,
           const char *queue,
           size_t max,
           const txq_recv_opts *opts,
           txq_msg ***out,
           size_t *n)
{
    txq_err rc;

    if ((rc = txq__enter(c, pg)))
        return rc;
    if (out == NULL || n == NULL)
        return txq__set_error(c, TXQ_EINVAL, "%s is NULL",
                              out == NULL ? "out" : "n");
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

txq_err
txq_receive(txq_client *c,
            PGconn *pg,
            const char *queue,
            size_t max,
            const txq_recv_opts *opts,
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
    if ((rc = check_args(c, pg, queue, max, opts, out, n)))
        return rc;
    if (opts != NULL && opts->wait != 0)
        return txq__set_error(c, TXQ_EINVAL,
                              "wait is for txq_claim only: txq_receive runs "
                              "in the caller's transaction and cannot wait");
    if ((rc = txq__ensure_schema(c, pg, 0)))
        return rc;
    return txq__receive_once(
        c, pg, queue, max, opts != NULL ? opts->visibility_timeout : 0, out, n);
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
    txq_err rc;

    if (out != NULL)
        *out = NULL;
    if (n != NULL)
        *n = 0;
    if (c == NULL)
        return TXQ_EINVAL;
    if ((rc = check_args(c, pg, queue, max, opts, out, n)))
        return rc;
    if (PQtransactionStatus(pg) != PQTRANS_IDLE)
        return txq__set_error(c, TXQ_ESTATE,
                              "txq_claim must run outside a transaction: "
                              "the claim commits on its own");
    if ((rc = txq__ensure_schema(c, pg, 0)))
        return rc;
    return txq__wait_receive(c, pg, queue, max,
                             opts != NULL ? opts->visibility_timeout : 0,
                             opts != NULL ? opts->wait : 0, out, n);
}
