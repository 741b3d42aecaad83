/*
 * dead.c - dead letters in the caller's transaction: reading one
 * (txq_dead_letter, its body opened when its queue is encrypted) and
 * resolving them: txq_requeue, txq_requeue_all and txq_discard.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "txq_int.h"

txq_err
txq_requeue(txq_client *c, PGconn *pg, int64_t id)
{
    struct txq__params p;
    char buf[32];
    txq_err rc;

    if (c == NULL)
        return TXQ_EINVAL;
    if ((rc = txq__enter(c, pg)) || (rc = txq__ensure_schema(c, pg, 0)))
        return rc;
    txq__params_init(&p);
    txq__param_int64(&p, id);
    return txq__query_scalar(c, pg, TXQ__Q_REQUEUE, &p, buf, sizeof buf, NULL);
}

txq_err
txq_requeue_all(txq_client *c, PGconn *pg, const char *queue, int64_t *count)
{
    struct txq__params p;
    char buf[32];
    int64_t n = 0;
    txq_err rc;

    if (count != NULL)
        *count = 0;
    if (c == NULL)
        return TXQ_EINVAL;
    if ((rc = txq__enter(c, pg)) ||
        (rc = txq__check_queue_name(c, "queue name", queue)) ||
        (rc = txq__ensure_schema(c, pg, 0)))
        return rc;
    txq__params_init(&p);
    txq__param_text(&p, queue);
    rc =
        txq__query_scalar(c, pg, TXQ__Q_REQUEUE_ALL, &p, buf, sizeof buf, NULL);
    if (rc != TXQ_OK)
        return rc;
    if (!txq__parse_int64(buf, &n))
        return txq__set_error(c, TXQ_EDB, "unexpected count \"%s\"", buf);
    if (count != NULL)
        *count = n;
    return TXQ_OK;
}

/* Whether s holds only blanks. */
static int
blank(const char *s)
{
    return s[strspn(s, " \t\r\n")] == '\0';
}

txq_err
txq_discard(txq_client *c, PGconn *pg, int64_t id, const char *reason)
{
    struct txq__params p;
    char buf[16];
    txq_err rc;

    if (c == NULL)
        return TXQ_EINVAL;
    if ((rc = txq__enter(c, pg)))
        return rc;
    if (reason == NULL || blank(reason))
        return txq__set_error(c, TXQ_EINVAL,
                              "a reason is required to discard a dead "
                              "letter");
    if ((rc = txq__check_text(c, "reason", reason, 1)) ||
        (rc = txq__ensure_schema(c, pg, 0)))
        return rc;
    txq__params_init(&p);
    txq__param_int64(&p, id);
    txq__param_text(&p, reason);
    return txq__query_scalar(c, pg, TXQ__Q_DISCARD, &p, buf, sizeof buf, NULL);
}

txq_err
txq_dead_letter(txq_client *c, PGconn *pg, int64_t id, txq_msg **out)
{
    struct txq__params p;
    PGresult *r = NULL;
    txq_msg **msgs = NULL;
    size_t n = 0;
    txq_err rc;

    if (out != NULL)
        *out = NULL;
    if (c == NULL)
        return TXQ_EINVAL;
    if ((rc = txq__enter(c, pg)) || (rc = txq__ensure_schema(c, pg, 0)))
        return rc;
    if (out == NULL)
        return txq__set_error(c, TXQ_EINVAL, "out is NULL");
    txq__params_init(&p);
    txq__param_int64(&p, id);
    if ((rc = txq__query(c, pg, TXQ__Q_DEAD_LETTER, &p, 1, &r)) != TXQ_OK)
        return rc;
    rc = txq__msgs_from_result(c, r, &msgs, &n);
    PQclear(r);
    if (rc == TXQ_EMPTY)
        return txq__set_error(c, TXQ_ENOTFOUND,
                              "dead letter %" PRId64 " not found", id);
    if (rc == TXQ_OK || rc == TXQ_EDECRYPT) {
        *out = msgs[0];
        free(msgs);
    }
    return rc;
}
