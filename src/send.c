/*
 * send.c - txq_send and txq_send_batch: enqueue in the caller's
 * transaction. Bodies travel as binary parameters (a bytea, or a bytea[]
 * built here), so any bytes pass unchanged and are never hex-doubled.
 */
#include <stdlib.h>
#include <string.h>

#include "txq_int.h"

#define OID_BYTEA       17
#define OID_BYTEA_ARRAY 1001

/* The largest max_body_bytes a queue may have. */
#define MAX_BODY 268435456u
/* PostgreSQL's limit for one value (MaxAllocSize), less some slack. */
#define MAX_DATUM 0x3FFFFF00u
#define DAY       86400.0

/* The insert itself when this connection's role may (SEND_DIRECT in
 * sql_text.h), else the send() call. */
#define SEND_DIRECT(c) ((c)->cur != NULL && (c)->cur->send_direct)
#define SEND_Q(c)      (SEND_DIRECT(c) ? TXQ__Q_SEND_DIRECT : TXQ__Q_SEND)
#define SEND_BATCH_Q(c) \
    (SEND_DIRECT(c) ? TXQ__Q_SEND_BATCH_DIRECT : TXQ__Q_SEND_BATCH)

txq_err
txq__check_send_opts(txq_client *c, const txq_send_opts *opts, txq_send_opts *o)
{
    txq_err rc;

    if ((rc = TXQ__OPTS_LOAD(c, txq_send_opts, opts, o)) ||
        (rc = txq__opts_check_set(c, "txq_send_opts", o->set,
                                  TXQ__SEND_SET_ALL)) ||
        (rc = txq__check_text(c, "headers_json", o->headers_json, 1)) ||
        (rc = txq__check_secs(c, "delay", o->delay, 0, 365 * DAY)) ||
        (rc = txq__check_text(c, "group", o->group, 0)) ||
        (rc = txq__check_text(c, "dedup_id", o->dedup_id, 0)) ||
        (rc = txq__check_text(c, "correlation_id", o->correlation_id, 0)))
        return rc;
    if (o->priority < -32768 || o->priority > 32767)
        return txq__set_error(c, TXQ_EINVAL,
                              "priority must be between -32768 and 32767 "
                              "(got %d)",
                              o->priority);
    if (o->reply_to != NULL)
        return txq__check_queue_name(c, "reply_to queue name", o->reply_to);
    return TXQ_OK;
}

void
txq__send_opts_params(struct txq__params *p, const txq_send_opts *o)
{
    static const txq_send_opts none;

    if (o == NULL)
        o = &none;
    txq__param_text(p, o->headers_json);
    if (TXQ__GIVEN(o, delay, TXQ_SEND_SET_DELAY))
        txq__param_secs(p, o->delay, 0);
    else
        txq__param_text(p, NULL);
    if (o->priority != 0)
        txq__param_int64(p, o->priority);
    else
        txq__param_text(p, NULL);
    txq__param_text(p, o->group);
    txq__param_text(p, o->dedup_id);
    txq__param_text(p, o->correlation_id);
    txq__param_text(p, o->reply_to);
}

enum txq__q
txq__send_q(const txq_client *c)
{
    return SEND_Q(c);
}

int
txq__direct_refused(txq_client *c, enum txq__q q, txq_err rc)
{
    /* txq's own refusals (a grant the role lacks: send() raised it after
     * the direct statement stepped aside) say "permission denied: role";
     * PostgreSQL's (a privilege or a policy of the table) never do. */
    if (rc == TXQ_OK || strcmp(c->sqlstate, "42501") != 0 ||
        strstr(c->errmsg, "permission denied: role \"") != NULL)
        return 0;
    if ((q == TXQ__Q_SEND_DIRECT || q == TXQ__Q_SEND_BATCH_DIRECT) &&
        SEND_DIRECT(c)) {
        c->cur->send_direct = 0;
        return 1;
    }
    if (q == TXQ__Q_POP_DIRECT && c->cur != NULL && c->cur->pop_direct) {
        c->cur->pop_direct = 0;
        return 1;
    }
    return 0;
}

txq_err
txq__check_body(txq_client *c, const void *body, size_t len)
{
    if (body == NULL && len > 0)
        return txq__set_error(c, TXQ_EINVAL, "body is NULL but len is %zu",
                              len);
    if (len > MAX_BODY)
        return txq__set_error(c, TXQ_ETOOBIG,
                              "body of %zu bytes exceeds the largest "
                              "max_body_bytes (%u)",
                              len, MAX_BODY);
    return TXQ_OK;
}

txq_err
txq__send_check(txq_client *c,
                PGconn *pg,
                const char *queue,
                const void *body,
                size_t len,
                const txq_send_opts *opts,
                txq_send_opts *o)
{
    txq_err rc;

    if ((rc = txq__enter(c, pg)) ||
        (rc = txq__check_queue_name(c, "queue name", queue)) ||
        (rc = txq__check_body(c, body, len)) ||
        (rc = txq__check_send_opts(c, opts, o)))
        return rc;
    return txq__ensure_schema(c, pg, 0);
}

void
txq__send_params(struct txq__params *p,
                 const char *queue,
                 const void *body,
                 size_t len,
                 const txq_send_opts *opts)
{
    txq__params_init(p);
    txq__param_text(p, queue);
    txq__param_binary(p, body, len, OID_BYTEA);
    txq__send_opts_params(p, opts);
}

txq_err
txq_send(txq_client *c,
         PGconn *pg,
         const char *queue,
         const void *body,
         size_t len,
         const txq_send_opts *opts,
         int64_t *out_id)
{
    struct txq__params p;
    PGTransactionStatusType ts;
    txq_send_opts o;
    enum txq__q q;
    char buf[32];
    int64_t id;
    txq_err rc;

    if (c == NULL)
        return TXQ_EINVAL;
    if ((rc = txq__send_check(c, pg, queue, body, len, opts, &o)))
        return rc;
    opts = &o;
    if (c->keyring != NULL) {
        int sealed;

        rc =
            txq__seal_send(c, pg, queue, &body, &len, 1, opts, 0, &id, &sealed);
        if (rc == TXQ_OK && sealed && out_id != NULL)
            *out_id = id;
        if (rc != TXQ_OK || sealed)
            return rc;
    }
    txq__send_params(&p, queue, body, len, opts);
    ts = PQtransactionStatus(pg);
    q = SEND_Q(c);
    rc = txq__query_scalar(c, pg, q, &p, buf, sizeof buf, NULL);
    /* Refused and the connection was idle before (autocommit): nothing of
     * the caller's was lost, so send() at once. */
    if (txq__direct_refused(c, q, rc) && ts == PQTRANS_IDLE)
        rc = txq__query_scalar(c, pg, TXQ__Q_SEND, &p, buf, sizeof buf, NULL);
    if (rc != TXQ_OK)
        return rc;
    if (!txq__parse_int64(buf, &id))
        return txq__set_error(c, TXQ_EDB, "unexpected message id \"%s\"", buf);
    if (out_id != NULL)
        *out_id = id;
    return TXQ_OK;
}

void
txq__put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

void
txq__bytea_array_header(unsigned char *p, size_t n)
{
    txq__put_be32(p, 1);
    txq__put_be32(p + 4, 0);
    txq__put_be32(p + 8, OID_BYTEA);
    txq__put_be32(p + 12, (uint32_t)n);
    txq__put_be32(p + 16, 1);
}

/* The bytea[] of the batch in PostgreSQL's binary array format: ndim,
 * has-nulls flag, element type, then length and lower bound of the one
 * dimension, then each element as length + bytes. */
static unsigned char *
build_array(const void *const *bodies,
            const size_t *lens,
            size_t n,
            size_t total)
{
    unsigned char *buf = malloc(total);
    unsigned char *p = buf;

    if (buf == NULL)
        return NULL;
    txq__bytea_array_header(p, n);
    p += 20;
    for (size_t i = 0; i < n; i++) {
        txq__put_be32(p, (uint32_t)lens[i]);
        if (lens[i] > 0)
            memcpy(p + 4, bodies[i], lens[i]);
        p += 4 + lens[i];
    }
    return buf;
}

txq_err
txq__send_batch_check(txq_client *c,
                      PGconn *pg,
                      const char *queue,
                      const void *const *bodies,
                      const size_t *lens,
                      size_t n,
                      const txq_send_opts *opts,
                      txq_send_opts *o,
                      size_t *total)
{
    txq_err rc;

    *total = 20;
    if ((rc = txq__enter(c, pg)) ||
        (rc = txq__check_queue_name(c, "queue name", queue)))
        return rc;
    if (n == 0)
        return txq__set_error(c, TXQ_EINVAL, "n must be at least 1");
    if (bodies == NULL || lens == NULL)
        return txq__set_error(c, TXQ_EINVAL, "%s is NULL",
                              bodies == NULL ? "bodies" : "lens");
    for (size_t i = 0; i < n; i++) {
        if (bodies[i] == NULL && lens[i] > 0)
            return txq__set_error(c, TXQ_EINVAL,
                                  "body %zu of the batch is NULL but its "
                                  "length is %zu",
                                  i + 1, lens[i]);
        if (lens[i] > MAX_BODY)
            return txq__set_error(c, TXQ_ETOOBIG,
                                  "body %zu of the batch: %zu bytes exceeds "
                                  "the largest max_body_bytes (%u)",
                                  i + 1, lens[i], MAX_BODY);
        *total += 4 + lens[i];
        if (*total > MAX_DATUM)
            return txq__set_error(c, TXQ_ETOOBIG,
                                  "batch too large: more than %u bytes in "
                                  "one statement; send it in parts",
                                  MAX_DATUM);
    }
    if ((rc = txq__check_send_opts(c, opts, o)))
        return rc;
    return txq__ensure_schema(c, pg, 0);
}

unsigned char *
txq__send_batch_params(txq_client *c,
                       struct txq__params *p,
                       const char *queue,
                       const void *const *bodies,
                       const size_t *lens,
                       size_t n,
                       size_t total,
                       const txq_send_opts *opts)
{
    unsigned char *array = build_array(bodies, lens, n, total);

    if (array == NULL) {
        txq__set_error(c, TXQ_ENOMEM, "out of memory for a batch of %zu bytes",
                       total);
        return NULL;
    }
    txq__params_init(p);
    txq__param_text(p, queue);
    txq__param_binary(p, array, total, OID_BYTEA_ARRAY);
    txq__send_opts_params(p, opts);
    txq__param_int64(p, (int64_t)n);
    return array;
}

enum txq__q
txq__send_batch_q(const txq_client *c)
{
    return SEND_BATCH_Q(c);
}

txq_err
txq__batch_ids(txq_client *c, const PGresult *r, size_t n, int64_t *out_ids)
{
    if ((size_t)PQntuples(r) != n || PQnfields(r) != 1)
        return txq__set_error(c, TXQ_EDB,
                              "send_batch returned %d ids for %zu messages",
                              PQntuples(r), n);
    for (size_t i = 0; i < n; i++) {
        int64_t id;

        if (!txq__parse_int64(PQgetvalue(r, (int)i, 0), &id))
            return txq__set_error(c, TXQ_EDB, "unexpected message id");
        if (out_ids != NULL)
            out_ids[i] = id;
    }
    return TXQ_OK;
}

txq_err
txq_send_batch(txq_client *c,
               PGconn *pg,
               const char *queue,
               const void *const *bodies,
               const size_t *lens,
               size_t n,
               const txq_send_opts *opts,
               int64_t *out_ids)
{
    struct txq__params p;
    PGTransactionStatusType ts;
    enum txq__q q;
    PGresult *r = NULL;
    unsigned char *array;
    txq_send_opts o;
    size_t total;
    txq_err rc;

    if (c == NULL)
        return TXQ_EINVAL;
    if ((rc = txq__send_batch_check(c, pg, queue, bodies, lens, n, opts, &o,
                                    &total)))
        return rc;
    opts = &o;
    if (c->keyring != NULL) {
        int sealed;

        rc = txq__seal_send(c, pg, queue, bodies, lens, n, opts, 0, out_ids,
                            &sealed);
        if (rc != TXQ_OK || sealed)
            return rc;
    }
    array = txq__send_batch_params(c, &p, queue, bodies, lens, n, total, opts);
    if (array == NULL)
        return TXQ_ENOMEM;
    ts = PQtransactionStatus(pg);
    q = SEND_BATCH_Q(c);
    rc = txq__query(c, pg, q, &p, 0, &r);
    if (txq__direct_refused(c, q, rc) && ts == PQTRANS_IDLE)
        rc = txq__query(c, pg, TXQ__Q_SEND_BATCH, &p, 0, &r);
    if (rc == TXQ_OK)
        rc = txq__batch_ids(c, r, n, out_ids);
    PQclear(r);
    free(array);
    return rc;
}
