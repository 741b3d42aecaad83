/*
 * test_handlers.c - so: handlers for the worker tests (tests/test_worker*.c),
 * built as tests/txq_test_handlers.so. The business table is
 * $WT_SCHEMA.biz (msg bigint, body text), WT_SCHEMA set by the test in the
 * worker's environment. txq-worker passes each handler its txq_client as
 * arg (th_reply uses it for txq_reply).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "txq.h"

txq_handler_result
th_ok(PGconn *pg, const txq_msg *m, void *arg, char *err, size_t errsize);
txq_handler_result
th_perm(PGconn *pg, const txq_msg *m, void *arg, char *err, size_t errsize);
txq_handler_result
th_abort(PGconn *pg, const txq_msg *m, void *arg, char *err, size_t errsize);
txq_handler_result
th_reply(PGconn *pg, const txq_msg *m, void *arg, char *err, size_t errsize);
txq_handler_result
th_poison(PGconn *pg, const txq_msg *m, void *arg, char *err, size_t errsize);

txq_handler_result
th_ok(PGconn *pg, const txq_msg *m, void *arg, char *err, size_t errsize)
{
    const char *schema = getenv("WT_SCHEMA");
    char sql[256], id[32];
    const char *vals[2];
    PGresult *r;
    txq_handler_result res = TXQ_HANDLER_OK;

    (void)arg;
    snprintf(sql, sizeof sql, "insert into \"%s\".biz values ($1, $2)",
             schema != NULL ? schema : "public");
    snprintf(id, sizeof id, "%lld", (long long)txq_msg_id(m));
    vals[0] = id;
    vals[1] = txq_msg_body(m, NULL);
    r = PQexecParams(pg, sql, 2, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        snprintf(err, errsize, "insert: %s", PQresultErrorMessage(r));
        res = TXQ_HANDLER_RETRY;
    }
    PQclear(r);
    return res;
}

txq_handler_result
th_perm(PGconn *pg, const txq_msg *m, void *arg, char *err, size_t errsize)
{
    (void)pg;
    (void)m;
    (void)arg;
    snprintf(err, errsize, "so says no");
    return TXQ_HANDLER_PERMANENT;
}

txq_handler_result
th_abort(PGconn *pg, const txq_msg *m, void *arg, char *err, size_t errsize)
{
    (void)pg;
    (void)m;
    (void)arg;
    (void)err;
    (void)errsize;
    abort();
}

/* th_poison - crashes its process on a body of "poison", else th_ok. */
txq_handler_result
th_poison(PGconn *pg, const txq_msg *m, void *arg, char *err, size_t errsize)
{
    if (strcmp(txq_msg_body(m, NULL), "poison") == 0)
        abort();
    return th_ok(pg, m, arg, err, errsize);
}

/*
 * th_reply - th_ok's write, then for a request the reply "so:" + body,
 * both in the consume transaction. A body of "fail-once" fails its
 * first attempt after replying: the write and the reply roll back.
 */
txq_handler_result
th_reply(PGconn *pg, const txq_msg *m, void *arg, char *err, size_t errsize)
{
    txq_client *c = arg;
    size_t len = 0;
    const char *body = txq_msg_body(m, &len);
    char out[256];
    int n;
    txq_err rc;
    txq_handler_result res = th_ok(pg, m, NULL, err, errsize);

    if (res != TXQ_HANDLER_OK || txq_msg_reply_to(m) == NULL)
        return res;
    n = snprintf(out, sizeof out, "so:%.*s", (int)len, body);
    if (n < 0 || (size_t)n >= sizeof out)
        n = (int)strlen(out);
    rc = txq_reply(c, pg, m, out, (size_t)n, "{\"kind\": \"so\"}", NULL);
    if (rc != TXQ_OK) {
        snprintf(err, errsize, "reply: %s", txq_errmsg(c));
        return TXQ_HANDLER_RETRY;
    }
    if (strcmp(body, "fail-once") == 0 && txq_msg_attempt(m) == 1) {
        snprintf(err, errsize, "failing after the reply");
        return TXQ_HANDLER_RETRY;
    }
    return TXQ_HANDLER_OK;
}
