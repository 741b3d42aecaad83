/*
 * async.c - txq_send_start / _finish, txq_send_batch_start / _finish and
 * txq_pop_start / _finish: the statement of txq_send, txq_send_batch or
 * txq_pop sent without waiting for its answer, libpq's PQsendQuery way,
 * so that one thread can keep several connections busy (an event loop, a
 * pool of connections served by one thread). The start checks everything
 * the blocking call checks and sends; the finish reads the answer and
 * turns it into the same results. Between the two the handle refuses
 * every other call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "txq_int.h"

const char *
txq__pending_kind(const txq_client *c)
{
    switch ((enum txq__q)(c->pending - 1)) {
    case TXQ__Q_SEND:
    case TXQ__Q_SEND_DIRECT:
        return "send";
    case TXQ__Q_SEND_BATCH:
    case TXQ__Q_SEND_BATCH_DIRECT:
        return "send_batch";
    case TXQ__Q_SEND_SEALED:
        return c->pending_n > 0 ? "send_batch" : "send";
    default:
        return "pop";
    }
}

/* Whether pg still has a command of the caller's unanswered: preparing
 * (PQexec) would swallow its results, sending would fail. */
static txq_err
check_idle(txq_client *c, PGconn *pg)
{
    if (PQtransactionStatus(pg) == PQTRANS_ACTIVE)
        return txq__set_error(c, TXQ_ESTATE,
                              "a command is in progress on pg: read its "
                              "results (PQgetResult until NULL) first");
    return TXQ_OK;
}

/* With a key ring: seal_prepare() (blocking), then, for an encrypted
 * queue, send_sealed() sent and remembered as pending (batch: its size,
 * else 0). *sealed = 0: a plain queue, nothing sent. */
static txq_err
start_sealed(txq_client *c,
             PGconn *pg,
             const char *queue,
             const void *const *bodies,
             const size_t *lens,
             size_t n,
             size_t batch,
             const txq_send_opts *opts,
             int *sealed)
{
    txq_err rc;

    *sealed = 0;
    if (c->keyring == NULL)
        return TXQ_OK;
    rc = txq__seal_send(c, pg, queue, bodies, lens, n, opts, 1, NULL, sealed);
    if (rc == TXQ_OK && *sealed) {
        c->pending = 1 + (int)TXQ__Q_SEND_SEALED;
        c->pending_pg = pg;
        c->pending_n = batch;
    }
    return rc;
}

/* Sends q on pg and remembers it as pending. */
static txq_err
start(txq_client *c,
      PGconn *pg,
      enum txq__q q,
      const struct txq__params *p,
      int binary)
{
    txq_err rc = txq__send_query(c, pg, q, p, binary);

    if (rc == TXQ_OK) {
        c->pending = 1 + (int)q;
        c->pending_pg = pg;
    }
    return rc;
}

/*
 * The finish's part every kind shares: something of this kind pending on
 * this pg (else nothing is read), then its answer. A refused direct
 * statement switches c to the plpgsql function for later starts.
 * Returns TXQ_OK with *res (the caller clears it), or the error; either
 * way nothing is pending after a read.
 */
static txq_err
finish(txq_client *c, PGconn *pg, const char *kind, PGresult **res)
{
    enum txq__q q;
    txq_err rc;

    txq__clear_error(c);
    if (c->pending == 0)
        return txq__set_error(c, TXQ_ESTATE,
                              "no txq_%s_start is waiting for this "
                              "txq_%s_finish",
                              kind, kind);
    if (strcmp(txq__pending_kind(c), kind) != 0)
        return txq__set_error(c, TXQ_ESTATE,
                              "txq_%s_finish called after txq_%s_start: "
                              "finish with txq_%s_finish",
                              kind, txq__pending_kind(c), txq__pending_kind(c));
    if (pg == NULL || pg != c->pending_pg)
        return txq__set_error(
            c, TXQ_EINVAL, "pg is not the connection txq_%s_start used", kind);
    q = (enum txq__q)(c->pending - 1);
    c->pending = 0;
    c->pending_pg = NULL;
    rc = txq__collect(c, pg, res);
    (void)txq__direct_refused(c, q, rc);
    return rc;
}

txq_err
txq_send_start(txq_client *c,
               PGconn *pg,
               const char *queue,
               const void *body,
               size_t len,
               const txq_send_opts *opts)
{
    struct txq__params p;
    txq_send_opts o;
    int sealed;
    txq_err rc;

    if (c == NULL)
        return TXQ_EINVAL;
    if ((rc = txq__enter(c, pg)) || (rc = check_idle(c, pg)) ||
        (rc = txq__send_check(c, pg, queue, body, len, opts, &o)) ||
        (rc = start_sealed(c, pg, queue, &body, &len, 1, 0, &o, &sealed)) ||
        sealed)
        return rc;
    txq__send_params(&p, queue, body, len, &o);
    return start(c, pg, txq__send_q(c), &p, 0);
}

txq_err
txq_send_finish(txq_client *c, PGconn *pg, int64_t *out_id)
{
    PGresult *r = NULL;
    int64_t id;
    txq_err rc;

    if (c == NULL)
        return TXQ_EINVAL;
    if ((rc = finish(c, pg, "send", &r)))
        return rc;
    if (PQntuples(r) != 1 || PQnfields(r) != 1 || PQgetisnull(r, 0, 0) ||
        !txq__parse_int64(PQgetvalue(r, 0, 0), &id)) {
        rc = txq__set_error(c, TXQ_EDB,
                            "unexpected result: %d rows of %d "
                            "columns, not a message id",
                            PQntuples(r), PQnfields(r));
    } else if (out_id != NULL) {
        *out_id = id;
    }
    PQclear(r);
    return rc;
}

txq_err
txq_send_batch_start(txq_client *c,
                     PGconn *pg,
                     const char *queue,
                     const void *const *bodies,
                     const size_t *lens,
                     size_t n,
                     const txq_send_opts *opts)
{
    struct txq__params p;
    unsigned char *array;
    txq_send_opts o;
    size_t total;
    int sealed;
    txq_err rc;

    if (c == NULL)
        return TXQ_EINVAL;
    if ((rc = txq__enter(c, pg)) || (rc = check_idle(c, pg)) ||
        (rc = txq__send_batch_check(c, pg, queue, bodies, lens, n, opts, &o,
                                    &total)) ||
        (rc = start_sealed(c, pg, queue, bodies, lens, n, n, &o, &sealed)) ||
        sealed)
        return rc;
    array = txq__send_batch_params(c, &p, queue, bodies, lens, n, total, &o);
    if (array == NULL)
        return TXQ_ENOMEM;
    /* libpq copies the parameters into its output buffer as it sends. */
    rc = start(c, pg, txq__send_batch_q(c), &p, 0);
    free(array);
    if (rc == TXQ_OK)
        c->pending_n = n;
    return rc;
}

txq_err
txq_send_batch_finish(txq_client *c, PGconn *pg, int64_t *out_ids)
{
    PGresult *r = NULL;
    txq_err rc;

    if (c == NULL)
        return TXQ_EINVAL;
    if ((rc = finish(c, pg, "send_batch", &r)))
        return rc;
    rc = txq__batch_ids(c, r, c->pending_n, out_ids);
    PQclear(r);
    return rc;
}

txq_err
txq_pop_start(txq_client *c, PGconn *pg, const char *queue, size_t max)
{
    struct txq__params p;
    txq_err rc;

    if (c == NULL)
        return TXQ_EINVAL;
    if ((rc = txq__enter(c, pg)) || (rc = check_idle(c, pg)) ||
        (rc = txq__pop_check(c, pg, queue, max)))
        return rc;
    txq__params_init(&p);
    txq__param_text(&p, queue);
    txq__param_int64(&p, (int64_t)max);
    return start(c, pg, txq__pop_q(c), &p, 1);
}

txq_err
txq_pop_finish(txq_client *c, PGconn *pg, txq_msg ***out, size_t *n)
{
    PGresult *r = NULL;
    txq_err rc;

    if (out != NULL)
        *out = NULL;
    if (n != NULL)
        *n = 0;
    if (c == NULL)
        return TXQ_EINVAL;
    /* Before the finish's own checks, so that the pending pop can still
     * be finished with proper arguments. */
    if (out == NULL || n == NULL) {
        txq__clear_error(c);
        return txq__set_error(c, TXQ_EINVAL, "%s is NULL",
                              out == NULL ? "out" : "n");
    }
    if ((rc = finish(c, pg, "pop", &r)))
        return rc;
    rc = txq__msgs_from_result(c, r, out, n);
    PQclear(r);
    return rc;
}
