/*
 * ack.c - finishing a delivered message in the caller's transaction:
 * txq_ack, txq_ack_batch, txq_fail and txq_set_visibility. Each is fenced
 * by the attempt the message was received with, so a holder whose claim
 * lapsed cannot touch the newer attempt.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "txq_int.h"

#define DAY    86400.0
#define MAX_VT 43200.0 /* 12 hours */

/* "{a,b,c}" of the ids (attempts == 0) or attempts of msgs. */
static char *
array_literal(const txq_msg *const *msgs, size_t n, int attempts)
{
    size_t size = n * 22 + 3;
    char *buf = malloc(size);
    size_t len = 0;

    if (buf == NULL)
        return NULL;
    buf[len++] = '{';
    for (size_t i = 0; i < n; i++) {
        int k = attempts ? snprintf(buf + len, size - len, "%s%d",
                                    i > 0 ? "," : "", msgs[i]->attempts)
                         : snprintf(buf + len, size - len, "%s%" PRId64,
                                    i > 0 ? "," : "", msgs[i]->id);
        len += (size_t)k;
    }
    buf[len++] = '}';
    buf[len] = '\0';
    return buf;
}

/* txq_ack_batch with its checks made on msgs already. */
static txq_err
ack_many(txq_client *c,
         PGconn *pg,
         const txq_msg *const *msgs,
         size_t n,
         size_t *acked)
{
    struct txq__params p;
    char *ids = NULL, *attempts = NULL;
    char buf[32];
    int64_t count = 0;
    txq_err rc;

    ids = array_literal(msgs, n, 0);
    attempts = array_literal(msgs, n, 1);
    if (ids == NULL || attempts == NULL) {
        rc = txq__set_error(c, TXQ_ENOMEM, "out of memory");
        goto out;
    }
    txq__params_init(&p);
    txq__param_text(&p, ids);
    txq__param_text(&p, attempts);
    rc = txq__query_scalar(c, pg, TXQ__Q_ACK, &p, buf, sizeof buf, NULL);
    if (rc != TXQ_OK)
        goto out;
    if (!txq__parse_int64(buf, &count) || count < 0 || (size_t)count > n) {
        rc = txq__set_error(c, TXQ_EDB, "unexpected ack count \"%s\"", buf);
        goto out;
    }
    if (acked != NULL)
        *acked = (size_t)count;
    if ((size_t)count < n)
        rc = txq__set_error(c, TXQ_ESTATE,
                            "%zu of %zu messages were not held by their "
                            "attempt (already acked, failed, or claimed "
                            "again)",
                            n - (size_t)count, n);
out:
    free(ids);
    free(attempts);
    return rc;
}

txq_err
txq_ack_batch(
    txq_client *c, PGconn *pg, txq_msg *const *msgs, size_t n, size_t *acked)
{
    txq_err rc;

    if (acked != NULL)
        *acked = 0;
    if (c == NULL)
        return TXQ_EINVAL;
    if ((rc = txq__enter(c, pg)))
        return rc;
    if (n == 0)
        return txq__set_error(c, TXQ_EINVAL, "n must be at least 1");
    if (msgs == NULL)
        return txq__set_error(c, TXQ_EINVAL, "msgs is NULL");
    for (size_t i = 0; i < n; i++) {
        if (msgs[i] == NULL)
            return txq__set_error(c, TXQ_EINVAL, "message %zu is NULL", i + 1);
    }
    if ((rc = txq__ensure_schema(c, pg, 0)))
        return rc;
    return ack_many(c, pg, (const txq_msg *const *)msgs, n, acked);
}

txq_err
txq_ack(txq_client *c, PGconn *pg, const txq_msg *m)
{
    txq_err rc;

    if (c == NULL)
        return TXQ_EINVAL;
    if ((rc = txq__enter(c, pg)))
        return rc;
    if (m == NULL)
        return txq__set_error(c, TXQ_EINVAL, "message is NULL");
    if ((rc = txq__ensure_schema(c, pg, 0)))
        return rc;
    return ack_many(c, pg, &m, 1, NULL);
}

txq_err
txq_fail(txq_client *c,
         PGconn *pg,
         const txq_msg *m,
         const char *error,
         const txq_fail_opts *opts,
         txq_outcome *outcome)
{
    static const struct {
        const char *text;
        txq_outcome outcome;
    } outcomes[] = {
        {"retry", TXQ_OUTCOME_RETRY},       {"dead", TXQ_OUTCOME_DEAD},
        {"notified", TXQ_OUTCOME_NOTIFIED}, {"ignored", TXQ_OUTCOME_IGNORED},
        {"moved", TXQ_OUTCOME_MOVED},
    };
    struct txq__params p;
    txq_fail_opts o;
    char buf[32];
    txq_err rc;

    if (c == NULL)
        return TXQ_EINVAL;
    if ((rc = txq__enter(c, pg)) ||
        (rc = TXQ__OPTS_LOAD(c, txq_fail_opts, opts, &o)) ||
        (rc =
             txq__opts_check_set(c, "txq_fail_opts", o.set, TXQ__FAIL_SET_ALL)))
        return rc;
    if (m == NULL)
        return txq__set_error(c, TXQ_EINVAL, "message is NULL");
    if ((rc = txq__check_text(c, "error", error, 1)) ||
        (rc = txq__check_secs(c, "retry_after", o.retry_after, 0, 365 * DAY)))
        return rc;
    if ((rc = txq__ensure_schema(c, pg, 0)))
        return rc;

    txq__params_init(&p);
    txq__param_int64(&p, m->id);
    txq__param_text(&p, error);
    txq__param_int64(&p, m->attempts);
    txq__param_bool(&p, o.permanent);
    if (TXQ__GIVEN(&o, retry_after, TXQ_FAIL_SET_RETRY_AFTER))
        txq__param_secs(&p, o.retry_after, 0);
    else
        txq__param_text(&p, NULL);
    rc = txq__query_scalar(c, pg, TXQ__Q_FAIL, &p, buf, sizeof buf, NULL);
    if (rc != TXQ_OK)
        return rc;
    for (size_t i = 0; i < sizeof outcomes / sizeof outcomes[0]; i++) {
        if (strcmp(buf, outcomes[i].text) == 0) {
            if (outcome != NULL)
                *outcome = outcomes[i].outcome;
            return TXQ_OK;
        }
    }
    return txq__set_error(c, TXQ_EDB, "unexpected fail outcome \"%s\"", buf);
}

txq_err
txq_set_visibility(txq_client *c, PGconn *pg, const txq_msg *m, double seconds)
{
    struct txq__params p;
    char buf[64];
    txq_err rc;

    if (c == NULL)
        return TXQ_EINVAL;
    if ((rc = txq__enter(c, pg)))
        return rc;
    if (m == NULL)
        return txq__set_error(c, TXQ_EINVAL, "message is NULL");
    if ((rc = txq__check_secs(c, "visibility timeout", seconds, 0, MAX_VT)) ||
        (rc = txq__ensure_schema(c, pg, 0)))
        return rc;

    txq__params_init(&p);
    txq__param_int64(&p, m->id);
    txq__param_secs(&p, seconds, 0);
    txq__param_int64(&p, m->attempts);
    return txq__query_scalar(c, pg, TXQ__Q_SET_VISIBILITY, &p, buf, sizeof buf,
                             NULL);
}
